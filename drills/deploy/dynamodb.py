"""Offline deploy, DynamoDB: the table in its region and, because moto has no global tables,
a same-named table in every replica region, linked through the ``dynamodb_replicas``
behaviour's control action so writes propagate (simulated)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drills.aws import error_code
from drills.deploy.common import DeployContext, Handler, Spec, as_bool, as_int, outputs, tag_list


def _key_schema(hash_key: str | None, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}] if hash_key else []
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _throughput(item: dict[str, Any]) -> dict[str, int]:
    return {"ReadCapacityUnits": as_int(item.get("readCapacity"), 1) or 1,
            "WriteCapacityUnits": as_int(item.get("writeCapacity"), 1) or 1}


def _create_kwargs(spec: Spec, name: str, kms_key: str | None) -> dict[str, Any]:
    provisioned = spec.get("billingMode", "PROVISIONED") == "PROVISIONED"
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                 for a in spec.get("attributes", [])],
        "KeySchema": _key_schema(spec.get("hashKey"), spec.get("rangeKey")),
        "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
    }
    if provisioned:
        kwargs["ProvisionedThroughput"] = _throughput(spec.inputs)
    indexes = []
    for gsi in spec.get("globalSecondaryIndexes", []):
        index: dict[str, Any] = {"IndexName": gsi["name"], "KeySchema": _key_schema(gsi.get("hashKey"), gsi.get("rangeKey")),
                                 "Projection": {"ProjectionType": gsi.get("projectionType", "ALL")}}
        if gsi.get("nonKeyAttributes"):
            index["Projection"]["NonKeyAttributes"] = list(gsi["nonKeyAttributes"])
        if provisioned:
            index["ProvisionedThroughput"] = _throughput(gsi)
        indexes.append(index)
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    local = [{"IndexName": lsi["name"], "KeySchema": _key_schema(spec.get("hashKey"), lsi.get("rangeKey")),
              "Projection": {"ProjectionType": lsi.get("projectionType", "ALL")}}
             for lsi in spec.get("localSecondaryIndexes", [])]
    if local:
        kwargs["LocalSecondaryIndexes"] = local
    if as_bool(spec.get("streamEnabled")):
        kwargs["StreamSpecification"] = {"StreamEnabled": True,
                                         "StreamViewType": spec.get("streamViewType", "NEW_AND_OLD_IMAGES")}
    sse = spec.get("serverSideEncryption", {})
    if as_bool(sse.get("enabled")):
        kwargs["SSESpecification"] = {"Enabled": True, "SSEType": "KMS",
                                      **({"KMSMasterKeyId": kms_key} if kms_key else {})}
    if spec.get("tableClass"):
        kwargs["TableClass"] = spec.get("tableClass")
    if spec.get("tags"):
        kwargs["Tags"] = tag_list(spec.get("tags"))
    return kwargs


def _ensure_table(ctx: DeployContext, region: str, kwargs: dict[str, Any], *, pitr: bool,
                  deletion_protection: bool, ttl: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    ddb = ctx.client("dynamodb", region)
    try:
        table = ddb.create_table(**kwargs, DeletionProtectionEnabled=deletion_protection)["TableDescription"]
        reused = False
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        table = ddb.describe_table(TableName=kwargs["TableName"])["Table"]
        reused = True
    if pitr:
        ddb.update_continuous_backups(TableName=kwargs["TableName"],
                                      PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    if ttl.get("attributeName") and as_bool(ttl.get("enabled"), True):
        ddb.update_time_to_live(TableName=kwargs["TableName"],
                                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]})
    return table, reused


def table(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=255)
    sse = spec.get("serverSideEncryption", {})
    pitr = as_bool(spec.get("pointInTimeRecovery", {}).get("enabled"))
    protection = as_bool(spec.get("deletionProtectionEnabled"))
    primary, reused = _ensure_table(ctx, spec.region, _create_kwargs(spec, name, sse.get("kmsKeyArn")), pitr=pitr,
                                    deletion_protection=protection, ttl=spec.get("ttl", {}))
    ctx.record(spec, name, reused=reused)
    replicas_out = []
    for replica in spec.get("replicas", []):
        region = replica["regionName"]
        desc, replica_reused = _ensure_table(
            ctx, region, _create_kwargs(spec, name, replica.get("kmsKeyArn")),
            pitr=as_bool(replica.get("pointInTimeRecovery")),
            deletion_protection=as_bool(replica.get("deletionProtectionEnabled"), protection), ttl=spec.get("ttl", {}))
        ctx.record(spec, name, reused=replica_reused, region=region)
        replicas_out.append({**replica, "arn": desc["TableArn"], "streamArn": desc.get("LatestStreamArn"),
                             "streamLabel": desc.get("LatestStreamLabel")})
    if replicas_out:
        regions = [r["regionName"] for r in replicas_out]
        linked = ctx.control("dynamodb_replicas", "link",
                             {"table": name, "source_region": spec.region, "replica_regions": regions})
        if linked is None:
            ctx.note(f"{spec.label}: replica tables created in {', '.join(regions)}, but the dynamodb_replicas "
                     "behaviour is not loaded: writes do not propagate")
    return name, outputs(spec, id=name, name=name, arn=primary["TableArn"], streamArn=primary.get("LatestStreamArn"),
                         streamLabel=primary.get("LatestStreamLabel"), replicas=replicas_out or None)


HANDLERS: dict[str, Handler] = {
    "aws:dynamodb/table:Table": table,
}
