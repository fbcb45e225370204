"""The ingest function's deployment package (drills.ingest.package): exactly the handler's
import closure plus pydicom, deterministic, and importable the way Lambda imports it — in a
clean interpreter whose only third-party packages are the runtime's boto3 and its dependencies.

Lambda's Python runtime provides the AWS SDK: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
(".zip deployment: … include the runtime's SDK or your own"); a function's code is its zip's
root on sys.path: https://docs.aws.amazon.com/lambda/latest/dg/python-package.html
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from drills.contracts import (ENV_ARCHIVE_BUCKET, ENV_HASH_KEY_SECRET, ENV_INDEX_TABLE, ENV_KMS_KEY_ID,
                              INDEX_ATTRIBUTE_DEFINITIONS, INDEX_KEY_SCHEMA, archive_key)
from drills.errors import InfraError
from drills.ingest import package

FIRST_PARTY = [
    "drills/__init__.py", "drills/aws.py", "drills/contracts.py", "drills/errors.py", "drills/ingest/__init__.py",
    "drills/ingest/checksum.py", "drills/ingest/claims.py", "drills/ingest/clients.py", "drills/ingest/core.py", "drills/ingest/failures.py",
    "drills/ingest/handler.py",
    "drills/ingest/identity.py", "drills/ingest/index.py", "drills/ingest/paths.py", "drills/ingest/pseudonym.py",
    "drills/ingest/reader.py", "drills/ingest/store.py",
    "drills/jsonio.py", "drills/times.py",
]


@pytest.fixture(scope="module")
def archive() -> bytes:
    return package.build()


def test_the_archive_holds_the_handler_closure_and_pydicom_only(archive: bytes) -> None:
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert [n for n in names if n.startswith("drills/")] == FIRST_PARTY
    others = {n.split("/")[0] for n in names if not n.startswith("drills/")}
    assert others == {"pydicom", next(o for o in others if o.startswith("pydicom-") and o.endswith(".dist-info"))}
    assert "pydicom/__init__.py" in names and "pydicom/dataset.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/test_files/" in n for n in names)
    for stage in ("cloud", "deploy", "cli", "engine", "synth", "probes", "actions", "reports", "dicomweb"):
        assert not any(n.startswith(f"drills/{stage}/") for n in names), stage
    assert len(archive) < package_limit()


def package_limit() -> int:
    from drills.deploy.messaging import MAX_ZIP_BYTES
    return MAX_ZIP_BYTES


def test_the_archive_is_deterministic(archive: bytes, tmp_path: Path) -> None:
    package._build.cache_clear()
    assert package.build() == archive
    infos = zipfile.ZipFile(io.BytesIO(archive)).infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}
    first = package.write(tmp_path)
    assert first.read_bytes() == archive and package.write(tmp_path) == first


def test_an_import_nobody_provides_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "drills" / "ingest").mkdir(parents=True)
    (tmp_path / "drills" / "__init__.py").write_text("")
    (tmp_path / "drills" / "ingest" / "__init__.py").write_text("")
    (tmp_path / "drills" / "ingest" / "handler.py").write_text(
        "import json\nimport boto3\nfrom drills.ingest import helper\n")
    (tmp_path / "drills" / "ingest" / "helper.py").write_text("def f():\n    import rich.console\n")
    modules, third_party = package.import_closure(tmp_path)
    assert modules == ["drills", "drills.ingest", "drills.ingest.handler", "drills.ingest.helper"]
    assert third_party == {"boto3", "rich"}
    with pytest.raises(InfraError, match="imports rich"):
        package.package_files(tmp_path)


def _runtime_site(directory: Path) -> Path:
    """A site directory holding only what Lambda's Python runtime provides: boto3 and its dependencies."""
    directory.mkdir()
    for name in sorted(package.RUNTIME_PROVIDED):
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        origin = Path(spec.origin or "")
        source = origin.parent if spec.submodule_search_locations else origin
        (directory / source.name).symlink_to(source)
    return directory


PROBE = """
import json, sys
code_dir, runtime_dir, endpoint, event, env = sys.argv[1:6]
sys.path[:0] = [code_dir, runtime_dir]
from drills.aws import Target
from drills.ingest.handler import handle
import drills, pydicom
assert drills.__file__.startswith(code_dir) and pydicom.__file__.startswith(code_dir), (drills.__file__, pydicom.__file__)
answer = handle(json.loads(event), None, target=Target(endpoint=endpoint), env=json.loads(env))
print(json.dumps({"answer": answer, "modules": sorted(m for m in sys.modules if m.split(".")[0] in
      ("drills", "pydicom", "rich", "click", "moto", "pulumi", "werkzeug"))}))
"""


@pytest.mark.slow
def test_the_handler_runs_from_the_unpacked_archive_in_a_clean_interpreter(
        archive: bytes, tmp_path: Path, cloud, make_dicom) -> None:
    code_dir = tmp_path / "task"
    zipfile.ZipFile(io.BytesIO(archive)).extractall(code_dir)
    runtime_dir = _runtime_site(tmp_path / "runtime")
    region = "us-east-1"
    s3 = cloud.target.client("s3", region)
    landing, archive_bucket, table = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("landing", "archive", "index"))
    for bucket in (landing, archive_bucket):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    cloud.target.client("dynamodb", region).create_table(
        TableName=table, KeySchema=INDEX_KEY_SCHEMA, AttributeDefinitions=INDEX_ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST")
    secret = cloud.target.client("secretsmanager", region).create_secret(Name=f"hash-{uuid.uuid4().hex[:8]}",
                                                                          SecretString="k" * 32)["ARN"]
    data = make_dicom()
    s3.put_object(Bucket=landing, Key="incoming/one.dcm", Body=data)
    notification = {"Records": [{"eventName": "ObjectCreated:Put", "awsRegion": region,
                                 "s3": {"bucket": {"name": landing}, "object": {"key": "incoming/one.dcm"}}}]}
    event = {"Records": [{"messageId": "m1", "body": json.dumps(notification)}]}
    env = {ENV_ARCHIVE_BUCKET: archive_bucket, ENV_INDEX_TABLE: table, ENV_HASH_KEY_SECRET: secret,
           ENV_KMS_KEY_ID: "", "AWS_REGION": region}

    run = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, str(code_dir), str(runtime_dir),
                          cloud.endpoint, json.dumps(event), json.dumps(env)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["answer"] == {"batchItemFailures": []}
    assert {m.split(".")[0] for m in result["modules"]} == {"drills", "pydicom"}
    assert not [m for m in result["modules"] if m.startswith(("drills.cloud", "drills.deploy", "drills.cli"))]
    import pydicom
    ds = pydicom.dcmread(io.BytesIO(data))
    key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert s3.get_object(Bucket=archive_bucket, Key=key)["Body"].read() == data
