"""`json.dumps(obj, indent=N)`, the same text, about three times sooner.

With an indent, the standard library leaves its C encoder for a Python one made of nested
generators; for a 30-layer image's `layers --json` (a third of a megabyte) that was a fifth of
the command's time. This writes the same text (default separators, `ensure_ascii`, NaN and
Infinity allowed, keys in insertion order) with plain recursion, strings escaped by the
standard library's own C function. Tests compare it with `json.dumps` on the course's output.

    dumps(data, indent=1) == json.dumps(data, indent=1)
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _quote

_INFINITY = float("inf")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _key(key) -> str:
    if isinstance(key, str):
        return _quote(key)
    if isinstance(key, float):
        return _quote(_float(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return _quote(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _scalar(value) -> str | None:
    """The text of a value that is not a container; None for a container."""
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple, dict)):
        return None
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(value, indent: int = 1) -> str:
    """The text `json.dumps(value, indent=indent)` gives."""
    return _text(value, "\n", " " * indent)


def _text(value, newline: str, step: str) -> str:
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is not dict and kind is not list and kind is not tuple:
        text = _scalar(value)  # subclasses (an IntEnum, a str Enum), floats, or a TypeError
        if text is not None:
            return text
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    inner = newline + step
    joint = "," + inner
    if isinstance(value, dict):
        return "{" + inner + joint.join([_key(k) + ": " + _text(v, inner, step) for k, v in value.items()]) + newline + "}"
    return "[" + inner + joint.join([_text(v, inner, step) for v in value]) + newline + "]"
