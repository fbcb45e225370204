"""The verification ladder as a registered probe (``verification-ladder``), so a scenario's own
steady-state hypothesis (or method) can check the archive with some or all of its rungs::

    steadyState:
      - name: archive-verified
        probe: verification-ladder
        arguments: {rungs: [1, 2, stored-checksums], sample: 0}
        tolerance: {output: failed, max: 0}
        timeout: 600

Its status is the worst of the rungs it ran (a rung not verified makes it not verified, never
passed); every rung finding becomes the activity's finding; its output holds each rung's
result and the tally (``passed``, ``failed``, ``not_verified``, ``error``).
"""

from __future__ import annotations

from typing import Any

from drills.engine.model import ProbeResult, Status
from drills.engine.registry import probe
from drills.probes.integrity import DEFAULT_SAMPLE
from drills.probes.ladder import RUNGS, overall, run_ladder

RUNG_ARGUMENT = {"type": "array", "minItems": 1, "uniqueItems": True,
                 "items": {"enum": [r.number for r in RUNGS] + [r.name for r in RUNGS]}}


@probe("verification-ladder", {"rungs": RUNG_ARGUMENT, "sample": {"type": "integer", "minimum": 0},
                               "seed": {"type": "integer"}})
def verification_ladder(run: Any, rungs: list[int | str] | None = None, sample: int = DEFAULT_SAMPLE,
                        seed: int | None = None) -> ProbeResult:
    """The verification ladder (drkit verify's rungs, all or some) over the drill's context."""
    results = run_ladder(run.ctx, rungs=rungs, sample=sample, seed=seed)
    tally = {s.value: sum(r.status is s for r in results)
             for s in (Status.PASSED, Status.FAILED, Status.NOT_VERIFIED, Status.ERROR)}
    status = overall(results)
    reasons = "; ".join(f"rung {r.rung} {r.name} {r.status.value}: {r.reason}" for r in results
                        if r.status is not Status.PASSED and r.reason)
    return ProbeResult(status, {"rungs": [r.to_json() for r in results], **tally},
                       tuple(f for r in results for f in r.findings), reasons)
