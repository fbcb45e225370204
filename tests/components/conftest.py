"""Fixtures for the Pulumi program's tests: run the real ``__main__.py`` under mocks, once per
stack per session, and look at what it registered (type, name, inputs, parent, provider,
protect, dependencies)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from components.config import PlatformConfig, from_mapping
from drills.project import Project, find_project
from drills.deploy.program import ProgramResult, run_program

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod", "eu")


@dataclass
class Resource:
    """One registered resource, with what the engine would see besides its inputs."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    def policy(self, key: str = "policy") -> dict[str, Any]:
        """A JSON policy input, decoded."""
        return json.loads(self.inputs[key])

    def __str__(self) -> str:
        return self.urn


@dataclass
class Deployment:
    """Everything one stack registered under mocks."""

    stack: str
    config: PlatformConfig
    outputs: dict[str, Any]
    resources: list[Resource] = field(default_factory=list)

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def find(self, urn: str) -> Resource | None:
        return next((r for r in self.resources if r.urn == urn), None)

    def all(self, type_token: str, *, under: str | None = None) -> list[Resource]:
        """Resources of ``type_token``; ``under`` keeps those with that component type as an ancestor."""
        found = [r for r in self.resources if r.type == type_token]
        if under is not None:
            found = [r for r in found if under in self.ancestor_types(r)]
        return found

    def one(self, type_token: str, name: str) -> Resource:
        matches = [r for r in self.resources if r.type == type_token and r.name == name]
        assert len(matches) == 1, f"{self.stack}: expected one {type_token} named {name!r}, found {len(matches)}"
        return matches[0]

    def parent(self, r: Resource) -> Resource | None:
        """The parent resource; None for children of the root Stack (which is not recorded)."""
        return self.find(r.parent) if r.parent else None

    def ancestor_types(self, r: Resource) -> list[str]:
        types = []
        current = self.parent(r)
        while current is not None:
            types.append(current.type)
            current = self.parent(current)
        return types

    def region(self, r: Resource) -> str:
        """Region of the explicit provider ``r`` was registered with."""
        assert r.provider, f"{r.urn} has no explicit provider"
        provider_urn = r.provider.rsplit("::", 1)[0]
        return self.by_urn(provider_urn).inputs["region"]

    def bucket_named(self, logical: str) -> Resource:
        return self.one("aws:s3/bucket:Bucket", logical)

    def for_bucket(self, type_token: str, bucket: Resource) -> Resource:
        """The single ``type_token`` resource configuring ``bucket`` (matched on its id)."""
        matches = [r for r in self.all(type_token) if r.inputs.get("bucket") in (f"{bucket.name}-id", bucket.name)]
        assert len(matches) == 1, f"{bucket.urn}: expected one {type_token}, found {len(matches)}"
        return matches[0]

    def key_arn(self, purpose: str, *, dr: bool = False) -> str:
        """ARN of the ``data``/``backup``/``audit``/``app`` key (its DR replica with ``dr``)."""
        base = f"drkit-{self.stack}-keys" + ("" if purpose == "data" else f"-{purpose}")
        if dr:
            return self.one("aws:kms/replicaKey:ReplicaKey", f"{base}-replica").outputs["arn"]
        return self.one("aws:kms/key:Key", base).outputs["arn"]

    def summary(self) -> str:
        counts = Counter(r.type for r in self.resources)
        lines = [f"stack {self.stack}: {len(self.resources)} resources"]
        lines += [f"  {n:3d} {t}" for t, n in sorted(counts.items())]
        return "\n".join(lines)


def deploy(project: Project, stack: str) -> Deployment:
    """Run the program for ``stack``; run_program records URN, parent, protect and dependencies."""
    result: ProgramResult = run_program(project, stack)
    deployment = Deployment(stack=stack, config=from_mapping(project.stack_config(stack)), outputs=result.outputs)
    for r in result.resources:
        deployment.resources.append(Resource(
            urn=r.urn, type=r.type, name=r.name, parent=r.parent, provider=r.provider or "",
            protect=r.protect, retain_on_delete=r.retain_on_delete, dependencies=list(r.dependencies),
            inputs=r.inputs, outputs=r.outputs))
    return deployment


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated modules when the mocks load them.
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:pulumi_aws\..*")


@pytest.fixture(scope="session")
def project() -> Project:
    return find_project(project_dir=REPO)


@pytest.fixture(scope="session")
def deployments(project: Project) -> Callable[[str], Deployment]:
    """``deployments(stack)``: the stack's Deployment, run once per session."""
    cache: dict[str, Deployment] = {}

    def get(stack: str) -> Deployment:
        if stack not in cache:
            cache[stack] = deploy(project, stack)
        return cache[stack]

    return get


@pytest.fixture(params=("dev", "prod"))
def stack(request: pytest.FixtureRequest, deployments: Callable[[str], Deployment]) -> Deployment:
    """The dev and the prod deployment, one test each."""
    return deployments(request.param)


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest, deployments: Callable[[str], Deployment]) -> Deployment:
    """Every stack file's deployment, one test each."""
    return deployments(request.param)


@pytest.fixture
def dev(deployments: Callable[[str], Deployment]) -> Deployment:
    return deployments("dev")


@pytest.fixture
def prod(deployments: Callable[[str], Deployment]) -> Deployment:
    return deployments("prod")


@pytest.fixture
def eu(deployments: Callable[[str], Deployment]) -> Deployment:
    return deployments("eu")


@pytest.fixture
def stack_config(project: Project) -> Callable[[str], dict[str, Any]]:
    """``stack_config(stack)``: a fresh copy of that stack file's config mapping, to mutate."""
    return lambda name: json.loads(json.dumps(project.stack_config(name)))


@pytest.fixture
def deploy_config(project: Project, tmp_path: Path) -> Callable[[dict[str, Any]], Deployment]:
    """Run the real program with a config written to a temporary stack file."""
    def run(config: dict[str, Any], stack: str = "custom") -> Deployment:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
        return deploy(Project(root=project.root, name=project.name, stack_dir=tmp_path), stack)

    return run
