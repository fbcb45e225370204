"""Pulumi projects written to disk for deploy and CLI tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

DEV_STACK = """\
config:
  aws:region: us-east-1
  fixture:drRegion: us-west-2
"""


# A small program with every stack output, for tests that need a deploy but not every family.
MINI_PROGRAM = '''\
import pulumi
import pulumi_aws as aws

cfg = pulumi.Config("fixture")
dr_region = cfg.get("drRegion") or "us-west-2"
if cfg.get("fail"):
    from drills.errors import ConfigError
    raise ConfigError("fixture:fail", "this stack asks the program to fail")
primary = pulumi.ResourceOptions(provider=aws.Provider("primary", region="us-east-1"))
dr = pulumi.ResourceOptions(provider=aws.Provider("dr", region=dr_region))
archive = aws.s3.Bucket("archive", bucket=cfg.get("archiveName"), opts=primary)
replica = aws.s3.Bucket("replica", opts=dr)
replication = aws.s3.BucketReplicationConfig("replication", bucket=archive.id, role="arn:aws:iam::123456789012:role/r",
    rules=[{"id": "all", "status": "Enabled", "filter": {"prefix": ""}, "delete_marker_replication": {"status": "Enabled"},
            "destination": {"bucket": replica.arn}}], opts=primary)
for name, bucket, opts in (("archive", archive, primary), ("replica", replica, dr)):
    aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"},
                            opts=opts)
landing = aws.s3.Bucket("landing", opts=primary)
evidence = aws.s3.Bucket("evidence", opts=primary)
table = aws.dynamodb.Table("index", attributes=[{"name": "k", "type": "S"}], hash_key="k",
                           billing_mode="PAY_PER_REQUEST", opts=primary)
vault = aws.backup.Vault("vault", opts=primary)
if cfg.get("queueName"):
    aws.sqs.Queue("queue", name=cfg.get("queueName"), opts=primary)
dr_vault = aws.backup.Vault("dr-vault", opts=dr)
pulumi.export("schemaVersion", 1)
pulumi.export("primaryRegion", "us-east-1")
pulumi.export("drRegion", dr_region)
pulumi.export("archiveBucket", archive.bucket)
pulumi.export("replicaBucket", replica.bucket)
pulumi.export("landingBucket", landing.bucket)
pulumi.export("indexTable", table.name)
pulumi.export("backupVault", vault.name)
pulumi.export("drBackupVault", dr_vault.name)
pulumi.export("evidenceBucket", evidence.bucket)
pulumi.export("multiRegionAccessPoint", "arn:aws:s3::123456789012:accesspoint/none.mrap")
pulumi.export("objectives", {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 4})
'''


def write_project(root: Path, program: str, stacks: dict[str, str] | None = None,
                  name: str = "fixture") -> Path:
    """A Pulumi project on disk: Pulumi.yaml, stacks/Pulumi.<stack>.yaml, __main__.py, fn/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\nstackConfigDir: stacks\n")
    (root / "stacks").mkdir(exist_ok=True)
    for stack, text in (stacks or {"dev": DEV_STACK}).items():
        (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(text))
    (root / "__main__.py").write_text(program)
    (root / "fn").mkdir(exist_ok=True)
    (root / "fn" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    return root


# ----------------------------------------------------------------------------- one deploy, many checks


def write_mini_project(root: Path, **stacks: str) -> Path:
    """MINI_PROGRAM with stack ``dev`` plus any ``name=yaml`` stacks given."""
    return write_project(root, MINI_PROGRAM, {"dev": DEV_STACK, **stacks})
