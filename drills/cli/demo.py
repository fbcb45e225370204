"""``drkit demo``: rehearse the foundation end to end on the embedded cloud.

Deploys the stack offline (Pulumi mocks as the engine, moto + simulation as the cloud),
writes a synthetic enterprise data set, ingests it through the ingest core and a few files
through the landing bucket's pipeline (the project's own Lambda handler, run in-process),
lets live replication run on the virtual clock, then checks every archived instance in the
DR replica by version id and by the SHA-256 of its bytes. Every figure is simulated.

Exit codes: 0 every archived instance verified in the replica, 1 some were not,
2 bad input, 3 infrastructure error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import ClientError, FlexibleChecksumError
from rich.console import Console
from rich.table import Table

from drills import jsonio
from drills.aws import OBJECT_NOT_FOUND, error_code
from drills.cli.common import emit_json, say
from drills.cloud.clock import SIMULATED
from drills.deploy.engine import DISCLAIMER, DeployResult, deploy
from drills.cloud.server import EmbeddedCloud, SimSettings
from drills.contracts import StackOutputs
from drills.errors import InfraError, UsageError
from drills.cli.progress import ingest_progress
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor, IngestResult, Outcome
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary
from drills.synth.dataset import generate
from drills.project import find_project

# Longer than the simulated replication tail (under RTC's 15 minutes).
REPLICATION_WINDOW = timedelta(minutes=20)
PIPELINE_SAMPLES = 3


@dataclass
class ReplicaCheck:
    """Archived instances looked up in the DR replica, by version id and checksum."""

    verified: int = 0
    missing: list[str] = field(default_factory=list)      # opaque labels (index in run), never UIDs
    mismatched: list[str] = field(default_factory=list)
    source_not_completed: int = 0

    @property
    def checked(self) -> int:
        return self.verified + len(self.missing) + len(self.mismatched)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "verified": self.verified, "missing": len(self.missing),
                "mismatched": len(self.mismatched), "sourceNotCompleted": self.source_not_completed}


@click.command("demo")
@click.option("--stack", default="dev", show_default=True, help="Stack to deploy offline.")
@click.option("--studies", type=click.IntRange(1, 400), default=16, show_default=True,
              help="Synthetic studies (the default is a few hundred instances: moto takes ~100 PUTs/s).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the synthetic data set and the simulation.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"), show_default=True,
              help="Directory for the data set, outputs.json and demo.json.")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Pulumi project directory (default: search upward from the working directory).")
@click.option("--json", "as_json", is_flag=True, help="Machine output on stdout; human text goes to stderr.")
def demo(stack: str, studies: int, seed: int, out: Path, project_dir: Path | None, as_json: bool) -> None:
    """Rehearse deploy, ingest and replication on the embedded cloud (all figures simulated)."""
    project = find_project(project_dir=project_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; name a directory")
    out.mkdir(parents=True, exist_ok=True)
    with EmbeddedCloud(settings=SimSettings(seed=seed)) as cloud:
        say(f"embedded cloud on {cloud.endpoint} (moto + simulation; figures are {SIMULATED})", bold=True)
        deployed = deploy(project, stack, cloud.target, cloud.sim)
        deployed.outputs.write(out / "outputs.json")
        _show_deploy(deployed)

        manifest = generate(out / "dataset", studies, seed)
        say(f"synthetic data set: {len(manifest.entries)} instances, {manifest.total_bytes / 1e6:.1f} MB, "
            f"{manifest.study_count} studies -> {out / 'dataset'}")

        summary = _ingest(cloud, deployed.outputs, out / "dataset")
        pipeline = _through_pipeline(cloud, deployed.outputs, manifest.paths()[:PIPELINE_SAMPLES])

        cloud.clock.advance(REPLICATION_WINDOW)
        say(f"virtual clock advanced {int(REPLICATION_WINDOW.total_seconds() // 60)} min ({SIMULATED})")
        expected = {e.sop_instance_uid: e.sha256 for e in manifest.entries}
        check = _check_replica(cloud, deployed.outputs, summary.results, expected)
        replication = cloud.control().status()["behaviours"]["replication"]
        index = _index_counts(cloud, deployed.outputs)

    document = {
        "command": "demo", "target": "embedded-simulated", "stack": stack, "engine": DISCLAIMER,
        "deploy": {"created": len(deployed.created), "declaredOnly": len(deployed.declared_only),
                   "durationSeconds": round(deployed.duration_seconds, 2)},
        "dataset": {"instances": len(manifest.entries), "bytes": manifest.total_bytes, "seed": seed},
        "ingest": {"counts": summary.counts, "quarantineReasons": summary.by_reason, "rates": summary.rates()},
        "pipeline": pipeline,
        "replication": {"lagSeconds": replication["lag"], "replica": check.to_dict(), "label": SIMULATED},
        "index": index,
        "verdict": "verified" if check.checked and check.verified == check.checked
        and not check.source_not_completed else "deviated",
    }
    (out / "demo.json").write_text(jsonio.dump_text(document))
    _show_result(document, out)
    if as_json:
        emit_json(document)
    if document["verdict"] != "verified":
        raise click.exceptions.Exit(1)


def _ingest(cloud: EmbeddedCloud, outputs: StackOutputs, dataset: Path) -> IngestSummary:
    dest = IngestDestination.from_outputs(outputs, cloud.target)
    ingestor = Ingestor(dest, Pseudonymizer.from_secret(cloud.target, dest.region))
    inputs = collect([dataset], exclude=["manifest.json"])
    summary = IngestSummary(simulated=True, destination={"archiveBucket": dest.archive_bucket})
    with ingest_progress(len(inputs.files)) as on_done:
        ingest_files(ingestor, inputs.files, summary, workers=8, on_done=on_done)
    if summary.failures:
        raise InfraError(f"{len(summary.failures)} instance(s) could not be ingested; first: {summary.failures[0].message}")
    counts = summary.counts
    say(f"ingest core: {counts['archived']} archived, {counts['duplicate']} duplicate, "
        f"{counts['conflict']} conflict, {counts['quarantined']} quarantined")
    return summary


def _through_pipeline(cloud: EmbeddedCloud, outputs: StackOutputs, samples: list[Path]) -> dict[str, Any]:
    """Drop a few instances and one non-DICOM file into the landing bucket; the pipeline
    (S3 -> SQS -> the project's Lambda handler, run in-process) archives or quarantines them."""
    s3 = cloud.target.client("s3", outputs.primaryRegion)
    versions_before = _dicom_versions(s3, outputs.archiveBucket)
    for n, path in enumerate(samples):
        s3.put_object(Bucket=outputs.landingBucket, Key=f"incoming/demo-{n}.dcm", Body=path.read_bytes())
    s3.put_object(Bucket=outputs.landingBucket, Key="incoming/not-dicom.txt", Body=b"scanner log, not an image\n")
    result = cloud.control().call("pipeline", "drain")
    listing = s3.list_objects_v2(Bucket=outputs.archiveBucket, Prefix="quarantine/").get("Contents", [])
    quarantined = sum(1 for item in listing if item["Key"].endswith(".json"))   # one reason file per input
    new_versions = _dicom_versions(s3, outputs.archiveBucket) - versions_before
    say(f"landing pipeline (S3 -> SQS -> the project's ingest handler, in-process): {len(samples)} already "
        f"archived instances re-sent -> {new_versions} new archive version(s); 1 non-DICOM file -> "
        f"{quarantined} input(s) quarantined with a reason")
    return {"delivered": len(samples) + 1, "drain": result, "quarantined": quarantined,
            "newArchiveVersions": new_versions}


def _dicom_versions(s3, bucket: str) -> int:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="dicom/")
    return sum(len(page.get("Versions", [])) for page in pages)


def _check_replica(cloud: EmbeddedCloud, outputs: StackOutputs, results: list[IngestResult],
                   expected_sha256: dict[str, str]) -> ReplicaCheck:
    """Every archived version must exist in the replica with the same version id, the same
    reported checksum, and bytes whose SHA-256 equals the source file's (from the synth
    manifest). The byte hash is the real check: a reported checksum is metadata that
    replication copies, so it cannot show the copied bytes are intact."""
    primary = cloud.target.client("s3", outputs.primaryRegion)
    replica = cloud.target.client("s3", outputs.drRegion)
    check = ReplicaCheck()
    archived = [r for r in results if r.outcome in (Outcome.ARCHIVED, Outcome.CONFLICT) and r.key]
    for n, result in enumerate(archived):
        label = f"instance-{n}"
        try:
            head = replica.head_object(Bucket=outputs.replicaBucket, Key=result.key, VersionId=result.version_id,
                                       ChecksumMode="ENABLED")
        except ClientError as exc:
            if error_code(exc) in OBJECT_NOT_FOUND:
                check.missing.append(label)
                continue
            raise InfraError(f"cannot read the replica bucket: {exc}") from exc
        if head.get("ChecksumSHA256") != result.checksum_sha256 or head.get("ReplicationStatus") != "REPLICA":
            check.mismatched.append(label)
            continue
        try:   # botocore also checks the body against the reported checksum while reading it
            body = replica.get_object(Bucket=outputs.replicaBucket, Key=result.key,
                                      VersionId=result.version_id)["Body"].read()
        except FlexibleChecksumError:
            check.mismatched.append(label)
            continue
        if hashlib.sha256(body).hexdigest() != expected_sha256.get(result.sop_instance_uid or ""):
            check.mismatched.append(label)
            continue
        check.verified += 1
        source = primary.head_object(Bucket=outputs.archiveBucket, Key=result.key, VersionId=result.version_id)
        if source.get("ReplicationStatus") != "COMPLETED":
            check.source_not_completed += 1
    return check


def _index_counts(cloud: EmbeddedCloud, outputs: StackOutputs) -> dict[str, Any]:
    counts = {}
    for region in (outputs.primaryRegion, outputs.drRegion):
        table = cloud.target.client("dynamodb", region)
        counts[region] = table.scan(TableName=outputs.indexTable, Select="COUNT")["Count"]
    return {"items": counts, "label": SIMULATED}


def _show_deploy(deployed: DeployResult) -> None:
    say(f"{DISCLAIMER}: {len(deployed.created)} resources created, "
        f"{len(deployed.declared_only)} declared but not emulated ({deployed.duration_seconds:.1f} s)")
    kinds = sorted({d.type.split(":")[1] for d in deployed.declared_only})
    if kinds:
        say(f"  declared-only: {', '.join(kinds)} (see `drkit up --json`)", dim=True)


def _show_result(document: dict[str, Any], out: Path) -> None:
    table = Table(title=f"drkit demo: stack {document['stack']} (embedded cloud, {SIMULATED})")
    table.add_column("check")
    table.add_column("result", justify="right")
    ingest = document["ingest"]["counts"]
    replica = document["replication"]["replica"]
    lag = document["replication"]["lagSeconds"]
    table.add_row("instances archived by the ingest core", str(ingest["archived"]))
    table.add_row("quarantined (with reason)", str(ingest["quarantined"]))
    table.add_row("archived instances in the DR replica (version, SHA-256 of the bytes)",
                  f"{replica['verified']}/{replica['checked']}")
    if lag.get("count"):
        table.add_row(f"replication lag p50 / p95 / max ({SIMULATED})",
                      f"{lag['p50']:.1f} s / {lag['p95']:.1f} s / {lag['max']:.1f} s")
    table.add_row(f"index items primary / DR replica ({SIMULATED} sync)",
                  " / ".join(str(v) for v in document["index"]["items"].values()))
    table.add_row("verdict", document["verdict"])
    Console(stderr=True).print(table)
    say(f"details: {out / 'demo.json'}; stack outputs: {out / 'outputs.json'}")
