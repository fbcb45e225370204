"""`drkit gateway`: argument errors exit 2; a real run archives into the embedded cloud."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from drills.contracts import HASH_KEY_SECRET_TAGS, INDEX_ATTRIBUTE_DEFINITIONS, INDEX_KEY_SCHEMA, StackOutputs, archive_key
from drills.synth.dataset import generate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ae-title", "THIS_TITLE_IS_TOO_LONG"], "must not exceed 16 characters"),
        (["--ae-title", ""], "--ae-title must not be empty"),
        (["--allow-calling", "BAD\\AE"], "--allow-calling"),
        (["--port", "70000"], "70000 is not in the range"),
        ([], "needs --endpoint URL"),
        (["--endpoint", "http://127.0.0.1:9"], "needs --outputs FILE"),
        (["--endpoint", "http://127.0.0.1:9", "--outputs", "/nonexistent/outputs.json"], "no such outputs file"),
    ],
)
def test_bad_arguments_exit_2(drkit, args: list[str], message: str) -> None:
    code, _, err = drkit("gateway", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def stack(tmp_path: Path):
    """An embedded cloud holding an archive bucket, an index table and the hash-key secret."""
    from drills.cloud.server import EmbeddedCloud

    region = "us-east-1"
    with EmbeddedCloud() as cloud:
        target = cloud.target
        bucket, table = f"archive-{uuid.uuid4().hex[:12]}", f"index-{uuid.uuid4().hex[:8]}"
        s3 = target.client("s3", region)
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        target.client("dynamodb", region).create_table(
            TableName=table,
            KeySchema=INDEX_KEY_SCHEMA, AttributeDefinitions=INDEX_ATTRIBUTE_DEFINITIONS,
            BillingMode="PAY_PER_REQUEST",
        )
        target.client("secretsmanager", region).create_secret(
            Name=f"hash-key-{uuid.uuid4().hex[:8]}", SecretString="k" * 32,
            Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()],
        )
        outputs = StackOutputs.from_mapping({
            "schemaVersion": 1, "primaryRegion": region, "drRegion": "us-west-2",
            "archiveBucket": bucket, "replicaBucket": "replica", "landingBucket": "landing",
            "indexTable": table, "backupVault": "vault", "drBackupVault": "dr-vault",
            "evidenceBucket": "evidence", "multiRegionAccessPoint": "mrap",
            "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12},
        })
        outputs.write(tmp_path / "outputs.json")
        yield cloud, s3, bucket, tmp_path / "outputs.json"


def _start_gateway(endpoint: str, outputs: Path, port: int = 0) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-c", "from drills.cli import main; main()", "gateway", "--port", str(port),
         "--ae-title", "DRKIT_CLI", "--endpoint", endpoint, "--outputs", str(outputs), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.slow
def test_gateway_command_archives_until_interrupted(stack, tmp_path: Path) -> None:
    cloud, s3, bucket, outputs = stack
    manifest = generate(tmp_path / "set", 3, seed=4)
    proc = _start_gateway(cloud.endpoint, outputs)
    try:
        listening = json.loads(proc.stdout.readline())
        assert listening["event"] == "listening" and listening["aeTitle"] == "DRKIT_CLI"
        port = listening["port"]

        busy = _start_gateway(cloud.endpoint, outputs, port=port)
        _, busy_err = busy.communicate(timeout=60)
        assert busy.returncode == 2
        assert f"port {port} on 127.0.0.1 is already in use" in busy_err

        scu = AE(ae_title="CLI_TEST")
        scu.add_requested_context(Verification)
        datasets = [dcmread(manifest.root / e.path) for e in manifest.entries[:4]]
        for uid in {str(ds.SOPClassUID) for ds in datasets}:
            scu.add_requested_context(uid)
        assoc = scu.associate("127.0.0.1", port, ae_title="DRKIT_CLI")
        assert assoc.is_established
        try:
            assert assoc.send_c_echo().Status == 0x0000
            assert [assoc.send_c_store(ds).Status for ds in datasets] == [0x0000] * len(datasets)
        finally:
            assoc.release()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped["event"] == "stopped" and stopped["archived"] == len(datasets)
    assert "SYNTH^PATIENT" not in err and "SYNTH-" not in err   # no patient data in the log
    for ds in datasets:
        key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
