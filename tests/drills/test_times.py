"""The one duration grammar and timestamp parser (drills.times)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from drills.times import parse_duration, parse_iso_duration, parse_time, parse_time_or_none, utc_timestamp


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("2h", 7200), ("3d", 259200), ("45", 45), ("1.5h", 5400), (" 10M ", 600),
    ("PT15M", 900), ("P1DT2H", 93600), ("PT0.5S", 0.5), ("pt1h30m", 5400), ("0", 0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "abc", "15 minutes", "-5", "5w", "P", "PT", "P1DT", "1h30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["99999999999d", "P99999999999D", "1" * 400 + "s"])
def test_a_duration_past_the_calendar_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="longer than any date"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["15m", "90", "P", "PT", "P1DT", None, 600])
def test_iso_duration_takes_only_iso_8601(text) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_iso_duration(text)


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("2026-01-02T03:04:05.250Z", datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=timezone.utc)),
    ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),       # no offset: UTC
    ("2026-01-02", datetime(2026, 1, 2, tzinfo=timezone.utc)),
    ("1767323045", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),                # epoch seconds
    (1767323045.5, datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)),
    (datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
])
def test_parse_time(value, expected: datetime) -> None:
    parsed = parse_time(value)
    assert parsed == expected and parsed.tzinfo == timezone.utc


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "", None, True, [1]])
def test_parse_time_rejects(value) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


def test_parse_time_or_none_and_utc_timestamp() -> None:
    assert parse_time_or_none(None) is None and parse_time_or_none("") is None
    when = datetime(2026, 1, 2, 5, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert utc_timestamp(when) == "2026-01-02T03:04:05Z"
