"""`drkit up`: offline deploy from the command line; exit codes 0 / 2 / 3 and what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from tests.helpers.projects import write_mini_project

@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_mini_project(
        tmp_path / "proj",
        badyaml="config:\n  aws:region: [us-east-1\n",
        mars="config:\n  aws:region: us-east-1\n  fixture:drRegion: mars-north-1\n")


def test_up_in_process_writes_outputs_and_never_claims_pulumi_ran(drkit, project: Path, tmp_path: Path) -> None:
    code, out, err = drkit("up", "--stack", "dev", "--project-dir", str(project), cwd=tmp_path)
    assert code == 0, err
    outputs = StackOutputs.load(tmp_path / "outputs.dev.json")
    assert outputs.archiveBucket.startswith("archive-")
    assert "deployed offline into the embedded cloud (simulated); pulumi up did not run" in err
    assert "stopped when the command ended" in err and "took" in err
    assert "aws:s3/bucket:Bucket" in err
    assert out == ""                                     # people read stderr


def test_up_json_and_outputs_file_into_a_running_cloud(drkit, project: Path, tmp_path: Path, cloud: EmbeddedCloud) -> None:
    target = tmp_path / "o.json"
    code, out, err = drkit("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", cloud.endpoint,
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
    code, out, err = drkit("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", cloud.endpoint,
                         "--outputs", str(target), "--json")
    again = json.loads(out)
    assert code == 0 and again["outputs"] == document["outputs"]
    assert all(r["reused"] for r in again["created"])
    assert "0 created" in err


def test_the_endpoint_may_come_from_the_environment(drkit, project: Path, tmp_path: Path, cloud: EmbeddedCloud) -> None:
    code, _, err = drkit("up", "--stack", "dev", "--project-dir", str(project), cwd=tmp_path,
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
def test_bad_input_exits_2(drkit, project: Path, tmp_path: Path, args, message: str) -> None:
    code, out, err = drkit("up", "--project-dir", str(project), *args, cwd=tmp_path)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "outputs.dev.json").exists()


def test_a_directory_without_a_project_exits_2(drkit, tmp_path: Path) -> None:
    code, _, err = drkit("up", "--project-dir", str(tmp_path))
    assert code == 2 and "no Pulumi.yaml" in err


def test_an_endpoint_that_does_not_answer_exits_3(closed_port, drkit, project: Path, tmp_path: Path) -> None:
    code, _, err = drkit("up", "--stack", "dev", "--project-dir", str(project),
                       "--endpoint", f"http://127.0.0.1:{closed_port}", cwd=tmp_path)
    assert code == 3, err
    assert "does not answer" in err and "Traceback" not in err


def test_a_malformed_endpoint_exits_2(drkit, project: Path) -> None:
    code, _, err = drkit("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", "ftp://x")
    assert code == 2 and "not an http(s) URL" in err
