"""Offline deploy failures: each names what is wrong and carries its exit code
(2 bad stack/config/region, 3 the cloud does not answer or refuses a resource)."""

from __future__ import annotations

import socket

import pytest

from drills.aws import Target
from drills.deploy.engine import deploy
from drills.errors import ConfigError, EndpointUnreachable, InfraError, ProjectError, UsageError
from drills.project import find_project
from tests.helpers.projects import write_mini_project

NOWHERE = Target(endpoint="http://127.0.0.1:9")      # never contacted: the error comes first


@pytest.fixture
def project(tmp_path):
    return find_project(project_dir=write_mini_project(
        tmp_path / "proj",
        badyaml="config:\n  aws:region: [us-east-1\n",
        mars="config:\n  aws:region: mars-north-1\n",
        moon="config:\n  aws:region: us-east-1\n  fixture:drRegion: us-moon-7\n",
        failing="config:\n  aws:region: us-east-1\n  fixture:fail: 'yes'\n",
        badname="config:\n  aws:region: us-east-1\n  fixture:archiveName: Not_A_Valid_Bucket\n",
        badqueue="config:\n  aws:region: us-east-1\n  fixture:queueName: 'bad name!'\n"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unknown_stack(project) -> None:
    with pytest.raises(ProjectError, match="unknown stack 'nope'") as err:
        deploy(project, "nope", NOWHERE)
    assert err.value.exit_code == 2 and "dev" in str(err.value)


def test_broken_stack_yaml(project) -> None:
    with pytest.raises(ProjectError, match=r"Pulumi.badyaml.yaml: not valid YAML \(line \d+, column \d+\)") as err:
        deploy(project, "badyaml", NOWHERE)
    assert err.value.exit_code == 2


def test_unsupported_region_in_the_stack_config(project) -> None:
    with pytest.raises(UsageError, match="aws:region: 'mars-north-1' is not an AWS region") as err:
        deploy(project, "mars", NOWHERE)
    assert err.value.exit_code == 2


def test_aws_is_refused() -> None:
    with pytest.raises(UsageError, match="embedded cloud only"):
        deploy(None, "dev", Target(endpoint=None))  # type: ignore[arg-type]


def test_an_endpoint_that_does_not_answer(project) -> None:
    with pytest.raises(EndpointUnreachable, match="does not answer") as err:
        deploy(project, "dev", Target(endpoint=f"http://127.0.0.1:{free_port()}"))
    assert err.value.exit_code == 3


def test_unsupported_region_of_a_provider(project, cloud) -> None:
    with pytest.raises(UsageError, match="aws provider 'dr': 'us-moon-7'") as err:
        deploy(project, "moon", cloud.target, cloud.sim)
    assert err.value.exit_code == 2


def test_a_config_error_from_the_program_propagates_unchanged(project, cloud) -> None:
    with pytest.raises(ConfigError) as err:
        deploy(project, "failing", cloud.target, cloud.sim)
    assert err.value.key == "fixture:fail" and err.value.exit_code == 2


def test_a_resource_the_cloud_refuses_names_itself_and_the_aws_code(project, cloud) -> None:
    with pytest.raises(InfraError, match=r"aws:sqs/queue:Queue 'queue'.*InvalidParameterValue") as err:
        deploy(project, "badqueue", cloud.target, cloud.sim)
    assert err.value.exit_code == 3


def test_a_bucket_name_s3_would_refuse_is_refused_though_moto_takes_it(project, cloud) -> None:
    with pytest.raises(UsageError, match=r"'archive'.*'Not_A_Valid_Bucket' is invalid.*InvalidBucketName"):
        deploy(project, "badname", cloud.target, cloud.sim)


def test_replication_declared_without_a_dependency_on_versioning_is_applied(project, cloud) -> None:
    """The mini program declares replication before versioning, with no depends_on."""
    result = deploy(project, "dev", cloud.target, cloud.sim)
    rules = cloud.target.client("s3", "us-east-1").get_bucket_replication(
        Bucket=result.outputs.archiveBucket)["ReplicationConfiguration"]["Rules"]
    assert rules[0]["Destination"]["Bucket"] == f"arn:aws:s3:::{result.outputs.replicaBucket}"
    assert result.declared_only == []
