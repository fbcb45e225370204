"""The verification ladder: nine rungs, each reported separately with its counts and findings.

``run_ladder(ctx, rungs=None, sample=N)`` runs them in order over one shared ``Observation``
(each listing, HEAD and index scan is read once). ``ctx`` is the engine's ``DrillContext`` or
a ``LadderContext``: target, outputs, clock, scope prefix and the declared stack config.

1 inventory-parity      archive vs replica from listings (1 request per 1,000 keys)
2 replication-state     no FAILED, no PENDING past the threshold, replicas REPLICA by version id
3 dicom-hierarchy       per study, series and instance counts equal on both sides
4 sop-instance-set      SOP Instance UID set difference per study/series, by UID
5 stored-checksums      S3's stored SHA-256 (no download) vs the index, both sides; at scale an
                        S3 Batch Operations compute-checksum job instead (batch_checksums.py)
6 sample-bytes          a sample per specialty downloaded, hashed here, re-parsed with pydicom
7 index-parity          index <-> archive both ways; DR replica table <-> replica bucket
8 immutability-parity   lock mode, retain-until and legal hold of each replica = source's
9 configuration-in-force deployed configuration vs the stack's declared config

A rung that cannot observe what it needs is *not verified* (with the reason), never passed;
one whose reads break is *error*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from drills.contracts import DICOM_PREFIX, StackOutputs
from drills.engine.model import Finding, RungResult, Severity, Status, worst
from drills.errors import DrkitError, UsageError
from drills.probes import config_drift, hierarchy, immutability, index_parity, integrity, inventory, replication_state
from drills.engine.clock import Clock, WallClock
from drills.probes.observe import Observation, ResourceMissing, Unobservable

if TYPE_CHECKING:
    from drills.aws import Target


@dataclass
class LadderContext:
    """The fields of the engine's DrillContext the ladder reads (for callers without one)."""

    target: Target
    outputs: StackOutputs
    clock: Clock
    scope_prefix: str = DICOM_PREFIX
    stack: str | None = None
    declared: Any = None


@dataclass(frozen=True)
class Rung:
    number: int
    name: str
    title: str
    run: Callable[[Observation, "LadderOptions"], RungResult]


@dataclass(frozen=True)
class LadderOptions:
    sample: int = integrity.DEFAULT_SAMPLE
    seed: int | None = None
    declared: Any = None          # a validated PlatformConfig, or None
    checksums: str = "heads"      # rung 5: "heads" (HEAD per version) or "batch" (S3 Batch Operations)
    batch: Any = None             # batch_checksums.BatchSettings when checksums == "batch"


CHECKSUM_METHODS = ("heads", "batch")


def check_checksums(obs: Observation, options: LadderOptions) -> RungResult:
    """Rung 5 by HEAD per version, or by a compute-checksum Batch job over the current versions."""
    if options.checksums != "batch":
        return integrity.check_checksums(obs)
    from drills.probes import batch_checksums

    archive, _ = obs.listings()
    versions = ((v.key, v.version_id) for v in archive.current().values())
    return batch_checksums.check(obs, versions, options.batch or batch_checksums.BatchSettings())


RUNGS: tuple[Rung, ...] = (
    Rung(1, inventory.NAME, "inventory parity (listings)", lambda o, _: inventory.check(o)),
    Rung(2, replication_state.NAME, "replication state", lambda o, _: replication_state.check(o)),
    Rung(3, hierarchy.HIERARCHY_NAME, "DICOM hierarchy per study", lambda o, _: hierarchy.check_hierarchy(o)),
    Rung(4, hierarchy.SOP_SET_NAME, "SOP Instance UID set difference", lambda o, _: hierarchy.check_sop_set(o)),
    Rung(5, integrity.CHECKSUMS_NAME, "stored SHA-256 vs index", check_checksums),
    Rung(6, integrity.SAMPLE_NAME, "sample downloaded, hashed, parsed",
         lambda o, opt: integrity.check_sample(o, opt.sample, opt.seed)),
    Rung(7, index_parity.NAME, "index <-> archive, DR table <-> replica", lambda o, _: index_parity.check(o)),
    Rung(8, immutability.NAME, "Object Lock / legal hold parity", lambda o, _: immutability.check(o)),
    Rung(9, config_drift.NAME, "configuration in force vs declared",
         lambda o, opt: config_drift.check(o, opt.declared)),
)
BY_NAME = {r.name: r for r in RUNGS}


def select(rungs: list[int | str] | None) -> list[Rung]:
    """Rungs by number or name (all when None); UsageError naming an unknown one."""
    if not rungs:
        return list(RUNGS)
    chosen: list[Rung] = []
    for wanted in rungs:
        rung = next((r for r in RUNGS if wanted in (r.number, r.name, str(r.number))), None)
        if rung is None:
            known = ", ".join(f"{r.number}/{r.name}" for r in RUNGS)
            raise UsageError(f"unknown ladder rung {wanted!r} (rungs: {known})")
        if rung not in chosen:
            chosen.append(rung)
    return sorted(chosen, key=lambda r: r.number)


def declared_config(ctx: Any) -> Any:
    """The stack's declared config, validated (``components.config.PlatformConfig``), or None.

    Takes ``ctx.declared`` as a PlatformConfig or as the stack file's ``config:`` mapping.
    An invalid declared config is a usage error (exit 2) naming the key."""
    from components.config import PlatformConfig, from_mapping

    declared = getattr(ctx, "declared", None)
    if declared is None or isinstance(declared, PlatformConfig):
        return declared
    if isinstance(declared, Mapping):
        return from_mapping(declared)
    raise UsageError(f"declared stack config must be a mapping, got {type(declared).__name__}")


def run_ladder(ctx: Any, rungs: list[int | str] | None = None, sample: int = integrity.DEFAULT_SAMPLE,
               seed: int | None = None, progress: Callable[[Rung, RungResult], None] | None = None,
               checksums: str = "heads", batch: Any = None) -> list[RungResult]:
    """Run the chosen rungs (all by default) in order; ``sample`` instances per specialty for
    rung 6 (``seed`` fixes which). ``progress`` is called after each rung. ``checksums``
    "batch" answers rung 5 with an S3 Batch Operations compute-checksum job (``batch``:
    ``batch_checksums.BatchSettings``)."""
    if sample < 0:
        raise UsageError(f"--sample must be 0 or more (got {sample})")
    if checksums not in CHECKSUM_METHODS:
        raise UsageError(f"unknown checksum method {checksums!r} (one of {', '.join(CHECKSUM_METHODS)})")
    chosen = select(rungs)
    options = LadderOptions(sample=sample, seed=seed, checksums=checksums, batch=batch,
                            declared=declared_config(ctx) if any(r.number == 9 for r in chosen) else None)
    if getattr(ctx, "clock", None) is None:
        ctx = LadderContext(target=ctx.target, outputs=ctx.outputs, clock=WallClock(),
                            scope_prefix=getattr(ctx, "scope_prefix", DICOM_PREFIX))
    obs = Observation(ctx)
    results = []
    for rung in chosen:
        result = run_rung(rung, obs, options)
        results.append(result)
        if progress is not None:
            progress(rung, result)
    return results


def run_rung(rung: Rung, obs: Observation, options: LadderOptions) -> RungResult:
    """One rung; what it cannot observe makes it not verified, a broken read makes it error."""
    try:
        return rung.run(obs, options)
    except Unobservable as exc:
        return RungResult(rung.number, rung.name, Status.NOT_VERIFIED, reason=str(exc))
    except ResourceMissing as exc:
        finding = Finding("resource-missing", Severity.CRITICAL, exc.resource, exc.message,
                          remediation="restore the resource from the stack (pulumi up) and its data from the "
                                      "other region or a backup")
        return RungResult(rung.number, rung.name, Status.FAILED, findings=(finding,), reason=exc.message)
    except (DrkitError, ClientError, BotoCoreError) as exc:
        return RungResult(rung.number, rung.name, Status.ERROR, reason=f"{type(exc).__name__}: {exc}")


def overall(results: list[RungResult]) -> Status:
    return worst([r.status for r in results]) if results else Status.NOT_VERIFIED


def exit_code(results: list[RungResult]) -> int:
    """0 every rung passed; 1 a rung failed or was not verified; 3 a rung broke (and none failed)."""
    statuses = {r.status for r in results}
    if statuses <= {Status.PASSED} and results:
        return 0
    if Status.FAILED in statuses or Status.NOT_VERIFIED in statuses or Status.SKIPPED in statuses or not results:
        return 1
    return 3
