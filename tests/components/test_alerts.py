"""components/alerts.py: alert topics in both regions that reach the configured people, and
EventBridge rules that raise an alert on every call weakening a control.

CloudTrail management events on EventBridge ("AWS API Call via CloudTrail"):
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html#eb-service-event-cloudtrail
SNS topic policy for EventBridge targets: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
"""

from __future__ import annotations

import json

from components.alerts import WATCHED_CALLS

TOPIC = "aws:sns/topic:Topic"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def topics(d) -> dict[str, object]:
    return {d.region(t): t for t in d.all(TOPIC)}


def test_a_topic_in_each_region_encrypted_with_that_regions_app_key(stack) -> None:
    t = topics(stack)
    assert set(t) == {stack.config.primary_region, stack.config.dr_region}
    assert t[stack.config.primary_region].inputs["kmsMasterKeyId"] == stack.key_arn("app")
    assert t[stack.config.dr_region].inputs["kmsMasterKeyId"] == stack.key_arn("app", dr=True)


def test_prod_subscriptions_reach_people_in_both_regions(prod) -> None:
    subs = prod.all(SUBSCRIPTION)
    configured = {(s.protocol.value, s.endpoint) for s in prod.config.alerts.subscriptions}
    assert configured and len(subs) == 2 * len(configured)
    for region, topic in topics(prod).items():
        mine = {(s.inputs["protocol"], s.inputs["endpoint"]) for s in subs if s.inputs["topic"] == topic.outputs["arn"]}
        assert mine == configured, region


def test_control_plane_changes_raise_alerts_in_both_regions(stack) -> None:
    rules = stack.all(RULE)
    targets = stack.all(TARGET)
    assert len(rules) == len(targets) == 2 * len(WATCHED_CALLS)
    for rule in rules:
        pattern = json.loads(rule.inputs["eventPattern"])
        assert pattern["detail-type"] == ["AWS API Call via CloudTrail"], rule.urn
        (source,) = pattern["source"]
        assert pattern["detail"]["eventName"] == list(WATCHED_CALLS[source.removeprefix("aws.")]), rule.urn
        (target,) = [t for t in targets if t.inputs["rule"] == rule.outputs["name"]]
        assert target.inputs["arn"] == topics(stack)[stack.region(rule)].outputs["arn"], target.urn
    kms = next(json.loads(r.inputs["eventPattern"]) for r in rules if "aws.kms" in r.inputs["eventPattern"])
    assert {"ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy", "CreateGrant"} <= set(kms["detail"]["eventName"])


def test_topic_policies_admit_the_rules_by_arn(stack) -> None:
    for policy in stack.all("aws:sns/topicPolicy:TopicPolicy"):
        by_sid = {s["Sid"]: s for s in policy.policy()["Statement"]}
        rules = by_sid["ControlPlaneEventRules"]["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert len(rules) == len(WATCHED_CALLS) and all(":rule/" in r or r.startswith("arn:") for r in rules)
        assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny", policy.urn
