"""Offline deploy, messaging and compute: SQS queues, SNS topics, Lambda functions and their
SQS event source mappings. moto stores a function (its zip is built from the program's
archive) but cannot run it here; the ``pipeline`` behaviour runs drkit's handler instead."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pulumi
from botocore.exceptions import ClientError

from drills.aws import RESOURCE_NOT_FOUND, error_code
from drills.deploy.common import (DeployContext, Handler, Spec, api_param, arn_region, arn_resource, as_bool,
                                  as_int, outputs, tag_list)
from drills.errors import InfraError
from drills.ingest.package import zip_info

MAX_ZIP_BYTES = 50 * 1024 * 1024      # Lambda's limit for a zip uploaded directly

# Queue inputs -> SQS attribute names.
_QUEUE_ATTRIBUTES = {
    "visibilityTimeoutSeconds": "VisibilityTimeout", "messageRetentionSeconds": "MessageRetentionPeriod",
    "maxMessageSize": "MaximumMessageSize", "delaySeconds": "DelaySeconds",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds", "policy": "Policy", "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy", "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication", "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds", "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "deduplicationScope": "DeduplicationScope", "fifoThroughputLimit": "FifoThroughputLimit",
}
_TOPIC_ATTRIBUTES = {"kmsMasterKeyId": "KmsMasterKeyId", "policy": "Policy", "displayName": "DisplayName",
                     "deliveryPolicy": "DeliveryPolicy", "fifoTopic": "FifoTopic", "signatureVersion": "SignatureVersion",
                     "contentBasedDeduplication": "ContentBasedDeduplication", "tracingConfig": "TracingConfig"}


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ----------------------------------------------------------------------------- SQS

def queue(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    fifo = as_bool(spec.get("fifoQueue"))
    name = ctx.physical_name(spec, max_len=80, suffix=".fifo" if fifo and not spec.get("name") else "")
    sqs = ctx.client("sqs", spec.region)
    attributes = {api: _attr(spec.get(key)) for key, api in _QUEUE_ATTRIBUTES.items() if spec.get(key) is not None}
    kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if spec.get("tags"):
        kwargs["tags"] = {str(k): str(v) for k, v in spec.get("tags").items()}
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        reused = True
    except ClientError as exc:
        if error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        url = sqs.create_queue(**kwargs)["QueueUrl"]
        reused = False
    arn = f"arn:aws:sqs:{spec.region}:{ctx.account_id}:{name}"
    ctx.queue_regions[url] = spec.region
    ctx.record(spec, url, reused=reused)
    return url, outputs(spec, id=url, url=url, arn=arn, name=name)


def _queue_client(ctx: DeployContext, spec: Spec, url: str):
    return ctx.client("sqs", ctx.queue_regions.get(url, spec.region))


def queue_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    url = str(spec.get("queueUrl"))
    _queue_client(ctx, spec, url).set_queue_attributes(QueueUrl=url, Attributes={"Policy": str(spec.get("policy"))})
    ctx.record(spec, url, reused=ctx.existed(url))
    return url, outputs(spec, id=url)


def redrive_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    url = str(spec.get("queueUrl"))
    _queue_client(ctx, spec, url).set_queue_attributes(
        QueueUrl=url, Attributes={"RedrivePolicy": str(spec.get("redrivePolicy"))})
    ctx.record(spec, url, reused=ctx.existed(url))
    return url, outputs(spec, id=url)


# ----------------------------------------------------------------------------- SNS

def topic(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    fifo = as_bool(spec.get("fifoTopic"))
    name = ctx.physical_name(spec, max_len=256, suffix=".fifo" if fifo and not spec.get("name") else "")
    sns = ctx.client("sns", spec.region)
    attributes = {api: _attr(spec.get(key)) for key, api in _TOPIC_ATTRIBUTES.items() if spec.get(key) is not None}
    arn = f"arn:aws:sns:{spec.region}:{ctx.account_id}:{name}"
    try:
        sns.get_topic_attributes(TopicArn=arn)
        reused = True
        for attr, value in attributes.items():
            sns.set_topic_attributes(TopicArn=arn, AttributeName=attr, AttributeValue=value)
    except ClientError as exc:
        if error_code(exc) not in RESOURCE_NOT_FOUND:
            raise
        kwargs: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if spec.get("tags"):
            kwargs["Tags"] = tag_list(spec.get("tags"))
        arn = sns.create_topic(**kwargs)["TopicArn"]
        reused = False
    ctx.record(spec, arn, reused=reused)
    return arn, outputs(spec, id=arn, arn=arn, name=name)


def topic_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    arn = str(spec.get("arn"))
    ctx.client("sns", arn_region(arn) or spec.region).set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=str(spec.get("policy")))
    ctx.record(spec, arn, reused=ctx.existed(arn))
    return arn, outputs(spec, id=arn, owner=ctx.account_id)


def topic_subscription(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    topic_arn = str(spec.get("topic"))
    attributes = {api: _attr(spec.get(key)) for key, api in (("rawMessageDelivery", "RawMessageDelivery"),
                                                           ("filterPolicy", "FilterPolicy"),
                                                           ("redrivePolicy", "RedrivePolicy"))
                  if spec.get(key) is not None}
    resp = ctx.client("sns", arn_region(topic_arn) or spec.region).subscribe(
        TopicArn=topic_arn, Protocol=spec.get("protocol"), Endpoint=spec.get("endpoint"),
        Attributes=attributes, ReturnSubscriptionArn=True)
    arn = resp["SubscriptionArn"]
    ctx.record(spec, arn, reused=ctx.existed(topic_arn))
    return arn, outputs(spec, id=arn, arn=arn, ownerId=ctx.account_id)


# ----------------------------------------------------------------------------- Lambda

def function(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=64)
    lam = ctx.client("lambda", spec.region)
    config: dict[str, Any] = {"FunctionName": name, "Role": spec.get("role")}
    for src, dst in (("handler", "Handler"), ("runtime", "Runtime"), ("description", "Description"),
                     ("kmsKeyArn", "KMSKeyArn")):
        if spec.get(src):
            config[dst] = spec.get(src)
    for src, dst in (("timeout", "Timeout"), ("memorySize", "MemorySize")):
        if spec.get(src) is not None:
            config[dst] = as_int(spec.get(src))
    config["Environment"] = {"Variables": {str(k): str(v) for k, v in
                                           (spec.get("environment", {}).get("variables") or {}).items()}}
    ignored: list[str] = []
    for src, dst in (("deadLetterConfig", "DeadLetterConfig"), ("tracingConfig", "TracingConfig"),
                     ("ephemeralStorage", "EphemeralStorage"), ("loggingConfig", "LoggingConfig"),
                     ("vpcConfig", "VpcConfig")):
        if spec.get(src):
            config[dst] = api_param("lambda", "CreateFunction", dst, spec.get(src), ignored)
    ctx.note_ignored(spec, ignored)
    code = _code(ctx, spec)
    try:
        meta = lam.create_function(**config, Code=code, PackageType=spec.get("packageType", "Zip"),
                                   Architectures=list(spec.get("architectures") or ["x86_64"]),
                                   Tags={str(k): str(v) for k, v in (spec.get("tags") or {}).items()},
                                   Publish=as_bool(spec.get("publish")))
        reused = False
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
        meta = lam.update_function_configuration(**config)
        if "ZipFile" in code or "S3Bucket" in code:
            lam.update_function_code(FunctionName=name, **code)
        reused = True
    if spec.get("reservedConcurrentExecutions") is not None:
        lam.put_function_concurrency(FunctionName=name,
                                     ReservedConcurrentExecutions=as_int(spec.get("reservedConcurrentExecutions")))
    arn = meta["FunctionArn"]
    invoke = f"arn:aws:apigateway:{spec.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name, arn=arn, invokeArn=invoke, qualifiedArn=f"{arn}:$LATEST",
                         qualifiedInvokeArn=invoke, version=meta.get("Version", "$LATEST"),
                         sourceCodeHash=meta.get("CodeSha256"), sourceCodeSize=meta.get("CodeSize"),
                         lastModified=meta.get("LastModified"))


def _code(ctx: DeployContext, spec: Spec) -> dict[str, Any]:
    if spec.get("s3Bucket"):
        code = {"S3Bucket": spec.get("s3Bucket"), "S3Key": spec.get("s3Key")}
        if spec.get("s3ObjectVersion"):
            code["S3ObjectVersion"] = spec.get("s3ObjectVersion")
        return code
    if spec.get("imageUri"):
        return {"ImageUri": spec.get("imageUri")}
    archive = spec.inputs.get("code")
    if archive is None:
        raise InfraError(f"{spec.label}: declares no code (code, s3Bucket/s3Key or imageUri)")
    data = build_zip(archive, Path(ctx.base_dir or "."))
    if len(data) > MAX_ZIP_BYTES:
        raise InfraError(f"{spec.label}: the code archive is {len(data) // 2**20} MiB zipped; Lambda takes at "
                         f"most {MAX_ZIP_BYTES // 2**20} MiB uploaded directly")
    return {"ZipFile": data}


def build_zip(archive: Any, base_dir: Path) -> bytes:
    """Zip a Pulumi AssetArchive / FileArchive / asset the way the engine would upload it.
    Relative paths resolve against the project directory (where Pulumi runs the program).
    A FileArchive of a zip file is that file's bytes; anything else is zipped
    deterministically (sorted, fixed timestamps and permissions), so a redeploy of unchanged
    code uploads the same bytes."""
    if isinstance(archive, pulumi.FileArchive) and (base_dir / archive.path).is_file():
        path = base_dir / archive.path
        if not zipfile.is_zipfile(path):
            raise InfraError(f"archive {path}: not a directory or a zip file")
        return path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        _add(zf, "", archive, base_dir)
    return buf.getvalue()


def _add(zf: zipfile.ZipFile, prefix: str, item: Any, base_dir: Path) -> None:
    if isinstance(item, pulumi.AssetArchive):
        for name, sub in sorted(item.assets.items()):
            _add(zf, f"{prefix}{name}" if not prefix else f"{prefix}/{name}", sub, base_dir)
    elif isinstance(item, pulumi.FileArchive):
        path = base_dir / item.path
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for fname in sorted(files):
                    full = Path(root) / fname
                    rel = full.relative_to(path).as_posix()
                    zf.writestr(zip_info(f"{prefix}/{rel}" if prefix else rel), full.read_bytes())
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as src:
                for info in src.infolist():
                    zf.writestr(zip_info(f"{prefix}/{info.filename}" if prefix else info.filename),
                                src.read(info))
        else:
            raise InfraError(f"archive {path}: not a directory or a zip file")
    elif isinstance(item, pulumi.FileAsset):
        zf.writestr(zip_info(prefix or Path(item.path).name), (base_dir / item.path).read_bytes())
    elif isinstance(item, pulumi.StringAsset):
        zf.writestr(zip_info(prefix or "asset.txt"), item.text)
    else:
        raise InfraError(f"cannot build a zip from {type(item).__name__} offline (remote assets need the network)")


def event_source_mapping(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    lam = ctx.client("lambda", spec.region)
    source, fn = spec.get("eventSourceArn"), str(spec.get("functionName"))
    settings: dict[str, Any] = {}
    if spec.get("batchSize") is not None:
        settings["BatchSize"] = as_int(spec.get("batchSize"))
    if spec.get("maximumBatchingWindowInSeconds") is not None:
        settings["MaximumBatchingWindowInSeconds"] = as_int(spec.get("maximumBatchingWindowInSeconds"))
    if spec.get("functionResponseTypes"):
        settings["FunctionResponseTypes"] = list(spec.get("functionResponseTypes"))
    if spec.get("scalingConfig"):
        settings["ScalingConfig"] = api_param("lambda", "CreateEventSourceMapping", "ScalingConfig",
                                              spec.get("scalingConfig"))
    enabled = as_bool(spec.get("enabled"), True)
    fn_name = fn.rsplit(":function:", 1)[-1].split(":")[0]
    existing = [m for m in lam.list_event_source_mappings(EventSourceArn=source).get("EventSourceMappings", [])
                if m.get("FunctionArn", "").rsplit(":function:", 1)[-1].split(":")[0] == fn_name]
    if existing:
        meta = lam.update_event_source_mapping(UUID=existing[0]["UUID"], Enabled=enabled, **settings)
        reused = True
    else:
        meta = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn, Enabled=enabled, **settings)
        reused = False
    ctx.record(spec, meta["UUID"], reused=reused)
    return meta["UUID"], outputs(spec, id=meta["UUID"], uuid=meta["UUID"], functionArn=meta.get("FunctionArn"),
                                 arn=meta.get("EventSourceMappingArn"), state=meta.get("State"),
                                 lastModified=str(meta.get("LastModified", "")))


def _statement_ids(lam: Any, function: str) -> set[str]:
    """Statement ids of a function's resource policy (none when it has no policy yet)."""
    try:
        policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
    except ClientError as exc:
        if error_code(exc) not in RESOURCE_NOT_FOUND:
            raise
        return set()
    return {str(st.get("Sid")) for st in policy.get("Statement", [])}


def permission(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    sid = ctx.physical_name(spec, key="statementId", prefix_key="statementIdPrefix", max_len=100)
    fn = str(spec.get("function"))
    kwargs: dict[str, Any] = {"FunctionName": fn, "StatementId": sid, "Action": spec.get("action"),
                              "Principal": spec.get("principal")}
    for src, dst in (("sourceArn", "SourceArn"), ("sourceAccount", "SourceAccount"), ("qualifier", "Qualifier"),
                     ("eventSourceToken", "EventSourceToken"), ("principalOrgId", "PrincipalOrgID")):
        if spec.get(src):
            kwargs[dst] = spec.get(src)
    lam = ctx.client("lambda", arn_region(fn) or spec.region)
    # AWS refuses a second statement with the same id (ResourceConflictException); moto adds it
    # again, so an existing statement is looked up first and reused.
    reused = sid in _statement_ids(lam, fn)
    if not reused:
        try:
            lam.add_permission(**kwargs)
        except ClientError as exc:
            if error_code(exc) != "ResourceConflictException":
                raise
            reused = True
    ctx.record(spec, sid, reused=reused)
    return sid, outputs(spec, id=sid, statementId=sid, function=arn_resource(fn) if fn.startswith("arn:") else fn)


HANDLERS: dict[str, Handler] = {
    "aws:sqs/queue:Queue": queue,
    "aws:sqs/queuePolicy:QueuePolicy": queue_policy,
    "aws:sqs/redrivePolicy:RedrivePolicy": redrive_policy,
    "aws:sns/topic:Topic": topic,
    "aws:sns/topicPolicy:TopicPolicy": topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": topic_subscription,
    "aws:lambda/function:Function": function,
    "aws:lambda/eventSourceMapping:EventSourceMapping": event_source_mapping,
    "aws:lambda/permission:Permission": permission,
}
