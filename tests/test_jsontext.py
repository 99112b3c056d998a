"""Core: `jsontext.dumps` writes exactly the text of `json.dumps(..., indent=N)` (the CLI's
`layers --json` uses it; the live tier compares it on real images too)."""

from __future__ import annotations

import enum
import json

import pytest

from layerlab.core.jsontext import dumps


class Word(str, enum.Enum):
    A = "a"


class Count(enum.IntEnum):
    TWO = 2


SAMPLES = [
    {}, [], (), "", 0, -1, 1.5, -0.0, 1e300, None, True, False, "é \n \" \\ \u2603 \U0001f600",
    {"a": []}, [{}], [[[]]], {"k": ({}, [], ())}, (1, (2,)),
    {"x": {"y": [1, 2.5, None, True, False, float("nan"), float("inf"), -float("inf")]}},
    {1: 2, 2.5: 3, True: 1, None: 0, False: 2, "s": {"deep": [{"deeper": []}]}},
    [Word.A, Count.TWO, {Word.A: Count.TWO}],
    {"files": [{"path": f"/bench/l{i}/f{j}", "size": j * 100, "kind": "added", "link": None}
               for i in range(3) for j in range(4)]},
]


@pytest.mark.parametrize("indent", [1, 2, 4])
@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_the_text_is_json_dumps_text(value, indent):
    assert dumps(value, indent) == json.dumps(value, indent=indent)


@pytest.mark.parametrize("bad", [{(1,): 2}, [object()], {"a": {1, 2}}, b"bytes"])
def test_what_json_cannot_write_is_a_type_error_here_too(bad):
    with pytest.raises(TypeError):
        json.dumps(bad, indent=1)
    with pytest.raises(TypeError):
        dumps(bad, 1)
