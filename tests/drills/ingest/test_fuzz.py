"""Hypothesis: truncated and corrupted instances are archived or quarantined, never lost."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings

from drills.ingest.core import Outcome
from drills.ingest.identity import dataset_digest
from drills.ingest.reader import RejectedInput, read_header

from .conftest import damaged

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_reader_accepts_or_rejects_with_a_reason(data: bytes) -> None:
    try:
        header = read_header(io.BytesIO(data), len(data))
    except RejectedInput as rejected:
        assert rejected.quarantine_reason is not None and rejected.detail
        assert rejected.bytes_read <= len(data)
    else:
        assert header.sop_instance_uid and header.study_instance_uid and header.series_instance_uid
        assert header.header_bytes_read <= len(data)


@pytest.mark.slow
def test_core_never_loses_an_input(ingest_env) -> None:
    ingestor = ingest_env.ingestor()
    seen: list[tuple[bytes, object]] = []

    @settings(max_examples=120, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=damaged())
    def ingest_one(data: bytes) -> None:
        result = ingestor.ingest_bytes(data, "fuzz")
        seen.append((data, result))
        assert result.outcome in set(Outcome)
        assert result.key and result.version_id
        stored = ingest_env.get(result.key, result.version_id)
        if result.outcome is Outcome.DUPLICATE and stored != data:
            # the same data set in another wrapper (preamble, file meta): the first bytes are kept
            assert dataset_digest(io.BytesIO(stored), len(stored)) == dataset_digest(io.BytesIO(data), len(data))
        else:
            assert stored == data, f"{result.outcome.value} at {result.key} holds other bytes"

    ingest_one()
    kept = [r for _, r in seen if r.outcome in (Outcome.ARCHIVED, Outcome.DUPLICATE, Outcome.CONFLICT)]
    quarantined = [r for _, r in seen if r.outcome is Outcome.QUARANTINED]
    assert len(kept) + len(quarantined) == len(seen) > 0
    assert quarantined and kept, "the strategy reaches both outcomes"
