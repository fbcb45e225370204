"""The ladder on the inventory path: fetch the newest S3 Inventory report of the archive and of
the replica (through boto3, from the buckets their inventory configurations name), reconcile
them with DuckDB (``drills.probes.reconcile``) and return rung results shaped like the
listing path's. Rung 9 reads configuration and runs as on the listing path; rungs the
inventory cannot answer are *not verified* with the reason.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from drills.engine.model import RungResult, Status
from drills.errors import DrkitError
from drills.probes import ladder, reconcile
from drills.probes.inventory_report import InventoryReport, fetch_latest, locate
from drills.probes.observe import Observation, Unobservable


def fetch_reports(obs: Observation, workdir: Path) -> tuple[InventoryReport, InventoryReport]:
    o = obs.outputs
    reports = []
    for side, region, bucket in (("archive", o.primaryRegion, o.archiveBucket), ("replica", o.drRegion,
                                                                                 o.replicaBucket)):
        s3 = obs.client("s3", region)
        where = locate(s3, bucket)
        dest_s3 = obs.client("s3", region)      # inventory buckets live in the source's region here
        reports.append(fetch_latest(dest_s3, where, workdir / side))
    return reports[0], reports[1]


def run_inventory_ladder(ctx: Any, rungs: list[int | str] | None = None,
                         reports: tuple[InventoryReport, InventoryReport] | None = None,
                         memory_limit: str = reconcile.DEFAULT_MEMORY_LIMIT, threads: int = 2,
                         progress: Callable[[ladder.Rung, RungResult], None] | None = None,
                         engine_factory: Callable[[Observation], Any] | None = None,
                         checksums: str = "batch", batch: Any = None) -> list[RungResult]:
    """Rungs from the newest inventory reports, reconciled by DuckDB here, or by the engine
    ``engine_factory(obs)`` returns (the Athena path). Rung 5 runs S3 Batch Operations
    compute-checksum jobs over the reconciliation's current versions (``checksums`` "batch",
    ``batch`` a ``batch_checksums.BatchSettings``); with "heads" it is not answered here."""
    chosen = ladder.select(rungs)
    if getattr(ctx, "clock", None) is None:
        ctx = ladder.LadderContext(target=ctx.target, outputs=ctx.outputs, clock=ladder.WallClock(),
                                   scope_prefix=getattr(ctx, "scope_prefix", ladder.DICOM_PREFIX))
    obs = Observation(ctx)
    options = ladder.LadderOptions(declared=ladder.declared_config(ctx) if any(r.number == 9 for r in chosen)
                                   else None, checksums=checksums, batch=batch)
    results: list[RungResult] = []
    needs_reports = any(r.number in reconcile.ANSWERS or (r.number == 5 and checksums == "batch") for r in chosen)
    with tempfile.TemporaryDirectory(prefix="drkit-inventory-") as tmp:
        engine = failure = None
        if needs_reports:
            try:
                if engine_factory is not None:
                    engine = engine_factory(obs)
                else:
                    pair = reports or fetch_reports(obs, Path(tmp) / "reports")
                    now, cutoff = reconcile.cutoff_of(obs)
                    engine = reconcile.open_engine(*pair, scope=obs.scope, cutoff=cutoff, now=now,
                                                   memory_limit=memory_limit, temp_dir=str(Path(tmp) / "db"),
                                                   threads=threads)
            except (Unobservable, DrkitError) as exc:
                failure = exc
        try:
            for rung in chosen:
                result = _one(rung, engine, failure, obs, options)
                results.append(result)
                if progress is not None:
                    progress(rung, result)
        finally:
            if engine is not None:
                engine.close()
    return results


def _one(rung: ladder.Rung, engine: Any, failure: Exception | None, obs: Observation,
         options: ladder.LadderOptions) -> RungResult:
    batch_rung5 = rung.number == 5 and options.checksums == "batch"
    if rung.number in reconcile.NOT_ANSWERED and not batch_rung5:
        return reconcile.not_answered(rung.number)
    if rung.number not in reconcile.ANSWERS and not batch_rung5:
        return ladder.run_rung(rung, obs, options)
    if failure is not None:
        status = Status.NOT_VERIFIED if isinstance(failure, Unobservable) else Status.ERROR
        return RungResult(rung.number, rung.name, status, reason=str(failure))
    if batch_rung5:
        from drills.probes import batch_checksums

        settings = options.batch or batch_checksums.BatchSettings()
        wrapped = ladder.Rung(rung.number, rung.name, rung.title,
                              lambda o, _: _rung5(o, engine, settings))
        return ladder.run_rung(wrapped, obs, options)
    build = reconcile.RUNG_BUILDERS[rung.number]
    wrapped = ladder.Rung(rung.number, rung.name, rung.title,
                          lambda o, _: build(engine, o, o.outputs.archiveBucket, o.outputs.replicaBucket))
    return ladder.run_rung(wrapped, obs, options)


def _rung5(obs: Observation, engine: Any, settings: Any) -> RungResult:
    from drills.probes import batch_checksums

    with tempfile.TemporaryDirectory(prefix="drkit-rung5-", dir=settings.temp_dir) as tmp:
        versions = reconcile.export_current_versions(engine, Path(tmp) / "current_versions.csv")
        return batch_checksums.check(obs, versions, settings)
