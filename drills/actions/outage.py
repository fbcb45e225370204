"""Region outage. AWS has no API for one, so:

- embedded cloud: the outage behaviour over the control protocol (every call to the
  region fails, replication out of it waits);
- AWS: a client-side fence (``ctx.fenced``: drkit's own clients refuse the region) plus a
  scoped IAM deny on the drill's role (an inline policy named for the run denying every
  action where ``aws:RequestedRegion`` is the region), removed when the region "returns".

Either way the action then tries the region once and expects to be refused, so a fault that
did not take effect fails the drill instead of passing it. Disruptive: on AWS it needs
``--allow-prod`` (it changes the drill role's permissions).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from drills.engine.clock import iso, poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action
from drills.probes.health import region_refused


def _region(run: Any, which: str) -> str:
    return run.ctx.outputs.primaryRegion if which == "primary" else run.ctx.outputs.drRegion


def _policy_name(run: Any, region: str) -> str:
    return f"drkit-drill-{run.ctx.run_id}-deny-{region}"[:128]


def _plan(run: Any, region: str = "primary", state: str = "down") -> list[str]:
    name = _region(run, region)
    if run.ctx.target.simulated:
        return [f"embedded cloud: region {name} {state} (control protocol /_drkit/outage/{state})"]
    verb = "put" if state == "down" else "delete"
    return [f"client-side fence on {name}", f"iam:{verb.capitalize()}RolePolicy {_policy_name(run, name)} on the drill role"]


@action("region-outage", {"region": {"enum": ["primary", "dr"]}, "state": {"enum": ["down", "up"]}},
        required=["region", "state"], disruptive=True, plan=_plan)
def region_outage(run: Any, region: str, state: str) -> ProbeResult:
    """Take a region down or bring it back (embedded: outage behaviour; AWS: fence + IAM deny)."""
    ctx = run.ctx
    name = _region(run, region)
    output: dict[str, Any] = {"region": name, "state": state,
                              "mechanism": "embedded outage behaviour" if ctx.control is not None
                              else "client-side fence + IAM deny"}
    if state == "down":
        if ctx.control is not None:
            output["control"] = ctx.control.outage(name, True)
        else:
            ctx.fenced.add(name)
            output["iam_deny"] = _iam_deny(run, name, put=True)
            if output["iam_deny"]["applied"]:
                output["iam_deny"]["effective"] = _deny_effective(run, name)
                if not output["iam_deny"]["effective"]:
                    run.finding(Finding("iam-deny-not-effective", Severity.MEDIUM, output["iam_deny"]["role"],
                                        f"the drill role could still reach {name} after the deny policy was put; "
                                        "only the client-side fence held", {"policy": output["iam_deny"]["policy"]}))
        run.state["loss_at"] = ctx.clock.now()
        output["at"] = iso(run.state["loss_at"])
        refused, code = region_refused(ctx, name)
        run.attempt(f"s3:HeadBucket in {name}", "denied" if refused else "succeeded", code)
        output["probe_refused"] = refused
        if not refused:
            return ProbeResult(Status.FAILED, output, reason=f"{name} still answers: the outage did not take effect")
        return ProbeResult(Status.PASSED, output)
    if ctx.control is not None:
        output["control"] = ctx.control.outage(name, False)
    else:
        ctx.fenced.discard(name)
        output["iam_deny"] = _iam_deny(run, name, put=False)
    run.state["recovered_at"] = ctx.clock.now()
    output["at"] = iso(run.state["recovered_at"])
    return ProbeResult(Status.PASSED, output)


def _deny_effective(run: Any, region: str, wait_s: float = 120.0) -> bool:
    """IAM is eventually consistent: try the region (past the fence) until it is refused."""
    ctx = run.ctx
    bucket = ctx.outputs.archiveBucket if region == ctx.outputs.primaryRegion else ctx.outputs.replicaBucket
    s3 = ctx.target.client("s3", region, retries={"max_attempts": 1, "mode": "standard"})

    def denied() -> bool:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            return exc.response.get("Error", {}).get("Code") in ("AccessDenied", "403")
        return False

    result = poll(ctx.clock, denied, timeout_s=min(wait_s, run.timeout_s), interval_s=5)
    run.attempt(f"s3:HeadBucket in {region} (past the client fence)", "denied" if result.satisfied else "succeeded",
                "AccessDenied" if result.satisfied else None, result.attempts)
    return result.satisfied


def _iam_deny(run: Any, region: str, *, put: bool) -> dict[str, Any]:
    """Put/delete the run's deny-region inline policy on the drill's role (AWS only)."""
    ctx = run.ctx
    sts = ctx.target.client("sts", ctx.outputs.drRegion)
    arn = sts.get_caller_identity()["Arn"]
    if ":assumed-role/" not in arn:
        return {"applied": False, "reason": "the drill does not run under an IAM role; only the client-side fence applies"}
    role = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    iam = ctx.target.client("iam", "us-east-1")
    name = _policy_name(run, region)
    if put:
        # Global IAM/STS calls count as us-east-1: leave the drill able to lift its own deny.
        document = {"Version": "2012-10-17", "Statement": [{
            "Sid": "DrkitDrillRegionOutage", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}}}]}
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    else:
        try:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
    return {"applied": put, "role": role, "policy": name}


