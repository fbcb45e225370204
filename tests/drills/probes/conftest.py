"""One deployed-and-ingested dev stack shared by the ladder tests (deploying costs seconds).

``stack``: an embedded cloud with the ``dev`` stack deployed offline, a small synthetic data
set ingested and replicated (virtual clock advanced past the RTC threshold). Tests that plant
a defect undo it before they end (``planted`` context managers below), so every test starts
from a healthy stack; a test asserts that first when it matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from drills.engine.model import RungResult, Status
from drills.probes.ladder import LadderContext, run_ladder
from drills.project import Project
from drills.synth.dataset import Manifest
from tests.helpers.stacks import ingested_stack

REPO = Path(__file__).resolve().parents[3]
STUDIES = 5


class SimClock:
    """The in-process cloud's virtual clock as the ladder's clock."""

    simulated = True

    def __init__(self, cloud: EmbeddedCloud) -> None:
        self.cloud = cloud

    def now(self):
        return self.cloud.clock.now()

    def wait(self, seconds: float) -> None:
        self.cloud.clock.advance(seconds)

    advance = wait


@dataclass
class DeployedStack:
    cloud: EmbeddedCloud
    project: Project
    outputs: StackOutputs
    manifest: Manifest
    declared: dict[str, Any]

    def ctx(self, **overrides: Any) -> LadderContext:
        fields = {"target": self.cloud.target, "outputs": self.outputs, "clock": SimClock(self.cloud),
                  "stack": "dev", "declared": self.declared, **overrides}
        return LadderContext(**fields)

    def ladder(self, *rungs: int, **kwargs: Any) -> dict[int, RungResult]:
        return {r.rung: r for r in run_ladder(self.ctx(), rungs=list(rungs) or None, **kwargs)}

    def s3(self, side: str = "archive"):
        return self.cloud.target.client("s3", self.outputs.primaryRegion if side == "archive"
                                        else self.outputs.drRegion)

    def bucket(self, side: str = "archive") -> str:
        return self.outputs.archiveBucket if side == "archive" else self.outputs.replicaBucket

    def current(self, n: int = 0) -> tuple[str, str]:
        """(key, version id) of the n-th current archive instance (sorted by key)."""
        pages = self.s3().get_paginator("list_object_versions").paginate(Bucket=self.outputs.archiveBucket,
                                                                         Prefix="dicom/")
        versions = sorted((v["Key"], v["VersionId"]) for p in pages for v in p.get("Versions", []) if v["IsLatest"])
        return versions[n]


@pytest.fixture(scope="package")
def stack() -> Iterator[DeployedStack]:
    with ingested_stack(STUDIES, 11) as it:
        yield DeployedStack(it.cloud, it.project, it.outputs, it.manifest, it.project.stack_config("dev"))


@pytest.fixture
def healthy(stack: DeployedStack) -> DeployedStack:
    """The shared stack, checked healthy on the listing rungs before the test plants anything."""
    results = stack.ladder(1, 2, 7, 8)
    assert all(r.status is Status.PASSED for r in results.values()), {
        n: [f.code for f in r.findings] for n, r in results.items()}
    return stack
