"""``drkit run`` with no target: an embedded cloud in this process, stack deployed offline,
the synthetic enterprise data set ingested and replicated — the ground the drills stand on.

Used by the run command (not a command itself). Every duration here is simulated.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from drills.cli import heap
from drills.cloud.server import EmbeddedCloud, SimSettings
from drills.contracts import DICOM_PREFIX, StackOutputs
from drills.deploy.engine import DeployResult, deploy
from drills.engine.context import InstanceRecord, Manifest
from drills.errors import InfraError
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor, Outcome
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary
from drills.probes import listing
from drills.project import Project
from drills.synth.dataset import generate

# Longer than the simulated replication tail (under RTC's 15 minutes): the steady state.
REPLICATION_WINDOW = timedelta(minutes=20)
SETTLE_STEP = timedelta(minutes=10)
SETTLE_LIMIT = timedelta(hours=48)
DEFAULT_STUDIES = 16


@dataclass
class Rehearsal:
    cloud: EmbeddedCloud
    deployed: DeployResult
    manifest: Manifest
    ingest: dict[str, Any]

    @property
    def outputs(self) -> StackOutputs:
        return self.deployed.outputs


@contextlib.contextmanager
def embedded_rehearsal(project: Project, stack: str, *, studies: int = DEFAULT_STUDIES, seed: int = 7,
                       settings: SimSettings | None = None,
                       say: Callable[[str], None] = lambda _: None,
                       after_deploy: Callable[[EmbeddedCloud, StackOutputs], Any] | None = None,
                       after_ingest: Callable[[EmbeddedCloud, StackOutputs], Any] | None = None,
                       ) -> Iterator[Rehearsal]:
    """``after_deploy(cloud, outputs)`` runs once the stack is deployed, before any data is
    ingested (e.g. drift applied by boto3 for the weakening catalogue); ``after_ingest`` once the
    data set is in and replication has settled."""
    settings = settings or SimSettings(seed=seed)
    with (heap.long_lived() as spare, EmbeddedCloud(settings=settings) as cloud,
          tempfile.TemporaryDirectory(prefix="drkit-run-") as tmp):
        say(f"embedded cloud on {cloud.endpoint} (moto + simulation; every figure is simulated)")
        deployed = deploy(project, stack, cloud.target, cloud.sim)
        spare()                        # the deployed stack lives as long as the cloud
        say(f"stack {stack} deployed offline: {len(deployed.created)} resources, "
            f"{len(deployed.declared_only)} declared only")
        if after_deploy is not None:
            after_deploy(cloud, deployed.outputs)
        synth = generate(Path(tmp) / "dataset", studies, seed)
        say(f"synthetic data set: {len(synth.entries)} instances in {synth.study_count} studies")
        manifest, counts = _ingest(cloud, deployed.outputs, synth)
        say(f"ingested: {counts['archived']} archived, {counts['quarantined']} quarantined")
        waited = _settle_replication(cloud, deployed.outputs)
        say(f"replication settled after {waited / 60:.0f} min (simulated)")
        spare()                        # and so do the archived data set and its manifest
        if after_ingest is not None:
            after_ingest(cloud, deployed.outputs)
        yield Rehearsal(cloud, deployed, manifest, counts)


def _settle_replication(cloud: EmbeddedCloud, outputs: StackOutputs) -> float:
    """Advance the virtual clock until every archived version is in the replica (the steady
    state the drills start from), at least ``REPLICATION_WINDOW``, at most ``SETTLE_LIMIT``."""
    waited = REPLICATION_WINDOW
    cloud.clock.advance(REPLICATION_WINDOW)
    primary = cloud.target.client("s3", outputs.primaryRegion)
    replica = cloud.target.client("s3", outputs.drRegion)
    while waited < SETTLE_LIMIT:
        source = listing.ids(listing.versions(primary, outputs.archiveBucket, DICOM_PREFIX))
        if source <= listing.ids(listing.versions(replica, outputs.replicaBucket, DICOM_PREFIX)):
            break
        cloud.clock.advance(SETTLE_STEP)
        waited += SETTLE_STEP
    return waited.total_seconds()


def _ingest(cloud: EmbeddedCloud, outputs: StackOutputs, synth: Any) -> tuple[Manifest, dict[str, Any]]:
    dest = IngestDestination.from_outputs(outputs, cloud.target)
    ingestor = Ingestor(dest, Pseudonymizer.from_secret(cloud.target, dest.region))
    inputs = collect([synth.root], exclude=["manifest.json"])
    summary = IngestSummary(simulated=True, destination={"archiveBucket": dest.archive_bucket})
    ingest_files(ingestor, inputs.files, summary, workers=8)
    if summary.failures:
        raise InfraError(f"{len(summary.failures)} instance(s) could not be ingested; "
                         f"first: {summary.failures[0].message}")
    by_sop = {e.sop_instance_uid: e for e in synth.entries}
    records = []
    archived = sorted((r for r in summary.results if r.outcome in (Outcome.ARCHIVED, Outcome.CONFLICT) and r.key),
                      key=lambda r: r.key)
    for n, result in enumerate(archived):
        entry = by_sop.get(result.sop_instance_uid or "")
        parts = result.key.split("/")
        records.append(InstanceRecord(
            label=f"instance-{n}", key=result.key, version_id=result.version_id, size=result.size,
            checksum_sha256=result.checksum_sha256, sha256_hex=entry.sha256 if entry else None,
            study_uid=parts[1], series_uid=parts[2], sop_uid=parts[3].removesuffix(".dcm"),
            modality=result.modality or (entry.modality if entry else ""),
            specialty=entry.specialty if entry else ""))
    return Manifest(records), dict(summary.counts)
