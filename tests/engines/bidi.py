"""A small WebDriver BiDi client: what the engine tests need of Firefox's built-in remote agent.

Firefox has no geckodriver here; `firefox --remote-debugging-port=N` serves WebDriver BiDi itself
at ws://127.0.0.1:N/session. One connection, commands answered in order of their ids; events
that arrive meanwhile go to the subscribed handlers. CPython only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect


class BiDiError(RuntimeError):
    pass


class BiDiSession:
    def __init__(self, url: str, timeout: float = 30) -> None:
        self.connection: ClientConnection = connect(url, max_size=None, open_timeout=timeout,
                                                   legacy=True)
        self.last_id = 0
        self.handlers: dict[str, list[Callable[[dict[str, Any]], None]]] = {}

    def command(self, method: str, params: dict[str, Any] | None = None,
                timeout: float = 120) -> dict[str, Any]:
        self.last_id += 1
        command_id = self.last_id
        self.connection.send(json.dumps({"id": command_id, "method": method,
                                         "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.1, deadline - time.monotonic())
            message = json.loads(self.connection.recv(timeout=left))
            if message.get("id") == command_id:
                if message.get("type") == "error":
                    raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]
            if message.get("type") == "event":
                for handler in self.handlers.get(message["method"], []):
                    handler(message["params"])

    def on(self, event: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.handlers.setdefault(event, []).append(handler)
        self.command("session.subscribe", {"events": [event]})

    def close(self) -> None:
        try:
            self.command("session.end", timeout=5)
        except Exception:  # the browser may be gone already; closing is best effort
            pass
        self.connection.close()


def to_python(value: dict[str, Any]) -> Any:
    """A BiDi RemoteValue as Python: primitives, arrays and plain objects (what the flows
    return); anything else (a node, a function) as its type name."""
    kind = value["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return value["value"]
    if kind == "number":
        number = value["value"]
        if isinstance(number, str):  # NaN, -0, Infinity
            return float(number.replace("-0", "-0.0")) if number != "NaN" else float("nan")
        return number
    if kind == "array":
        return [to_python(item) for item in value.get("value", [])]
    if kind == "object":
        return {key if isinstance(key, str) else to_python(key): to_python(item)
                for key, item in value.get("value", [])}
    return kind


def to_local(value: Any) -> dict[str, Any]:
    """A JSON-like Python value as a BiDi LocalValue (the arguments of script.callFunction)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [to_local(item) for item in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(k), to_local(v)] for k, v in value.items()]}
    raise TypeError(f"cannot pass {type(value).__name__} to the page")
