"""The DICOMweb function's zip runs on its own: unpacked next to nothing but what the Lambda
Python runtime provides (boto3 and its dependencies), the handler answers API Gateway
payload-2.0 events — 401 without credentials, 404 for an unknown route."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from drills.dicomweb import package
from drills.ingest.package import RUNTIME_PROVIDED

PROBE = r"""
import json, os, sys
os.environ.update(DRKIT_DICOMWEB_ROLE="dr", DRKIT_DICOMWEB_REGION="us-west-2", DRKIT_DICOMWEB_BUCKET="b",
                  DRKIT_DICOMWEB_TABLE="t", AWS_DEFAULT_REGION="us-west-2")
from drills.dicomweb.lambda_handler import handler
def event(headers):
    return {"version": "2.0", "routeKey": "$default", "rawPath": "/nowhere", "rawQueryString": "",
            "headers": headers, "isBase64Encoded": False,
            "requestContext": {"http": {"method": "GET", "path": "/nowhere", "protocol": "HTTP/1.1",
                                        "sourceIp": "192.0.2.1", "userAgent": "t"},
                               "domainName": "x.execute-api.us-west-2.amazonaws.com", "stage": "$default",
                               "requestId": "r", "accountId": "1", "apiId": "x"}}
print(json.dumps([handler(event({}), None)["statusCode"],
                  handler(event({"authorization": "Bearer x"}), None)["statusCode"],
                  sorted(m for m in sys.modules if m.split(".")[0] in ("starlette", "jwt", "mangum"))[:1]]))
"""


def _runtime_dir(tmp: Path) -> Path:
    """boto3 and its dependencies only, as the Lambda runtime has them."""
    provided = tmp / "runtime"
    provided.mkdir()
    for top in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (provided / source.name).symlink_to(source)
    return provided


def test_the_zip_is_deterministic_and_holds_no_native_code():
    data = package.build()
    names = zipfile.ZipFile(__import__("io").BytesIO(data)).namelist()
    assert names == sorted(names)
    assert "drills/dicomweb/lambda_handler.py" in names and "starlette/applications.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyc")) or n.startswith(("drills/cloud", "drills/cli"))]


def test_the_unpacked_zip_answers_api_gateway_events(tmp_path):
    function = tmp_path / "function"
    zipfile.ZipFile(package.write(tmp_path)).extractall(function)
    runtime = _runtime_dir(tmp_path)
    code = f"import sys; sys.path[:0] = [{str(function)!r}, {str(runtime)!r}]\n" + PROBE
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    unauthenticated, unknown_route, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert (unauthenticated, unknown_route) == (401, 404)
    assert loaded and loaded[0].startswith(str("jwt"))
