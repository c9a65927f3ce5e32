"""openapi.yaml describes exactly the routes the app has."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Match, Route

from server.app import create_app

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SAMPLE_PARAMS = {"path": "vendor/pyodide/pyodide.mjs", "module": "composer.py"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def routes(server_settings: Any) -> list[Route]:
    return [r for r in create_app(server_settings).routes if isinstance(r, Route)]


def spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in spec["paths"].items()
            for method in item if method in HTTP_METHODS}


def app_api_operations(routes: list[Route]) -> set[tuple[str, str]]:
    ops = set()
    for route in routes:
        if not route.path.startswith("/api"):
            continue
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")  # Starlette adds HEAD to every GET route by itself
        ops |= {(route.path, m) for m in methods}
    return ops


def test_spec_basics(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                assert op.get("responses"), (path, method)
                assert op.get("operationId"), (path, method)


def test_every_spec_operation_is_routed(spec: dict[str, Any], routes: list[Route]) -> None:
    for path, method in sorted(spec_operations(spec)):
        concrete = re.sub(r"\{([^}]+)\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "abc"), path)
        scope = {"type": "http", "path": concrete, "method": method, "root_path": ""}
        matched = [r for r in routes if r.matches(scope)[0] == Match.FULL]
        assert matched, f"{method} {path} is in openapi.yaml but not routed"
        if path.startswith("/api"):
            assert matched[0].path == path, (method, path, matched[0].path)


def test_every_api_route_is_in_spec(spec: dict[str, Any], routes: list[Route]) -> None:
    spec_api = {(p, m) for p, m in spec_operations(spec) if p.startswith("/api")}
    assert app_api_operations(routes) == spec_api


def test_refs_resolve(spec: dict[str, Any]) -> None:
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    target: Any = spec
                    for part in value.removeprefix("#/").split("/"):
                        target = target[part]
                    assert target, value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)
        yield None

    list(walk(spec))


def test_undeclared_methods_are_405_with_allow(spec: dict[str, Any],
                                               server_client: Any) -> None:
    """Every /api path answers a method openapi.yaml does not declare for it with 405 and an
    Allow header naming exactly the declared ones (HEAD comes with GET)."""
    for path, item in spec["paths"].items():
        if not path.startswith("/api"):
            continue
        declared = {m.upper() for m in item if m in HTTP_METHODS}
        if "GET" in declared:
            declared.add("HEAD")
        concrete = re.sub(r"\{([^}]+)\}", "abc", path)
        for method in sorted({"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"} - declared):
            r = server_client.request(method, concrete)
            assert r.status_code == 405, (method, path, r.status_code)
            assert r.json()["error"] == "method_not_allowed"
            assert set(r.headers["allow"].split(", ")) == declared, (method, path)


def test_unknown_api_path_is_404(server_client: Any) -> None:
    # Not the app files' catch-all: nothing under /api is ever an app file.
    for path in ("/api", "/api/nothing", "/api/visits/abc/nothing"):
        r = server_client.get(path)
        assert (r.status_code, r.json()["error"]) == (404, "not_found"), path


def schema_pattern(spec: dict[str, Any], *keys: str) -> re.Pattern[str]:
    node: Any = spec
    for key in keys:
        node = node[key] if isinstance(node, dict) else next(
            p for p in node if p.get("name") == key)
    return re.compile(node["pattern"])


def test_text_pattern_is_what_the_cleaning_keeps(spec: dict[str, Any]) -> None:
    """A message text matches openapi.yaml's pattern exactly when the server's cleaning leaves
    something of it (else 400), character by character: all of them below U+3100 (the last
    whitespace or control character is U+3000) and a sample above."""
    from server.names import clean_message_text

    pattern = schema_pattern(spec, "components", "schemas", "TextMessageRequest",
                             "properties", "text")
    for code in [*range(0x3100), *range(0x3100, 0x110000, 101)]:
        if 0xD800 <= code <= 0xDFFF:
            continue  # not characters: JSON text does not decode to lone surrogates
        ch = chr(code)
        assert bool(pattern.search(ch)) == bool(clean_message_text(ch)), hex(code)
    assert max(c for c in range(0x110000)
               if chr(c).isspace() or unicodedata.category(chr(c)) == "Cc") < 0x3100


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("filename YS5wZGY=", True),
        ("filename", True),
        ("filename YS5wZGY=,filetype YXBwbGljYXRpb24vcGRm", True),
        (" filetype YXBwbGljYXRpb24vcGRm ,\tfilename YQ== , x", True),
        ("filename YQ==,filename Yg==", True),
        ("filename //79", True),
        ("filename ", True),
        ("", False),
        ("filetype YXBwbGljYXRpb24vcGRm", False),
        ("filename YQ", False),
        ("filename  YQ==", False),
        ("filename\tYQ==", False),
        ("filename YQ==,,x", False),
        ("filename a b", False),
        ("filename !!!!", False),
        ("x" * 65 + ",filename", False),
    ],
)
def test_upload_metadata_pattern_is_what_the_server_takes(spec: dict[str, Any], value: str,
                                                          ok: bool) -> None:
    from server.errors import BadRequest
    from server.tus import parse_metadata

    pattern = schema_pattern(spec, "paths", "/api/visits/{visit_id}/uploads", "post",
                             "parameters", "Upload-Metadata", "schema")
    assert bool(pattern.search(value)) == ok
    try:
        taken = "filename" in parse_metadata(value)
    except BadRequest:
        taken = False
    assert taken == ok
