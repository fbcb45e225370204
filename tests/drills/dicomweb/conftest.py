"""A deployed dev stack with every synthetic modality ingested and replicated, and the
DICOMweb app served over it (primary and DR) on loopback ports, for the real clients."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from drills.cloud.server import EmbeddedCloud
from drills.cloud.simulation import SimSettings
from drills.contracts import StackOutputs
from drills.deploy.engine import deploy
from drills.dicomweb.app import create_app
from drills.dicomweb.auth import TokenAuth
from drills.dicomweb.server import BackgroundServer
from drills.dicomweb.source import ArchiveSource
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary
from drills.project import find_project
from drills.synth.dataset import MODALITIES, Manifest, generate

REPO = Path(__file__).resolve().parents[3]
STUDIES = len(MODALITIES)          # the first studies cover every modality once


@dataclass
class Served:
    cloud: EmbeddedCloud
    outputs: StackOutputs
    manifest: Manifest
    dataset: Path
    auth: TokenAuth
    token: str

    def source(self, role: str = "primary", promote: bool = False) -> ArchiveSource:
        return ArchiveSource.from_outputs(self.outputs, self.cloud.target, role, promote=promote)

    def app(self, role: str = "primary", promote: bool = False):
        return create_app(self.source(role, promote), self.auth)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, url: str):
        from dicomweb_client.api import DICOMwebClient
        return DICOMwebClient(url, headers=self.headers())


@pytest.fixture(scope="package")
def served() -> Iterator[Served]:
    project = find_project(project_dir=REPO)
    with EmbeddedCloud(settings=SimSettings(seed=17)) as cloud, tempfile.TemporaryDirectory() as tmp:
        outputs = deploy(project, "dev", cloud.target, cloud.sim).outputs
        manifest = generate(Path(tmp) / "dataset", STUDIES, 17)
        dest = IngestDestination.from_outputs(outputs, cloud.target)
        summary = IngestSummary(simulated=True)
        ingest_files(Ingestor(dest, Pseudonymizer.from_secret(cloud.target, dest.region)),
                     collect([Path(tmp) / "dataset"], exclude=["manifest.json"]).files, summary, workers=4)
        assert not summary.failures and summary.counts["archived"] == len(manifest.entries)
        cloud.clock.advance(timedelta(minutes=20))
        auth = TokenAuth.generate()
        yield Served(cloud, outputs, manifest, Path(tmp) / "dataset", auth, auth.issue("tests"))


@pytest.fixture(scope="package")
def primary_url(served: Served) -> Iterator[str]:
    with BackgroundServer(served.app("primary")) as url:
        yield url


@pytest.fixture(scope="package")
def dr_url(served: Served) -> Iterator[str]:
    with BackgroundServer(served.app("dr")) as url:
        yield url
