"""Multi-Region Access Point routes: fail over by turning the dials (S3 Control API).

SubmitMultiRegionAccessPointRoutes goes to one of the five failover-control Regions
(us-east-1, us-west-2, ap-southeast-2, ap-northeast-1, eu-west-1; API reference), never the
failed one; the drill picks the DR region when it is one of them. "It can take up to 2
minutes for your changes to take effect" (same page): after the dials read back as set, the
drill waits ``settleSeconds`` (default 120) on its clock before it counts routes as switched.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.clock import iso, poll
from drills.engine.model import ProbeResult, Status
from drills.engine.registry import action, probe

CONTROL_REGIONS = ("us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1", "eu-west-1")
SETTLE_SECONDS = 120.0


def mrap_account(arn: str) -> str:
    """``arn:aws:s3::<account>:accesspoint/<alias>`` -> account id."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "s3" or not parts[4].isdigit():
        raise ValueError(f"{arn!r} is not a Multi-Region Access Point ARN")
    return parts[4]


def control_region(run: Any) -> str:
    out = run.ctx.outputs
    avoid = set(run.ctx.fenced)
    if "loss_at" in run.state and "recovered_at" not in run.state:      # the primary is down
        avoid.add(out.primaryRegion)
    for region in (out.drRegion, out.primaryRegion, *CONTROL_REGIONS):
        if region in CONTROL_REGIONS and region not in avoid:
            return region
    raise ValueError("no failover-control Region is reachable")


def get_routes(run: Any) -> list[dict[str, Any]]:
    arn = run.ctx.outputs.multiRegionAccessPoint
    control = run.ctx.client("s3control", control_region(run))
    return control.get_multi_region_access_point_routes(AccountId=mrap_account(arn), Mrap=arn)["Routes"]


def _plan(run: Any, active: str = "dr", **_: Any) -> list[str]:
    return [f"s3control:SubmitMultiRegionAccessPointRoutes on {run.ctx.outputs.multiRegionAccessPoint} "
            f"({active} 100, the other 0)"]


@action("mrap-routes", {"active": {"enum": ["primary", "dr"]},
                        "settleSeconds": {"type": "number", "minimum": 0, "maximum": 600}},
        required=["active"], disruptive=True, plan=_plan)
def mrap_routes(run: Any, active: str, settleSeconds: float = SETTLE_SECONDS) -> ProbeResult:
    """Route the access point to one region (100) and away from the other (0)."""
    ctx = run.ctx
    out = ctx.outputs
    arn = out.multiRegionAccessPoint
    wanted_bucket = out.archiveBucket if active == "primary" else out.replicaBucket
    start = ctx.clock.now()
    try:
        region = control_region(run)
        control = ctx.client("s3control", region)
        before = get_routes(run)
        updates = [{"Bucket": r["Bucket"], "Region": r["Region"],
                    "TrafficDialPercentage": 100 if r["Bucket"] == wanted_bucket else 0} for r in before]
        if not any(r["Bucket"] == wanted_bucket for r in before):
            return ProbeResult(Status.FAILED, {"routes": before},
                               reason=f"the access point has no route to {wanted_bucket}")
        control.submit_multi_region_access_point_routes(AccountId=mrap_account(arn), Mrap=arn, RouteUpdates=updates)
        result = poll(ctx.clock, lambda: _dials_set(run, wanted_bucket), timeout_s=run.timeout_s, interval_s=5)
    except (ClientError, BotoCoreError, ValueError) as exc:
        return ProbeResult(Status.ERROR, {}, reason=f"route change failed: {exc}")
    if not result.satisfied:
        return ProbeResult(Status.FAILED, {"routes": result.value or []},
                           reason="the new dials were not reported within the timeout")
    ctx.clock.wait(settleSeconds)
    end = ctx.clock.now()
    run.state[f"routes_{active}_at"] = end
    if active == "dr" and "declared_at" in run.state:
        run.phase("fail over", run.state["declared_at"], end)
    return ProbeResult(Status.PASSED, {"control_region": region, "before": _dials(before),
                                       "after": _dials(get_routes(run)), "settle_s": settleSeconds,
                                       "switched_at": iso(end), "duration_s": (end - start).total_seconds()})


def _dials_set(run: Any, wanted_bucket: str) -> list[dict[str, Any]] | None:
    routes = get_routes(run)
    ok = all(r["TrafficDialPercentage"] == (100 if r["Bucket"] == wanted_bucket else 0) for r in routes)
    return routes if ok else None


def _dials(routes: list[dict[str, Any]]) -> dict[str, int]:
    return {r["Region"]: int(r["TrafficDialPercentage"]) for r in routes}


@probe("active-route", {"expect": {"enum": ["primary", "dr"]}}, required=["expect"])
def active_route(run: Any, expect: str) -> ProbeResult:
    """Which region the access point routes to (dial 100)."""
    out = run.ctx.outputs
    try:
        routes = get_routes(run)
    except (ClientError, BotoCoreError, ValueError) as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot read the routes: {exc}")
    active = sorted(r["Region"] for r in routes if r["TrafficDialPercentage"] > 0)
    wanted = out.primaryRegion if expect == "primary" else out.drRegion
    status = Status.PASSED if active == [wanted] else Status.FAILED
    return ProbeResult(status, {"active": active, "expected": wanted, "routes": _dials(routes)},
                       reason="" if status is Status.PASSED else f"traffic goes to {active}, expected [{wanted}]")
