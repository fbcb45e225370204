"""The DICOMweb app as an AWS Lambda handler (API Gateway HTTP API, payload 2.0), via Mangum.

Environment (set by ``components.dicomweb``): ``DRKIT_DICOMWEB_ROLE`` (primary|dr),
``DRKIT_DICOMWEB_REGION``, ``DRKIT_DICOMWEB_BUCKET``, ``DRKIT_DICOMWEB_TABLE``,
``DRKIT_DICOMWEB_WRITABLE`` ("true"/"false"). Authentication is the HTTP API's authorizer
(``auth.GatewayAuth``).

Note: API Gateway buffers responses (HTTP APIs do not stream), so on AWS a WADO-RS response
is bounded by Lambda's 6 MB response payload; large studies need series- or instance-level
requests there. The streaming path is what ``drkit dicomweb serve`` runs.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from drills.aws import Target
from drills.dicomweb.app import create_app
from drills.dicomweb.auth import GatewayAuth
from drills.dicomweb.source import ArchiveSource

ENV_ROLE = "DRKIT_DICOMWEB_ROLE"
ENV_REGION = "DRKIT_DICOMWEB_REGION"
ENV_BUCKET = "DRKIT_DICOMWEB_BUCKET"
ENV_TABLE = "DRKIT_DICOMWEB_TABLE"
ENV_WRITABLE = "DRKIT_DICOMWEB_WRITABLE"
ENV_CLAIMS = "DRKIT_DICOMWEB_CLAIMS_TABLE"      # optional: SOP Instance UID claims (STOW)
HANDLER = "drills.dicomweb.lambda_handler.handler"


@functools.lru_cache(maxsize=1)
def _adapter() -> Any:
    from mangum import Mangum

    source = ArchiveSource(target=Target(endpoint=None), role=os.environ[ENV_ROLE], region=os.environ[ENV_REGION],
                           bucket=os.environ[ENV_BUCKET], table=os.environ[ENV_TABLE],
                           writable=os.environ.get(ENV_WRITABLE, "false") == "true",
                           claims_table=os.environ.get(ENV_CLAIMS) or None)
    return Mangum(create_app(source, GatewayAuth()), lifespan="off")


def handler(event: dict, context: Any) -> dict:
    return _adapter()(event, context)
