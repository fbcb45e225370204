"""A deployed dev stack with every synthetic modality ingested and replicated, and the
DICOMweb app served over it (primary and DR) on loopback ports, for the real clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from drills.dicomweb.app import create_app
from drills.dicomweb.auth import TokenAuth
from drills.dicomweb.server import BackgroundServer
from drills.dicomweb.source import ArchiveSource
from drills.synth.dataset import MODALITIES, Manifest
from tests.helpers.stacks import ingested_stack

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
    with ingested_stack(STUDIES, 17) as it:
        auth = TokenAuth.generate()
        yield Served(it.cloud, it.outputs, it.manifest, it.dataset, auth, auth.issue("tests"))


@pytest.fixture(scope="package")
def primary_url(served: Served) -> Iterator[str]:
    with BackgroundServer(served.app("primary")) as url:
        yield url


@pytest.fixture(scope="package")
def dr_url(served: Served) -> Iterator[str]:
    with BackgroundServer(served.app("dr")) as url:
        yield url
