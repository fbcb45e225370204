"""Deflate bombs: eight 300 KB instances that each inflate to ~300 MB, sent at once through
the gateway into the real Ingestor (moto in the same process): all quarantined with their
reason, and the process's peak RSS stays bounded (it reached 2.5 GB before the bound)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import deflate_bomb

BOMBS = 8
INFLATES_TO = 300 * 1024 * 1024
PEAK_RSS_LIMIT_MB = 400        # interpreter + pydicom + pynetdicom + moto + boto3 are ~200 MB of it

# The senders run in a process of their own: pynetdicom's C-STORE SCU reads a deflated file's
# data set to find its UIDs (inflating it in memory), which is the sender's cost, not drkit's.
SENDER = r'''
import json, sys, threading
from pynetdicom import AE, _config
from pydicom.uid import DeflatedExplicitVRLittleEndian, CTImageStorage
_config.STORE_SEND_CHUNKED_DATASET = True
port, paths = int(sys.argv[1]), sys.argv[2:]
statuses = []
def send(path):
    scu = AE(ae_title="SCU")
    scu.add_requested_context(CTImageStorage, [DeflatedExplicitVRLittleEndian])
    scu.acse_timeout = scu.dimse_timeout = scu.network_timeout = 120
    assoc = scu.associate("127.0.0.1", port, ae_title="BOMBS")
    try:
        statuses.append(assoc.send_c_store(path).Status)
    finally:
        assoc.release()
threads = [threading.Thread(target=send, args=(p,)) for p in paths]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(statuses))
'''

CHILD = r'''
import json, os, subprocess, sys
from pathlib import Path
os.environ.update({"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "eu-west-1"})
from moto import mock_aws
from drills.aws import Target
from drills.contracts import INDEX_TABLE_DEFINITION
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.gateway import Gateway
from drills.ingest.pseudonym import Pseudonymizer

sender, paths = sys.argv[1], sys.argv[2:]
with mock_aws():
    target = Target()
    target.client("s3", "eu-west-1").create_bucket(
        Bucket="archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    target.client("dynamodb", "eu-west-1").create_table(TableName="index", BillingMode="PAY_PER_REQUEST",
                                                        **INDEX_TABLE_DEFINITION)
    ingestor = Ingestor(IngestDestination(target, "eu-west-1", "archive", "index"), Pseudonymizer(b"k" * 32))
    with Gateway(ingestor, ae_title="BOMBS", port=0, max_associations=len(paths)) as gw:
        sent = subprocess.run([sys.executable, "-c", sender, str(gw.port), *paths], capture_output=True,
                              text=True, timeout=500, env=os.environ)
        assert sent.returncode == 0, sent.stderr[-2000:]
        statuses = json.loads(sent.stdout.strip().splitlines()[-1])
        counts = gw.stats.snapshot()
    reasons = [json.loads(target.client("s3", "eu-west-1").get_object(Bucket="archive", Key=o["Key"])["Body"].read())
               ["reason"] for o in target.client("s3", "eu-west-1").list_objects_v2(
                   Bucket="archive", Prefix="quarantine/")["Contents"] if o["Key"].endswith(".json")]
# VmHWM: the peak resident set of this process's own memory (the gateway, the ingest core and
# moto), not the senders'. Not ru_maxrss: Linux carries the forked parent's (pytest's) resident
# size into the child's ru_maxrss at exec, which would measure the test runner instead.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"statuses": statuses, "counts": counts, "reasons": reasons, "peakRssMB": peak_kb / 1024}))
'''


@pytest.mark.slow
def test_deflate_bombs_through_the_gateway_are_quarantined_with_bounded_memory(tmp_path: Path) -> None:
    bomb = deflate_bomb(INFLATES_TO)
    assert len(bomb) < 400 * 1024
    paths = [tmp_path / f"bomb{i}.dcm" for i in range(BOMBS)]
    for path in paths:
        path.write_bytes(bomb)
    repo = Path(__file__).resolve().parents[3]
    run = subprocess.run([sys.executable, "-c", CHILD, SENDER, *map(str, paths)], capture_output=True, text=True,
                         timeout=600, cwd=repo, env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [0xC000] * BOMBS, result
    assert result["counts"]["quarantined"] == BOMBS
    assert result["reasons"] == ["inflated-too-large"]          # identical bytes: quarantined once
    assert result["peakRssMB"] < PEAK_RSS_LIMIT_MB, result
