"""The pack's policy list, and whole stacks checked against every policy."""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policies import rules
from policies.stackview import ROLE_TAGS, StackView
from tests.policies.stacks import stack_from
from tests.policies.harness import NOT_APPLICABLE, Stack, fired

CONTROL_ID = re.compile(r"CKV_AWS_\d+|CIS AWS \d|BACKUP_[A-Z_]+")


def test_pack_is_mandatory_and_names_are_unique() -> None:
    assert rules.PACK_NAME == "drkit-imaging"
    assert rules.ENFORCEMENT_LEVEL is EnforcementLevel.MANDATORY
    names = [p.name for p in rules.POLICIES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names), names


def test_every_policy_cites_its_control() -> None:
    missing = [p.name for p in rules.POLICIES if not CONTROL_ID.search(p.description)]
    assert missing == []


def test_production_aware_policies_declare_their_config() -> None:
    configurable = sorted(p.name for p in rules.POLICIES if p.config_schema is not None)
    assert configurable == ["backup-plan-cross-region-copy", "backup-vault-lock", "s3-bucket-object-lock"]
    for policy in rules.POLICIES:
        if policy.config_schema is not None:
            assert policy.config_schema.properties["productionStacks"]["default"] == ["prod"]


def test_policies_inherit_the_pack_enforcement_level() -> None:
    assert all(p.enforcement_level is None for p in rules.POLICIES)
    assert all(isinstance(p, (StackValidationPolicy, ResourceValidationPolicy)) for p in rules.POLICIES)


def test_prod_stack_passes_every_rule(prod_stack: Stack) -> None:
    assert fired(prod_stack, rules.POLICIES) == {}
    not_applicable = [p.name for p in rules.POLICIES if prod_stack.violations(p)[:1] and
                      prod_stack.violations(p)[0][0] == NOT_APPLICABLE]
    assert not_applicable == []


def test_dev_stack_passes_every_rule_that_applies(dev_stack: Stack) -> None:
    assert fired(dev_stack, rules.POLICIES) == {}
    skipped = [p.name for p in rules.POLICIES if dev_stack.violations(p)[:1] and
               dev_stack.violations(p)[0][0] == NOT_APPLICABLE]
    assert skipped == ["backup-plan-cross-region-copy"]


def test_staging_stack_passes_every_rule_that_applies() -> None:
    eu = stack_from("program", "eu")
    assert not StackView(eu.policy_resources()).production
    assert fired(eu, rules.POLICIES) == {}


def test_program_tags_every_bucket_with_its_role() -> None:
    """The contract the bucket rules rely on: components tag each bucket (``drkit-purpose``)."""
    prod = stack_from("program", "prod")
    view = StackView(prod.policy_resources())
    untagged = [b.name for b in view.buckets if not any(isinstance(b.props.get("tags", {}).get(t), str)
                                                        for t in ROLE_TAGS)]
    assert untagged == []
    roles = {view.role(b).value for b in view.buckets if view.role(b) is not None}
    assert roles == {"archive", "replica", "landing", "logs", "inventory", "evidence", "trail"}
    assert len([b for b in view.buckets if view.role(b) is None]) == 0
