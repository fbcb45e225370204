"""Offline deploy, monitoring and drills: CloudWatch alarms and log groups, CloudTrail trails
(with their event selectors) in moto; FIS experiment templates through the FIS API, which the
embedded cloud's simulation emulates for the actions drkit's drills use."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drills.aws import error_code
from drills.deploy.common import (DeployContext, Handler, Spec, api_param, as_bool, as_int,                                         outputs, short_hash, tag_list)

_ALARM_SCALARS = {"comparisonOperator": "ComparisonOperator", "metricName": "MetricName", "namespace": "Namespace",
                  "statistic": "Statistic", "extendedStatistic": "ExtendedStatistic", "unit": "Unit",
                  "alarmDescription": "AlarmDescription", "treatMissingData": "TreatMissingData",
                  "thresholdMetricId": "ThresholdMetricId",
                  "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile"}


def metric_alarm(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=255)
    kwargs: dict[str, Any] = {"AlarmName": name,
                              "EvaluationPeriods": as_int(spec.get("evaluationPeriods"), 1)}
    kwargs.update({api: spec.get(key) for key, api in _ALARM_SCALARS.items() if spec.get(key) is not None})
    for key, api in (("period", "Period"), ("datapointsToAlarm", "DatapointsToAlarm")):
        if spec.get(key) is not None:
            kwargs[api] = as_int(spec.get(key))
    if spec.get("threshold") is not None:
        kwargs["Threshold"] = float(spec.get("threshold"))
    for key, api in (("alarmActions", "AlarmActions"), ("okActions", "OKActions"),
                     ("insufficientDataActions", "InsufficientDataActions")):
        if spec.get(key):
            kwargs[api] = list(spec.get(key))
    if spec.get("actionsEnabled") is not None:
        kwargs["ActionsEnabled"] = as_bool(spec.get("actionsEnabled"))
    if spec.get("dimensions"):
        kwargs["Dimensions"] = [{"Name": k, "Value": str(v)} for k, v in spec.get("dimensions").items()]
    if spec.get("metricQueries"):
        kwargs["Metrics"] = [_query(q) for q in spec.get("metricQueries")]
    if spec.get("tags"):
        kwargs["Tags"] = tag_list(spec.get("tags"))
    cw = ctx.client("cloudwatch", spec.region)
    reused = bool(cw.describe_alarms(AlarmNames=[name]).get("MetricAlarms"))
    cw.put_metric_alarm(**kwargs)
    arn = f"arn:aws:cloudwatch:{spec.region}:{ctx.account_id}:alarm:{name}"
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name, arn=arn)


def _query(query: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": query["id"]}
    for key, api in (("expression", "Expression"), ("label", "Label"), ("accountId", "AccountId")):
        if query.get(key):
            out[api] = query[key]
    if query.get("returnData") is not None:
        out["ReturnData"] = as_bool(query["returnData"])
    if query.get("period") is not None:
        out["Period"] = as_int(query["period"])
    metric = query.get("metric")
    if metric:
        stat: dict[str, Any] = {"Metric": {"MetricName": metric["metricName"], "Namespace": metric["namespace"],
                                           "Dimensions": [{"Name": k, "Value": str(v)}
                                                          for k, v in (metric.get("dimensions") or {}).items()]},
                                "Period": as_int(metric.get("period"), 60), "Stat": metric.get("stat")}
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        out["MetricStat"] = stat
    return out


def log_group(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=512)
    logs = ctx.client("logs", spec.region)
    kwargs: dict[str, Any] = {"logGroupName": name}
    if spec.get("kmsKeyId"):
        kwargs["kmsKeyId"] = spec.get("kmsKeyId")
    if spec.get("tags"):
        kwargs["tags"] = {str(k): str(v) for k, v in spec.get("tags").items()}
    try:
        logs.create_log_group(**kwargs)
        reused = False
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        reused = True
    if spec.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=as_int(spec.get("retentionInDays")))
    arn = f"arn:aws:logs:{spec.region}:{ctx.account_id}:log-group:{name}"
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name, arn=arn)


def trail(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=128)
    ct = ctx.client("cloudtrail", spec.region)
    kwargs: dict[str, Any] = {"Name": name, "S3BucketName": spec.get("s3BucketName")}
    for key, api in (("s3KeyPrefix", "S3KeyPrefix"), ("snsTopicName", "SnsTopicName"), ("kmsKeyId", "KmsKeyId"),
                     ("cloudWatchLogsGroupArn", "CloudWatchLogsLogGroupArn"),
                     ("cloudWatchLogsRoleArn", "CloudWatchLogsRoleArn")):
        if spec.get(key):
            kwargs[api] = spec.get(key)
    for key, api, default in (("includeGlobalServiceEvents", "IncludeGlobalServiceEvents", True),
                              ("isMultiRegionTrail", "IsMultiRegionTrail", False),
                              ("enableLogFileValidation", "EnableLogFileValidation", False),
                              ("isOrganizationTrail", "IsOrganizationTrail", False)):
        kwargs[api] = as_bool(spec.get(key), default)
    try:                 # moto lets CreateTrail make a duplicate: look first
        ct.get_trail(Name=name)
        arn = ct.update_trail(**kwargs)["TrailARN"]
        reused = True
    except ClientError as exc:
        if error_code(exc) != "TrailNotFoundException":
            raise
        arn = ct.create_trail(**kwargs, **({"TagsList": tag_list(spec.get("tags"))} if spec.get("tags") else {}))[
            "TrailARN"]
        reused = False
    ignored: list[str] = []
    if spec.get("advancedEventSelectors"):
        ct.put_event_selectors(TrailName=name, AdvancedEventSelectors=api_param(
            "cloudtrail", "PutEventSelectors", "AdvancedEventSelectors", spec.get("advancedEventSelectors"), ignored))
    elif spec.get("eventSelectors"):
        ct.put_event_selectors(TrailName=name, EventSelectors=api_param(
            "cloudtrail", "PutEventSelectors", "EventSelectors", spec.get("eventSelectors"), ignored))
    if spec.get("insightSelectors"):
        ct.put_insight_selectors(TrailName=name, InsightSelectors=api_param(
            "cloudtrail", "PutInsightSelectors", "InsightSelectors", spec.get("insightSelectors"), ignored))
    ctx.note_ignored(spec, ignored)
    if as_bool(spec.get("enableLogging"), True):
        ct.start_logging(Name=name)
    else:
        ct.stop_logging(Name=name)
    ctx.record(spec, arn, reused=reused)
    return arn, outputs(spec, id=arn, arn=arn, name=name, homeRegion=spec.region)


def fis_template(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    """Created through the FIS API (the embedded cloud emulates FIS for the actions drills use)."""
    fis = ctx.client("fis", spec.region)
    tags = {str(k): str(v) for k, v in (spec.get("tags") or {}).items()}
    tags.setdefault("drkit-logical-name", spec.name)
    for summary in fis.list_experiment_templates().get("experimentTemplates", []):
        if summary.get("tags", {}).get("drkit-logical-name") == spec.name:
            template_id = summary["id"]
            ctx.record(spec, template_id, reused=True)
            return template_id, outputs(spec, id=template_id, arn=summary["arn"])
    targets = {t["name"]: _fis_target(t) for t in spec.get("targets") or []}
    actions = {a["name"]: _fis_action(a) for a in spec.get("actions") or []}
    kwargs: dict[str, Any] = {"clientToken": short_hash(ctx.stack, spec.name, length=32),
                              "description": spec.get("description") or "", "roleArn": spec.get("roleArn"),
                              "targets": targets, "actions": actions, "tags": tags,
                              "stopConditions": [{k: c[k] for k in ("source", "value") if c.get(k)}
                                                 for c in spec.get("stopConditions") or []]}
    options = spec.get("experimentOptions") or {}
    if options:
        kwargs["experimentOptions"] = {k: v for k, v in options.items()
                                       if k in ("accountTargeting", "emptyTargetResolutionMode")}
    template = fis.create_experiment_template(**kwargs)["experimentTemplate"]
    ctx.record(spec, template["id"])
    return template["id"], outputs(spec, id=template["id"], arn=template["arn"])


def _pairs(value: Any) -> dict[str, str]:
    """Pulumi's ``[{key, value}]`` lists (or plain maps) as a map."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {str(p["key"]): str(p["value"]) for p in value or []}


def _fis_target(target: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": target["resourceType"], "selectionMode": target.get("selectionMode", "ALL")}
    if target.get("resourceArns"):
        out["resourceArns"] = list(target["resourceArns"])
    if target.get("resourceTags"):
        out["resourceTags"] = _pairs(target["resourceTags"])
    if target.get("parameters"):
        out["parameters"] = _pairs(target["parameters"])
    return out


def _fis_action(action: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"actionId": action["actionId"], "parameters": _pairs(action.get("parameters"))}
    if action.get("description"):
        out["description"] = action["description"]
    target = action.get("target")
    if target:
        out["targets"] = _pairs([target] if isinstance(target, dict) and "key" in target else target)
    if action.get("startAfters"):
        out["startAfter"] = list(action["startAfters"])
    return out


HANDLERS: dict[str, Handler] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:cloudtrail/trail:Trail": trail,
    "aws:fis/experimentTemplate:ExperimentTemplate": fis_template,
}
