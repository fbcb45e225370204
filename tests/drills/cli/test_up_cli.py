"""`drkit up`: offline deploy from the command line; exit codes 0 / 2 / 3 and what it prints."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli import main
from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from tests.drills.deploy.test_engine import write_mini_project

FAKE_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "DRKIT_ENDPOINT": None}


def run(*args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    """The real entry point (exit-code mapping included) inside CliRunner's isolation."""
    runner = CliRunner()
    with runner.isolation(env={**FAKE_ENV, **(env or {})}) as (out, err, _):
        import os
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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_mini_project(
        tmp_path / "proj",
        badyaml="config:\n  aws:region: [us-east-1\n",
        mars="config:\n  aws:region: us-east-1\n  fixture:drRegion: mars-north-1\n")


@pytest.fixture
def cloud() -> Iterator[EmbeddedCloud]:
    with EmbeddedCloud() as embedded:
        yield embedded


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_up_in_process_writes_outputs_and_never_claims_pulumi_ran(project: Path, tmp_path: Path) -> None:
    code, out, err = run("up", "--stack", "dev", "--project-dir", str(project), cwd=tmp_path)
    assert code == 0, err
    outputs = StackOutputs.load(tmp_path / "outputs.dev.json")
    assert outputs.archiveBucket.startswith("archive-")
    assert "deployed offline into the embedded cloud (simulated); pulumi up did not run" in err
    assert "stopped when the command ended" in err and "took" in err
    assert "aws:s3/bucket:Bucket" in err
    assert out == ""                                     # people read stderr


def test_up_json_and_outputs_file_into_a_running_cloud(project: Path, tmp_path: Path, cloud: EmbeddedCloud) -> None:
    target = tmp_path / "o.json"
    code, out, err = run("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", cloud.endpoint,
                         "--outputs", str(target), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["outputsFile"] == str(target) and document["target"] == "embedded-simulated"
    assert StackOutputs.load(target).to_dict() == document["outputs"]
    assert {r["type"] for r in document["created"]} >= {"aws:s3/bucket:Bucket", "aws:dynamodb/table:Table"}
    bucket = document["outputs"]["archiveBucket"]
    assert cloud.target.client("s3", "us-east-1").head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "stopped when the command ended" not in err
    # a second `up` into the same cloud reuses everything
    code, out, err = run("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", cloud.endpoint,
                         "--outputs", str(target), "--json")
    again = json.loads(out)
    assert code == 0 and again["outputs"] == document["outputs"]
    assert all(r["reused"] for r in again["created"])
    assert "0 created" in err


def test_the_endpoint_may_come_from_the_environment(project: Path, tmp_path: Path, cloud: EmbeddedCloud) -> None:
    code, _, err = run("up", "--stack", "dev", "--project-dir", str(project), cwd=tmp_path,
                       env={"DRKIT_ENDPOINT": cloud.endpoint})
    assert code == 0, err
    assert f"using the embedded cloud at {cloud.endpoint} ($DRKIT_ENDPOINT)" in err
    bucket = StackOutputs.load(tmp_path / "outputs.dev.json").archiveBucket
    assert cloud.target.client("s3", "us-east-1").head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("args, message", [
    (("--stack", "nope"), "unknown stack 'nope'"),
    (("--stack", "badyaml"), "not valid YAML"),
    (("--stack", "mars"), "'mars-north-1' is not an AWS region"),
    (("--stack", "dev", "--target", "aws"), "embedded cloud only"),
])
def test_bad_input_exits_2(project: Path, tmp_path: Path, args, message: str) -> None:
    code, out, err = run("up", "--project-dir", str(project), *args, cwd=tmp_path)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "outputs.dev.json").exists()


def test_a_directory_without_a_project_exits_2(tmp_path: Path) -> None:
    code, _, err = run("up", "--project-dir", str(tmp_path))
    assert code == 2 and "no Pulumi.yaml" in err


def test_an_endpoint_that_does_not_answer_exits_3(project: Path, tmp_path: Path) -> None:
    code, _, err = run("up", "--stack", "dev", "--project-dir", str(project),
                       "--endpoint", f"http://127.0.0.1:{closed_port()}", cwd=tmp_path)
    assert code == 3, err
    assert "does not answer" in err and "Traceback" not in err


def test_a_malformed_endpoint_exits_2(project: Path) -> None:
    code, _, err = run("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", "ftp://x")
    assert code == 2 and "not an http(s) URL" in err
