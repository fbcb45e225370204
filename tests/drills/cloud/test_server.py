"""The embedded cloud is a real S3 endpoint: external peers (awscli, rclone) work against it.

Peers: awscli from $DRKIT_AWSCLI (``make test`` installs it in .venv/peers) or ``aws`` on
PATH; rclone on PATH. A missing peer skips its test with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from drills.cloud.server import EmbeddedCloud
from drills.errors import InfraError, UsageError


# ---------------------------------------------------------------- lifecycle of the server
def test_one_embedded_cloud_per_process(cloud, s3, bucket_name) -> None:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(InfraError, match="already running"):
        EmbeddedCloud().start()
    # the refused start reset nothing: the first cloud still serves its state
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]


def test_restart_gives_an_empty_cloud(bucket_name) -> None:
    first = EmbeddedCloud().start()
    try:
        s3 = first.target.client("s3", "us-east-1")
        s3.create_bucket(Bucket=bucket_name())
        first.clock.advance(3600)
        assert len(s3.list_buckets()["Buckets"]) == 1
    finally:
        first.stop()
    with EmbeddedCloud() as second:
        assert second.target.client("s3", "us-east-1").list_buckets()["Buckets"] == []
        assert second.sim.status()["behaviours"]["outage"]["down"] == []
    with pytest.raises(InfraError, match="not running"):
        second.endpoint


def test_busy_port_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is already in use") as err:
            EmbeddedCloud(port=port).start()
    assert err.value.exit_code == 2
    with EmbeddedCloud() as cloud:          # the failed start did not leave the process "in use"
        assert cloud.target.client("s3", "us-east-1").list_buckets()["Buckets"] == []


# ---------------------------------------------------------------- awscli
def _awscli() -> str:
    configured = os.environ.get("DRKIT_AWSCLI")
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            pytest.fail(f"DRKIT_AWSCLI={configured} is not an executable file")
        return configured
    found = shutil.which("aws")
    if found is None:
        pytest.skip("awscli not found: set DRKIT_AWSCLI or put `aws` on PATH (`make test` installs it)")
    return found


@pytest.fixture
def aws_env(tmp_path: Path) -> dict[str, str]:
    """Fake credentials and a config file with path-style addressing (awscli v1 defaults to virtual-host)."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")})
    return env


@pytest.mark.peer
@pytest.mark.slow
def test_awscli_round_trip(cloud, aws_env, tmp_path: Path, bucket_name) -> None:
    aws = _awscli()

    def run(*args: str) -> str:
        proc = subprocess.run([aws, "--endpoint-url", cloud.endpoint, *args], capture_output=True, text=True,
                              env=aws_env, timeout=120)
        assert proc.returncode == 0, f"aws {' '.join(args)} -> {proc.returncode}\n{proc.stderr}"
        return proc.stdout

    payload = os.urandom(3000) + b"DICM"
    local = tmp_path / "instance.dcm"
    local.write_bytes(payload)
    bucket = bucket_name("peer")
    run("s3", "mb", f"s3://{bucket}")
    run("s3", "cp", str(local), f"s3://{bucket}/dicom/1.2/3.4/5.6.dcm", "--checksum-algorithm", "SHA256")
    assert "5.6.dcm" in run("s3", "ls", f"s3://{bucket}/dicom/1.2/3.4/")
    head = json.loads(run("s3api", "head-object", "--bucket", bucket, "--key", "dicom/1.2/3.4/5.6.dcm",
                          "--checksum-mode", "ENABLED"))
    assert head["ContentLength"] == len(payload)
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(payload).digest()).decode()
    # what awscli wrote, boto3 (through drkit's Target) reads back byte for byte
    body = cloud.target.client("s3", "us-east-1").get_object(Bucket=bucket, Key="dicom/1.2/3.4/5.6.dcm")["Body"]
    assert body.read() == payload


# ---------------------------------------------------------------- rclone
@pytest.mark.peer
@pytest.mark.slow
def test_rclone_copy_and_check(cloud, tmp_path: Path, bucket_name) -> None:
    rclone = shutil.which("rclone")
    if rclone is None:
        pytest.skip("rclone not on PATH")
    source = tmp_path / "study"
    source.mkdir()
    for i in range(3):
        (source / f"{i}.dcm").write_bytes(os.urandom(1500 + i))
    bucket = bucket_name("rclone")
    cloud.target.client("s3", "us-east-1").create_bucket(Bucket=bucket)
    # REFERENCE.md: rclone fails on a plain-HTTP endpoint while AWS_CA_BUNDLE is set.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE" and not k.startswith("RCLONE_")}
    env.update({"RCLONE_CONFIG": str(tmp_path / "rclone.conf"), "RCLONE_CONFIG_DRKIT_TYPE": "s3",
                "RCLONE_CONFIG_DRKIT_PROVIDER": "Other", "RCLONE_CONFIG_DRKIT_ENDPOINT": cloud.endpoint,
                "RCLONE_CONFIG_DRKIT_ACCESS_KEY_ID": "testing", "RCLONE_CONFIG_DRKIT_SECRET_ACCESS_KEY": "testing",
                "RCLONE_CONFIG_DRKIT_REGION": "us-east-1", "RCLONE_CONFIG_DRKIT_FORCE_PATH_STYLE": "true"})
    remote = f"drkit:{bucket}/dicom"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([rclone, *args], capture_output=True, text=True, env=env, timeout=120)

    copied = run("copy", str(source), remote)
    assert copied.returncode == 0, copied.stderr
    checked = run("check", str(source), remote)
    assert checked.returncode == 0, checked.stderr
    assert "3 matching files" in checked.stderr
    (source / "1.dcm").write_bytes(os.urandom(1501))          # same size, other content
    assert run("check", str(source), remote).returncode != 0  # rclone notices: the endpoint is honest


def test_moto_corrections_last_only_while_a_cloud_runs() -> None:
    from moto.s3.models import FakeBucket

    from drills.cloud.server import EmbeddedCloud

    original = FakeBucket.get_permission
    with EmbeddedCloud():
        assert FakeBucket.get_permission is not original      # condition-blind evaluation off
    assert FakeBucket.get_permission is original               # mock_aws users get moto back
