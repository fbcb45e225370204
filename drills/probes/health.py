"""Is a region answering? One request, no retries — used to prove an outage took effect and
to detect one (the drill's health check)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.errors import RegionFenced


def region_refused(ctx: Any, region: str) -> tuple[bool, str | None]:
    """(refused, error code): HEAD the stack's bucket in ``region`` once, without retries."""
    bucket = ctx.outputs.archiveBucket if region == ctx.outputs.primaryRegion else ctx.outputs.replicaBucket
    try:
        s3 = ctx.client("s3", region, retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2)
        s3.head_bucket(Bucket=bucket)
    except RegionFenced:
        return True, "ClientFence"
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return code in ("AccessDenied", "403"), code
    except BotoCoreError as exc:
        return True, type(exc).__name__
    return False, None
