"""Shared fixtures for the embedded-cloud tests.

``cloud`` (alias ``embedded``): a started ``EmbeddedCloud``, function-scoped (a fresh moto
per test; starting one costs well under a second). ``cloud_factory`` starts one with custom
``SimSettings``. ``s3`` / ``client`` give boto3 clients through the cloud's ``Target``;
``bucket_name`` makes uuid bucket names. Fake AWS credentials are put in the environment
for every test here, so nothing can reach a real account. ``drkit`` runs the real command
line entry point in-process; ``closed_port`` is a local port nothing listens on.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli import main

from drills.cloud.server import EmbeddedCloud
from drills.cloud.simulation import SimSettings

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials/region; no profile or config file from the host is read."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "DRKIT_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return dict(FAKE_AWS_ENV)


@pytest.fixture
def cloud_factory() -> Iterator[Callable[..., EmbeddedCloud]]:
    """Start an ``EmbeddedCloud`` with given settings: ``cloud_factory(SimSettings(seed=3))``.

    Only one may run at a time (moto state is per process); it is stopped after the test.
    """
    started: list[EmbeddedCloud] = []

    def make(settings: SimSettings | None = None, port: int = 0) -> EmbeddedCloud:
        cloud = EmbeddedCloud(port=port, settings=settings).start()
        started.append(cloud)
        return cloud

    yield make
    for cloud in reversed(started):
        cloud.stop()


@pytest.fixture
def cloud(cloud_factory: Callable[..., EmbeddedCloud]) -> EmbeddedCloud:
    """A started embedded cloud with default settings (clock stands still: speed 0)."""
    return cloud_factory()


@pytest.fixture
def embedded(cloud: EmbeddedCloud) -> EmbeddedCloud:
    """Alias of ``cloud``."""
    return cloud


@pytest.fixture
def client(cloud: EmbeddedCloud) -> Callable[..., object]:
    """``client("dynamodb", "eu-west-1")`` -> boto3 client on the embedded cloud."""

    target = cloud.target        # one Target: it caches its clients

    def make(service: str, region: str = "us-east-1", **config: object):
        return target.client(service, region, **config)

    return make


@pytest.fixture
def s3(client):
    """S3 client in us-east-1 on the embedded cloud."""
    return client("s3", "us-east-1")


def new_bucket_name(prefix: str = "drkit-test") -> str:
    """A unique, valid S3 bucket name."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


@pytest.fixture
def bucket_name() -> Callable[[str], str]:
    """``bucket_name()`` / ``bucket_name("archive")`` -> a fresh uuid bucket name."""
    return new_bucket_name


DrkitRun = Callable[..., tuple[int, str, str]]


@pytest.fixture
def drkit() -> DrkitRun:
    """``drkit("cloud", "status", cwd=..., env={"DRKIT_ENDPOINT": url})`` -> (exit code, stdout,
    stderr): the real entry point (``drills.cli.main``, exit-code mapping included) inside
    CliRunner's isolation; ``env`` (None unsets) and ``cwd`` hold for that one call."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
        runner = CliRunner()
        with runner.isolation(env=env) as (out, err, _):
            previous = os.getcwd()
            if cwd is not None:
                os.chdir(cwd)
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                os.chdir(previous)
            sys.stdout.flush()
            sys.stderr.flush()
            return code, out.getvalue().decode(), err.getvalue().decode()

    return run


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with no listener (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
