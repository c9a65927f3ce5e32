"""`python -m server`: run the reference backend with uvicorn.

Environment: HOST (127.0.0.1), PORT (8000), DATA_DIR (./data), BIFOGA_MAX_BYTES,
BIFOGA_DEMO=1 (demo mode: prints a fresh visit's two links), BIFOGA_PUBLIC_ORIGIN.
"""

from __future__ import annotations

import copy
import os
import sys
from types import FrameType

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from server.api import create_visit_links
from server.app import create_app
from server.config import Settings
from server.live import VisitNotifier


class _Server(uvicorn.Server):
    """uvicorn's server, releasing held long polls as soon as a shutdown is asked for."""

    def __init__(self, config: uvicorn.Config, notifier: VisitNotifier) -> None:
        super().__init__(config)
        self.notifier = notifier

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.notifier.close()


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
    # Access logs to stderr, so stdout holds only the two links (scripts read them).
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config = uvicorn.Config(
        app,
        log_config=log_config,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        proxy_headers=False,
        server_header=False,
        # An upload still streaming after this is cut; its stored offset stays resumable.
        timeout_graceful_shutdown=5,
    )
    _Server(config, app.state.ctx.notifier).run()


if __name__ == "__main__":
    main()
