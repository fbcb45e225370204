"""The strict JSON encoder (drills.jsonio): explicit conversions, nothing silently stringified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path

import pytest

from drills import jsonio


class Colour(str, Enum):
    RED = "red"


@dataclass
class Point:
    x: int
    when: datetime


def test_known_types_are_converted_explicitly() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    document = {"b": Colour.RED, "a": Point(1, when), "d": date(2026, 1, 2), "t": timedelta(minutes=2),
                "p": Path("/tmp/x")}
    assert json.loads(jsonio.dumps(document)) == {
        "a": {"x": 1, "when": "2026-01-02T03:04:05+00:00"}, "b": "red", "d": "2026-01-02", "t": 120.0,
        "p": "/tmp/x"}
    assert jsonio.dump_text({"k": 1}).endswith("}\n")


@pytest.mark.parametrize("bad", [object(), {1, 2}, b"bytes", 1 + 2j])
def test_unknown_types_raise_instead_of_being_stringified(bad) -> None:
    with pytest.raises(TypeError, match="does not convert"):
        jsonio.dumps({"value": bad})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinities_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        jsonio.dumps({"value": bad})
    with pytest.raises(ValueError):
        jsonio.canonical([bad])


def test_canonical_bytes_do_not_depend_on_key_order() -> None:
    assert jsonio.canonical({"b": 1, "a": "é"}) == jsonio.canonical({"a": "é", "b": 1}) == '{"a":"é","b":1}'.encode()


def test_cli_json_output_uses_the_strict_encoder(capsys: pytest.CaptureFixture[str]) -> None:
    from drills.cli.common import emit_json
    emit_json({"when": datetime(2026, 1, 2, tzinfo=timezone.utc)})
    assert json.loads(capsys.readouterr().out) == {"when": "2026-01-02T00:00:00+00:00"}
    with pytest.raises(TypeError):
        emit_json({"x": object()})
