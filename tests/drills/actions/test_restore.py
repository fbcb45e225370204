"""Restore targets are named for the run and can never be a live bucket or table."""

from __future__ import annotations

from types import SimpleNamespace

from drills.actions.restore import _live, restore_names
from drills.aws import Target
from drills.engine.context import DrillContext
from tests.drills.engine.conftest import FakeClock, outputs


def test_restore_targets_are_run_named_valid_and_never_live() -> None:
    ctx = DrillContext(target=Target(endpoint="http://127.0.0.1:9"), outputs=outputs(), clock=FakeClock(),
                       run_id="20260101T000000Z-abcdef")
    run = SimpleNamespace(ctx=ctx)
    names = {n for source in ("primary", "dr") for n in restore_names(run, source)}
    assert len(names) == 4 and not names & _live(ctx)
    for source in ("primary", "dr"):
        bucket, table = restore_names(run, source)
        assert ctx.run_id.lower() in bucket and len(bucket) <= 63 and bucket == bucket.lower()
        assert table.startswith(ctx.outputs.indexTable + "-restore-") and ctx.run_id in table
