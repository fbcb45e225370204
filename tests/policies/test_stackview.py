"""The stack view: safe property access, bucket roles, joins, preview unknowns."""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, PolicyCustomTimeouts
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy
from pulumi_policy.secret import Secret

from policies import s3_rules
from policies.rules import POLICIES
from policies.stackview import (UNKNOWN, BucketRole, StackView, count, elements, is_set, production_stacks, prop,
                                stack_name)
from tests.policies.harness import Stack, fired, hand_built_platform


def bucket(name: str, tags: dict | None = None) -> PolicyResource:
    props = unknown_checking_proxy({"bucket": name, **({"tags": tags} if tags is not None else {})})
    return PolicyResource("aws:s3/bucket:Bucket", props, f"urn:pulumi:prod::drkit::aws:s3/bucket:Bucket::{name}",
                          name, PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), []),
                          None, None, [], {})


# ---------------------------------------------------------------- property access
def test_prop_walks_maps_and_lists() -> None:
    props = unknown_checking_proxy({"rules": [{"status": "Enabled"}], "n": 3})
    assert prop(props, "rules", 0, "status") == "Enabled"
    assert prop(props, "rules", 1, "status", default="missing") == "missing"
    assert prop(props, "n", "deeper") is None
    assert prop(props, "rules", "status") is None


def test_prop_turns_preview_unknowns_into_UNKNOWN() -> None:
    props = unknown_checking_proxy({"bucket": UNKNOWN_STRING_VALUE, "a": {"b": UNKNOWN_BOOLEAN_VALUE}})
    assert prop(props, "bucket") is UNKNOWN
    assert prop(props, "a", "b") is UNKNOWN
    assert elements(unknown_checking_proxy({"rules": UNKNOWN_STRING_VALUE}), "rules") == [UNKNOWN]
    assert is_set(prop(props, "bucket"))


def test_unknown_has_no_truth_value() -> None:
    with pytest.raises(TypeError):
        bool(UNKNOWN)


def test_prop_unwraps_secrets() -> None:
    assert prop({"policy": Secret("{}")}, "policy") == "{}"


@pytest.mark.parametrize("value, expected", [(7, 7), (7.0, 7), (7.5, None), (True, None), ("7", None),
                                             (float("inf"), None), (None, None)])
def test_count_accepts_the_engines_float_numbers(value, expected) -> None:
    assert count(value) == expected


def test_stack_name_and_production_config() -> None:
    assert stack_name("urn:pulumi:prod::drkit::aws:s3/bucket:Bucket::x") == "prod"
    assert stack_name("not-a-urn") is None
    assert production_stacks({}) == ("prod",)
    assert production_stacks({"productionStacks": ["prod", "eu"]}) == ("prod", "eu")


# ---------------------------------------------------------------- roles
@pytest.mark.parametrize("name, tags, role", [
    ("anything", {"drkit-role": "evidence"}, BucketRole.EVIDENCE),
    ("anything", {"drkit-purpose": "archive"}, BucketRole.ARCHIVE),
    ("anything", {"drkit-purpose": "replica-access-logs"}, BucketRole.LOGS),
    ("anything", {"drkit-purpose": "archive-inventory"}, BucketRole.INVENTORY),
    ("anything", {"drkit-purpose": "cloudtrail"}, BucketRole.TRAIL),
    ("anything", {"drkit-role": "logs", "drkit-purpose": "archive"}, BucketRole.LOGS),   # drkit-role first
    ("imaging-archive", {"drkit-role": "replica"}, BucketRole.REPLICA),     # the tag wins over the name
    ("imaging-archive", {"drkit-role": "scratch"}, None),                    # a value outside the set
    ("imaging-archive", None, BucketRole.ARCHIVE),
    ("imaging-archive-bucket", None, BucketRole.ARCHIVE),
    ("platform-dr-archive", None, BucketRole.REPLICA),
    ("platform-archive-replica", None, BucketRole.REPLICA),
    ("platform-access-logs", None, BucketRole.LOGS),
    ("platform-dr-logs", None, BucketRole.LOGS),
    ("platform-cloudtrail", None, BucketRole.TRAIL),
    ("drkit-prod-monitoring-trail-logs", None, BucketRole.TRAIL),
    ("platform-ingest-landing", None, BucketRole.LANDING),
    ("platform-scratch", None, None),
])
def test_bucket_role(name: str, tags, role) -> None:
    res = bucket(name, tags)
    assert StackView([res]).role(res) == role


# ---------------------------------------------------------------- joins and preview
def test_settings_join_by_id_name_and_arn() -> None:
    stack = hand_built_platform()
    archive = stack.bucket("archive")
    versioning = stack.settings(archive, ":BucketVersioning")[0]
    for ref in (archive.id, archive.outputs["bucket"], archive.outputs["arn"]):
        stack.set(versioning, "bucket", ref)
        view = StackView(stack.policy_resources())
        target = view.referenced(next(r for r in view.resources if r.name == versioning.name), "bucket")
        assert target is not None and target.name == archive.name, ref


@pytest.mark.parametrize("with_deps", [True, False], ids=["with-deps", "without-deps"])
def test_preview_with_unknown_ids_raises_nothing_false(prod_stack: Stack, with_deps: bool) -> None:
    assert fired(prod_stack.as_preview(with_deps), POLICIES) == {}


def test_preview_joins_by_property_dependencies() -> None:
    preview = hand_built_platform().as_preview()
    landing = preview.bucket("landing")
    versioning = preview.settings(landing, ":BucketVersioning")
    assert len(versioning) == 1 and versioning[0].inputs["bucket"] == UNKNOWN_STRING_VALUE
    preview.set(versioning[0], "versioningConfiguration.status", "Suspended")
    found = fired(preview, s3_rules.POLICIES)
    assert list(found) == ["s3-bucket-versioning"] and f"'{landing.name}'" in found["s3-bucket-versioning"][0][0]


def test_preview_still_sees_a_missing_setting() -> None:
    preview = hand_built_platform().as_preview()
    archive = preview.bucket("archive")
    preview.remove(preview.settings(archive, ":BucketVersioning")[0])
    found = fired(preview, s3_rules.POLICIES)
    assert list(found) == ["s3-bucket-versioning"] and f"'{archive.name}'" in found["s3-bucket-versioning"][0][0]


def test_preview_without_dependencies_skips_instead_of_guessing() -> None:
    preview = hand_built_platform().as_preview(with_deps=False)
    archive = preview.bucket("archive")
    preview.remove(next(r for r in preview.of_type(":BucketVersioning") if r.name.startswith(archive.name)))
    assert fired(preview, s3_rules.POLICIES) == {}


# ---------------------------------------------------------------- production profile
def _with_environment_tag(stack: Stack, value: str) -> Stack:
    for provider in stack.of_type("pulumi:providers:aws"):
        stack.set(provider, "defaultTags", {"tags": {"drkit-environment": value}})
    return stack


@pytest.mark.parametrize("stack, environment, config, production", [
    ("prod", None, {}, True),
    ("dev", None, {}, False),
    ("dev", "prod", {}, True),             # the environment tag marks production whatever the stack name
    ("prod", "dev", {}, True),             # the stricter of the two wins
    ("eu", None, {"productionStacks": ["prod", "eu"]}, True),
    ("prod", None, {"productionStacks": ["live"]}, False),
])
def test_production_profile(stack: str, environment, config: dict, production: bool) -> None:
    platform = hand_built_platform(stack)
    if environment:
        _with_environment_tag(platform, environment)
    assert StackView(platform.policy_resources(), config).production is production


def test_environment_tag_on_resources_counts_too() -> None:
    platform = hand_built_platform("dev")
    archive = platform.bucket("archive")
    platform.set(archive, "tagsAll", {**archive.outputs["tags"], "drkit-environment": "prod"})
    assert StackView(platform.policy_resources()).production


def test_unknown_list_of_rules_is_skipped_not_reported() -> None:
    stack = hand_built_platform()
    archive = stack.bucket("archive")
    for suffix in (":BucketServerSideEncryptionConfiguration", ":BucketLifecycleConfiguration"):
        stack.set(stack.settings(archive, suffix)[0], "rules", UNKNOWN_STRING_VALUE)
    assert fired(stack, s3_rules.POLICIES) == {}


def test_unknown_lifecycle_filter_gets_the_benefit_of_the_doubt() -> None:
    stack = hand_built_platform()
    lifecycle = stack.settings(stack.bucket("archive"), ":BucketLifecycleConfiguration")[0]
    stack.set(lifecycle, "rules.0.filter", {"prefix": UNKNOWN_STRING_VALUE})
    assert fired(stack, s3_rules.POLICIES) == {}
