"""The dev stack deployed offline into a fresh embedded cloud, with a synthetic data set
ingested and replication settled: the shared ground of the package-scoped test fixtures."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from drills.cloud.server import EmbeddedCloud
from drills.cloud.simulation import SimSettings
from drills.contracts import StackOutputs
from drills.deploy.engine import deploy
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary
from drills.project import Project, find_project
from drills.synth.dataset import Manifest, generate

REPO = Path(__file__).resolve().parents[2]
SETTLE = timedelta(minutes=20)      # longer than the simulated replication tail (RTC: 15 min)


@dataclass
class Ingested:
    cloud: EmbeddedCloud
    project: Project
    outputs: StackOutputs
    manifest: Manifest
    dataset: Path


@contextmanager
def ingested_stack(studies: int, seed: int, stack: str = "dev") -> Iterator[Ingested]:
    project = find_project(project_dir=REPO)
    with EmbeddedCloud(settings=SimSettings(seed=seed)) as cloud, tempfile.TemporaryDirectory() as tmp:
        outputs = deploy(project, stack, cloud.target, cloud.sim).outputs
        dataset = Path(tmp) / "dataset"
        manifest = generate(dataset, studies, seed)
        dest = IngestDestination.from_outputs(outputs, cloud.target)
        summary = IngestSummary(simulated=True)
        ingest_files(Ingestor(dest, Pseudonymizer.from_secret(cloud.target, dest.region)),
                     collect([dataset]).files, summary, workers=4)
        assert not summary.failures and summary.counts["archived"] == len(manifest.entries)
        cloud.clock.advance(SETTLE)
        yield Ingested(cloud, project, outputs, manifest, dataset)
