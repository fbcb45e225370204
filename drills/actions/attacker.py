"""The ransomware drill's attacker identity: an STS session of the stack's attacker role.

The stack declares two roles (``drkit:drill.attacker``; outputs ``attackerRoleArn`` and
``attackerBypassRoleArn``): broad write and delete rights on this stack's archive, replica, vaults
and index, the second also ``s3:BypassGovernanceRetention``. The drill assumes one with
``sts:AssumeRole`` (session ``drkit-ransomware-<run id>``, 15 minutes) and makes every attack
attempt with the session's credentials; everything else (manifests, containment, recovery,
verification) keeps the drill's own. Where the stack declares no such role, or the drill may not
assume it, the attempts run with the drill's own credentials and the identity is *not verified*:
what those credentials can do says nothing about what an attacker's can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.aws import Target, error_code
from drills.errors import RegionFenced

ROLES = ("attacker", "attacker-bypass")
SESSION_SECONDS = 900            # STS's minimum: the attack takes seconds


@dataclass(frozen=True)
class AttackerIdentity:
    """Who makes the attempts: ``target`` signs with the attacker session (None: the drill's own)."""

    role: str                    # "attacker" / "attacker-bypass": which role was asked for
    role_arn: str | None
    session_arn: str | None
    target: Target | None
    reason: str = ""             # why the identity is not verified ("" when it is)

    @property
    def verified(self) -> bool:
        return self.target is not None

    def describe(self) -> dict[str, Any]:
        """The journal's record of the identity (role ARNs, never data)."""
        if self.verified:
            return {"kind": "assumed-role", "role": self.role, "roleArn": self.role_arn,
                    "sessionArn": self.session_arn, "verified": True}
        return {"kind": "drill-credentials", "role": self.role, "roleArn": self.role_arn, "verified": False,
                "reason": self.reason}


def assume(ctx: Any, role: str) -> AttackerIdentity:
    """An STS session of the stack's ``role`` (``attacker`` / ``attacker-bypass``)."""
    out = ctx.outputs
    arn = out.attackerBypassRoleArn if role == "attacker-bypass" else out.attackerRoleArn
    output = "attackerBypassRoleArn" if role == "attacker-bypass" else "attackerRoleArn"
    if not arn:
        return AttackerIdentity(role, None, None, None, reason=(
            f"the stack declares no {role} role (no {output} output: drkit:drill.attacker.enabled is false): "
            "the attempts ran with the drill's own credentials, which show nothing about an attacker's"))
    session = f"drkit-ransomware-{ctx.run_id}"[:64] if ctx.run_id else "drkit-ransomware"
    try:
        resp = ctx.client("sts", out.primaryRegion).assume_role(RoleArn=arn, RoleSessionName=session,
                                                               DurationSeconds=SESSION_SECONDS)
    except ClientError as exc:
        code = error_code(exc) or "ClientError"
        return AttackerIdentity(role, arn, None, None, reason=(
            f"the drill may not assume {output} ({code}): is its principal in drkit:drill.attacker."
            "trustedPrincipalArns? The attempts ran with the drill's own credentials"))
    except BotoCoreError as exc:
        return AttackerIdentity(role, arn, None, None, reason=(
            f"could not assume {output} ({type(exc).__name__}): the attempts ran with the drill's own credentials"))
    creds = resp["Credentials"]
    target = ctx.target.assumed(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    return AttackerIdentity(role, arn, resp.get("AssumedRoleUser", {}).get("Arn"), target)


def clients(ctx: Any, identity: AttackerIdentity):
    """``client(service, region)`` for the attempts: the attacker session's, or the drill's own
    (fenced regions stay fenced either way)."""
    def client(service: str, region: str):
        if identity.target is None:
            return ctx.client(service, region)
        if region in ctx.fenced:
            raise RegionFenced(f"{region} is fenced off by the running drill (simulated region outage)")
        return identity.target.client(service, region)
    return client
