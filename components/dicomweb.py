"""DicomWeb: the DICOMweb service (drills.dicomweb) of one region — a Lambda behind an API
Gateway HTTP API, reading that region's archive bucket and index table (the DR region: the
replica bucket and the index's replica).

- Nothing anonymous: every route needs the HTTP API's JWT authorizer (issuer + audience from
  the caller's identity provider) or AWS_IAM (SigV4); the function has no function URL and
  its resource policy admits this API alone.
- TLS only: HTTP APIs answer HTTPS only (no plain-HTTP listener exists).
- Access-logged: the stage writes one JSON line per request to a KMS-encrypted log group —
  request id, route, path, status, latency, caller identity; never the query string (it may
  carry a PatientID value).
- Read-only unless ``writable`` (the primary region; the DR region once promoted): the role
  can then also write ``dicom/``/``quarantine/`` and the index, as STOW-RS needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.base import Site, allow, assume_role_policy, child_opts, policy_json
from drills.contracts import DICOM_PREFIX, HASH_KEY_SECRET_TAGS, QUARANTINE_PREFIX
from drills.dicomweb.lambda_handler import (ENV_BUCKET, ENV_CLAIMS, ENV_REGION, ENV_ROLE, ENV_TABLE, ENV_WRITABLE,
                                            HANDLER)

RUNTIME = "python3.11"
LOG_RETENTION_DAYS = 365
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTimeEpoch", "route": "$context.routeKey",
    "path": "$context.path", "status": "$context.status", "bytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "caller": "$context.identity.caller",
    "jwtSubject": "$context.authorizer.claims.sub", "sourceIp": "$context.identity.sourceIp",
}, sort_keys=True)


@dataclass(frozen=True)
class DicomWebAuth:
    """``kind`` "jwt" (with ``issuer`` and ``audiences``) or "iam"."""

    kind: str
    issuer: str = ""
    audiences: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("jwt", "iam"):
            raise ValueError(f"DICOMweb authorizer must be 'jwt' or 'iam' (got {self.kind!r})")
        if self.kind == "jwt" and (not self.issuer.startswith("https://") or not self.audiences):
            raise ValueError("a JWT authorizer needs an https:// issuer and at least one audience")


@dataclass
class DicomWebArgs:
    site: Site
    role: str                                   # "primary" or "dr"
    bucket: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    table: pulumi.Input[str]
    table_arn: pulumi.Input[str]                # the table (primary) or its replica's ARN in this region
    kms_key_arn: pulumi.Input[str]              # this region's key (the DR replica key in DR)
    auth: DicomWebAuth
    function_archive: Path
    app_kms_key_arn: pulumi.Input[str] | None = None
    """The key of the index table, log groups and function environment, where it differs from the
    archive's (``kms_key_arn``): the platform's APP key; None uses ``kms_key_arn`` for everything."""
    writable: bool = False
    claims_table: pulumi.Input[str] | None = None   # SOP Instance UID claims (STOW claims what it stores)
    claims_table_arn: pulumi.Input[str] | None = None
    memory_mb: int = 1024
    reserved_concurrency: int = 20              # bounds what a flood of requests can scale to
    timeout_seconds: int = 29                   # API Gateway's integration timeout


class DicomWeb(pulumi.ComponentResource):
    def __init__(self, name: str, args: DicomWebArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:dicomweb:DicomWeb", name, None, opts)
        site = args.site
        o = lambda **kw: child_opts(self, site, **kw)  # noqa: E731
        app_key = args.app_kms_key_arn if args.app_kms_key_arn is not None else args.kms_key_arn
        self.log_group = aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=LOG_RETENTION_DAYS,
                                                 kms_key_id=app_key, opts=o())
        self.access_logs = aws.cloudwatch.LogGroup(f"{name}-access", retention_in_days=LOG_RETENTION_DAYS,
                                                   kms_key_id=app_key, opts=o())
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
                                 description=f"drkit DICOMweb ({args.role} region)", opts=o())
        keys = args.kms_key_arn if args.app_kms_key_arn is None else [args.kms_key_arn, app_key]
        via = {"StringEquals": {"kms:ViaService": [f"{svc}.{site.region}.amazonaws.com"
                                                   for svc in ("s3", "dynamodb", "secretsmanager")]}}
        statements = [
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], pulumi.Output.concat(self.log_group.arn, ":*"),
                  sid="WriteOwnLogs"),
            allow(["s3:GetObject", "s3:GetObjectVersion"],
                  pulumi.Output.concat(args.bucket_arn, "/", DICOM_PREFIX, "*"), sid="ReadArchive"),
            allow(["dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem"],
                  [args.table_arn, pulumi.Output.concat(args.table_arn, "/index/*")], sid="ReadIndex"),
            # Each key only through the services that hold data under it (a stolen session cannot
            # decrypt arbitrary ciphertext with kms:Decrypt directly).
            allow(["kms:Decrypt", "kms:DescribeKey"], keys, sid="UseKey", condition=via),
            # drills.ingest.pseudonym finds the hash-key secret by its tags (PatientID matching)
            allow(["secretsmanager:ListSecrets"], "*", sid="FindHashKey"),
            allow(["secretsmanager:GetSecretValue"], "*", sid="ReadHashKey", condition={"StringEquals": {
                f"secretsmanager:ResourceTag/{k}": v for k, v in HASH_KEY_SECRET_TAGS.items()}}),
        ]
        if args.writable:
            statements += [
                allow(["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
                      [pulumi.Output.concat(args.bucket_arn, "/", p, "*") for p in (DICOM_PREFIX, QUARANTINE_PREFIX)],
                      sid="StoreInstances"),
                # Scan (Limit=1) on both tables: is the index empty? (drills.ingest.claims)
                allow(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem",
                       "dynamodb:BatchGetItem", "dynamodb:Scan"], args.table_arn, sid="IndexInstances"),
                *([allow(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Scan"],
                         args.claims_table_arn,
                         sid="ClaimSopInstanceUids")] if args.claims_table_arn is not None else []),
                allow(["kms:GenerateDataKey"], keys, sid="EncryptStored", condition=via),
            ]
        self.role_policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id,
                                              policy=policy_json(*statements), opts=o())
        self.function = aws.lambda_.Function(
            f"{name}-function", role=self.role.arn, runtime=RUNTIME, handler=HANDLER,
            code=pulumi.FileArchive(str(args.function_archive)), timeout=args.timeout_seconds,
            memory_size=args.memory_mb, reserved_concurrent_executions=args.reserved_concurrency,
            kms_key_arn=app_key, tracing_config={"mode": "Active"},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            environment={"variables": {
                ENV_ROLE: args.role, ENV_REGION: site.region, ENV_BUCKET: args.bucket, ENV_TABLE: args.table,
                ENV_WRITABLE: "true" if args.writable else "false",
                **({ENV_CLAIMS: args.claims_table} if args.claims_table is not None else {})}},
            opts=o(depends_on=[self.role_policy]))
        self.api = aws.apigatewayv2.Api(f"{name}-api", protocol_type="HTTP",
                                        description=f"drkit DICOMweb ({args.role} region)", opts=o())
        self.integration = aws.apigatewayv2.Integration(
            f"{name}-integration", api_id=self.api.id, integration_type="AWS_PROXY",
            integration_uri=self.function.invoke_arn, payload_format_version="2.0", opts=o())
        route: dict = {"api_id": self.api.id, "route_key": "$default",
                       "target": pulumi.Output.concat("integrations/", self.integration.id)}
        if args.auth.kind == "jwt":
            self.authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-authorizer", api_id=self.api.id, authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration={"issuer": args.auth.issuer, "audiences": list(args.auth.audiences)}, opts=o())
            route.update(authorization_type="JWT", authorizer_id=self.authorizer.id)
        else:
            route.update(authorization_type="AWS_IAM")
        self.route = aws.apigatewayv2.Route(f"{name}-route", **route, opts=o())
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage", api_id=self.api.id, name="$default", auto_deploy=True,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            default_route_settings={"throttling_burst_limit": 200, "throttling_rate_limit": 100}, opts=o())
        self.permission = aws.lambda_.Permission(
            f"{name}-invoke", action="lambda:InvokeFunction", function=self.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/$default"), opts=o())
        self.url = self.api.api_endpoint
        self.register_outputs({"url": self.url})
