"""Every policy of the drkit-imaging pack, in the order the pack reports them."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

if __package__:
    from . import guard_rules, s3_rules, service_rules
else:  # run by the Pulumi language host as `python policies/`
    import guard_rules
    import s3_rules
    import service_rules

PACK_NAME = "drkit-imaging"
ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY
POLICIES: list[Policy] = [*s3_rules.POLICIES, *service_rules.POLICIES, *guard_rules.POLICIES]
