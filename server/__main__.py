"""`python -m server`: run the reference backend with uvicorn.

Environment: HOST (127.0.0.1), PORT (8000), DATA_DIR (./data), BIFOGA_MAX_BYTES,
BIFOGA_DEMO=1 (demo mode: prints a fresh visit's two links), BIFOGA_PUBLIC_ORIGIN.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from server.api import create_visit_links
from server.app import create_app
from server.config import Settings


def main() -> None:
    settings = Settings.from_env()
    app = create_app(settings)
    if settings.demo:
        # Tokens are stored hashed, so old links can't be shown again: make a new visit.
        links = create_visit_links(app.state.ctx.store, settings)
        print(f"Patient:    {links.patient_url}")
        print(f"Clinician:  {links.clinician_url}", flush=True)
    else:
        print("Demo mode is off (BIFOGA_DEMO=1 turns it on and prints visit links).",
              file=sys.stderr)
    uvicorn.run(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
