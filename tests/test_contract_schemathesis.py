"""openapi.yaml is a contract another backend (and client) can trust: schemathesis checks it.

Schemathesis (pinned in requirements-dev.txt) runs every phase (examples, coverage, fuzzing,
stateful) and every check against the real app, in process over ASGI, with `{visit_id}` pinned
to a real visit and that visit's patient's or clinician's token, seeded and derandomized, 40
examples per operation. Any failed check, any 5xx and any error fails the test.

Test settings that are not the defaults, and why:
- rate limits stay on, with a bucket no run can empty: otherwise most answers would be 429 and
  the run would test the limiter, not the contract (tests/test_server_http.py tests it);
- long polls are capped at 0 s, so that a fuzzed `wait` never holds a request (the waiting
  itself is tested in tests/test_server_visits.py);
- the cap on unfinished uploads per visit is raised, so that creations keep reaching the checks
  behind it instead of all being 429 `too_many_uploads`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi
from starlette.exceptions import StarletteDeprecationWarning

from server.api import create_visit_links
from server.app import create_app

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
MAX_EXAMPLES = 40
SEED = 14
# Schemathesis' defaults for what a refused request may answer, plus, for the tus operations
# only, what tus 1.0.0 prescribes and openapi.yaml declares for them: 412 (with Tus-Version)
# for a missing or unsupported Tus-Resumable, 413 for an Upload-Length over Tus-Max-Size.
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
MISSING_HEADER_REFUSED = ["400", "401", "403", "406", "415", "422"]
TUS_REFUSED = [*REFUSED, "412", "413"]
TUS_MISSING_HEADER_REFUSED = [*MISSING_HEADER_REFUSED, "412"]

# PATCH bodies are raw bytes under tus' own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def contract_config(visit_id: str, token: str, attachment_id: str,
                    skip_tags: tuple[str, ...] = ()) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "workers": 1,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        "checks": {"enabled": True},
        "headers": {"Authorization": f"Bearer {token}"},
        "parameters": {"path.visit_id": visit_id, "path.attachment_id": attachment_id},
        "operations": [{
            "include-tag": "uploads",
            "checks": {
                "negative_data_rejection": {"expected-statuses": TUS_REFUSED},
                "missing_required_header": {"expected-statuses": TUS_MISSING_HEADER_REFUSED},
            },
        }, *({"include-tag": tag, "enabled": False} for tag in skip_tags)],
    })


def sent_values_match_spec(case: Any) -> bool:
    """Whether every path, query and header value of a case is valid for its parameter.

    Schemathesis 4.32's coverage phase can fill an optional header of a case it calls positive
    with a value the header's own pattern refuses (seen: `Upload-Checksum: 0` beside a
    near-boundary `Upload-Offset`). A server that refuses such a request keeps the contract."""
    sent = {"path": case.path_parameters, "query": case.query, "header": case.headers}
    for parameter in case.operation.iter_parameters():
        values = sent.get(parameter.location.value) or {}
        if parameter.name not in values:
            continue
        value = values[parameter.name]
        if (parameter.optimized_schema.get("type") == "integer" and isinstance(value, str)
                and value.isascii() and value.isdigit()):
            value = int(value)  # as the server reads it off the wire
        if not parameter.is_valid(value):
            return False
    return True


def contract_failures(app: Any, config: SchemathesisConfig) -> tuple[list[str], Counter[str]]:
    """Run schemathesis; return one line per distinct failure or error, and cases per phase
    (with "misgenerated": schema-invalid cases schemathesis called valid, not counted)."""
    schema = schemathesis.openapi.from_path(SPEC_PATH, config=config)
    schema.app = app  # requests go to the app in process (schemathesis' ASGI transport)
    problems: dict[tuple[str, str, str], str] = {}
    cases: Counter[str] = Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases[event.phase.value] += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    case = event.recorder.cases[case_id].value
                    if failure.code == "ST202" and not sent_values_match_spec(case):
                        cases["misgenerated"] += 1
                        continue
                    key = (failure.code, event.recorder.label, failure.title)
                    problems.setdefault(key, f"{failure.code} {event.recorder.label}: "
                                        f"{failure.title}: {failure.message.strip()}\n    "
                                        f"{check.failure_info.code_sample.strip()}")
        elif isinstance(event, events.NonFatalError):
            problems.setdefault(("error", event.label, type(event.value).__name__),
                                f"error {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            problems.setdefault(("fatal", "", ""), f"fatal: {event.exception!r}")
    return list(problems.values()), cases


@pytest.fixture
def contract_app(server_settings: Any) -> Iterator[Any]:
    settings = dataclasses.replace(
        server_settings, rate_limit_enabled=True, rate_limit_per_second=1_000_000.0,
        rate_limit_burst=1_000_000, failed_auth_per_visit_burst=1_000_000,
        long_poll_max_seconds=0, max_open_uploads_per_role=100_000)
    app = create_app(settings)
    yield app
    asgi.shutdown_lifespans()  # schemathesis started the app's lifespan; end it with the test


def add_attachment(app: Any, visit_id: str, token: str) -> str:
    """Send a small text file the way the SPA does (tus, then finalise); its attachment id."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/conftest.py
        from starlette.testclient import TestClient

    client = TestClient(app)
    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    data = b"Blodtryck 120/80\n"
    created = client.post(f"/api/visits/{visit_id}/uploads", headers={
        **auth, "Upload-Length": str(len(data)),
        "Upload-Metadata": "filename " + base64.b64encode(b"anteckning.txt").decode()})
    location = created.headers["location"]
    client.patch(location, content=data, headers={
        **auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    message = client.post(f"/api/visits/{visit_id}/attachments", headers=auth,
                          json={"upload_id": location.rsplit("/", 1)[1]})
    assert message.status_code == 201, message.text
    return str(message.json()["attachment"]["id"])


# The clinician's run covers what differs by role (ending, filing, the ZIP) and leaves the
# upload and message operations, which it would only repeat, to the patient's run.
ROLE_SKIPS = {"patient": (), "clinician": ("messages", "uploads", "app")}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", ["patient", "clinician"])
def test_server_keeps_the_contract(contract_app: Any, role: str) -> None:
    # A real visit, made as the demo makes one (the lifespan then makes no other), with a file.
    ctx = contract_app.state.ctx
    links = asyncio.run(create_visit_links(ctx.storage, ctx.settings))
    attachment_id = add_attachment(contract_app, links.visit_id, links.patient_token)
    token = links.patient_token if role == "patient" else links.clinician_token
    config = contract_config(links.visit_id, token, attachment_id, ROLE_SKIPS[role])
    problems, cases = contract_failures(contract_app, config)
    assert sum(cases.values()) > 200, cases  # the run did run
    assert not problems, f"{len(problems)} disagreements with openapi.yaml:\n" + "\n".join(
        problems)
