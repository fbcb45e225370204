"""components/drill_templates.py: FIS pause-replication template, targeted by tag, guarded by alarms."""

from __future__ import annotations

from components.drill_templates import DRILL_TARGET_TAG, PAUSE_REPLICATION
from components.secure_bucket import PURPOSE_TAG

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"


def template(d):
    (t,) = d.all(TEMPLATE)
    return t


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def test_pause_replication_action_with_duration_and_dr_region(stack) -> None:
    t = template(stack)
    (action,) = t.inputs["actions"]
    assert action["actionId"] == PAUSE_REPLICATION == "aws:s3:bucket-pause-replication", t.urn
    params = {p["key"]: p["value"] for p in action["parameters"]}
    assert params["duration"] == f"PT{stack.config.drill.pause_minutes}M", t.urn
    assert params["region"] == stack.config.dr_region, t.urn
    assert params["destinationBuckets"] == bucket(stack, "replica").name, t.urn
    assert stack.region(t) == stack.config.primary_region, t.urn


def test_target_tag_selects_exactly_this_stacks_archive(stack) -> None:
    t = template(stack)
    (target,) = t.inputs["targets"]
    assert target["resourceType"] == "aws:s3:bucket", t.urn
    (tag,) = target["resourceTags"]
    matching = [b for b in stack.all("aws:s3/bucket:Bucket") if b.inputs["tags"].get(tag["key"]) == tag["value"]]
    assert tag["key"] == DRILL_TARGET_TAG and matching == [bucket(stack, "archive")], t.urn
    assert t.inputs["actions"][0]["target"] == {"key": "Buckets", "value": target["name"]}, t.urn


def test_experiment_fails_rather_than_skips_when_no_target_resolves(stack) -> None:
    assert template(stack).inputs["experimentOptions"] == {"emptyTargetResolutionMode": "fail"}


def test_stop_conditions_are_the_replication_failure_alarms(stack) -> None:
    t = template(stack)
    failed = {a.outputs["arn"] for a in stack.all("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.inputs["metricName"] == "OperationsFailedReplication"}
    assert failed and {s["value"] for s in t.inputs["stopConditions"]} == failed, t.urn
    assert {s["source"] for s in t.inputs["stopConditions"]} == {"aws:cloudwatch:alarm"}, t.urn


def test_role_may_pause_only_this_replication(stack) -> None:
    t = template(stack)
    role = next(r for r in stack.all("aws:iam/role:Role") if r.outputs["arn"] == t.inputs["roleArn"])
    assert role.policy("assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "fis.amazonaws.com"}
    (policy,) = [p for p in stack.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{role.name}-id"]
    s = {st["Sid"]: st for st in policy.policy()["Statement"]}
    assert s["PauseDestination"] == {"Sid": "PauseDestination", "Effect": "Allow", "Action": ["s3:PauseReplication"],
                                     "Resource": f"arn:aws:s3:::{bucket(stack, 'replica').name}"}
    assert s["SourceReplicationConfig"]["Resource"] == f"arn:aws:s3:::{bucket(stack, 'archive').name}"
    assert policy.urn in t.dependencies, t.urn
