"""How Python values are stored in the host: app.state values and per-connection data.

Text that is not itself JSON is stored as it is, so Rust plugins that keep plain strings
(and read them back) share keys with Python plugins; everything else is JSON. A
connection (`WSClient`) is stored as ``{"$ws": <id>}`` and read back as a connection,
so seed 000's lists of clients in ``app.state`` work.
"""

import dataclasses
import json
import re
from types import SimpleNamespace

# The deepest nesting parsed. CPython's parser recurses in C, and inside the component
# its stack ran out between 1,000 and 2,000 levels (a trap, so a 500 and a replaced
# instance) before Python's recursion limit was reached.
MAX_JSON_DEPTH = 500
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class Namespace(dict):
    """A JSON object read from the host: a dict whose keys are also attributes, so both
    ``m["requests"]`` and seed 000's ``m.requests`` (a stored ``SimpleNamespace``) work."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def _default(value):
    from ._ws import WSClient

    if isinstance(value, WSClient):
        return {"$ws": value.id}
    if isinstance(value, SimpleNamespace):
        return vars(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(
        f"{type(value).__name__} cannot be stored in the host (JSON values, "
        "SimpleNamespace, dataclasses and connections can)"
    )


def _hook(obj):
    if len(obj) == 1 and "$ws" in obj and isinstance(obj["$ws"], int):
        from ._ws import WSClient

        return WSClient(obj["$ws"])
    return Namespace(obj)


def to_json(value) -> str:
    """Compact JSON, with the conversions above."""
    return json.dumps(value, default=_default, separators=(",", ":"))


def _too_deep(text: str) -> bool:
    """Whether `text` nests arrays and objects deeper than `MAX_JSON_DEPTH` (brackets
    inside strings do not count). Text with few brackets is not scanned at all."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for m in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        else:
            depth -= 1
    return False


def parse_json(text: str):
    """JSON text to Python values (objects become `Namespace`s). Nesting deeper than
    `MAX_JSON_DEPTH` is a `ValueError` like any other text that is not JSON, so a peer's
    deeply nested body is "not JSON" to the plugin instead of a crash."""
    if _too_deep(text):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, object_hook=_hook)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value) -> str:
    """A value as the host stores it (see the module docs)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return to_json(value)


def loads(text: str):
    """What `dumps` wrote, back (text that is not JSON stays text)."""
    try:
        return parse_json(text)
    except ValueError:
        return text
