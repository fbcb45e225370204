"""Turn boto3/botocore failures into drkit's InfraError family, naming what was being done."""

from __future__ import annotations

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError

from drills.aws import error_code
from drills.errors import EndpointUnreachable, InfraError

AWS_ERRORS = (ClientError, BotoCoreError, S3UploadFailedError)


def infra_error(exc: BaseException, doing: str) -> InfraError:
    """An InfraError for ``exc`` that says what failed: ``raise infra_error(exc, "...") from exc``."""
    if isinstance(exc, BotoConnectionError):
        return EndpointUnreachable(f"{doing}: endpoint unreachable ({exc})")
    code = error_code(exc)
    return InfraError(f"{doing}: {code + ': ' if code else ''}{exc}")
