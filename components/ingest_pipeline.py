"""IngestPipeline: landing bucket -> SQS (with DLQ) -> Lambda (drills.ingest.handler) -> archive + index.

The function's code is a deterministic zip built by ``drills.ingest.package``: exactly the
handler's import closure within drkit plus pure-Python pydicom (boto3 comes with the Lambda
Python runtime). The same sources give the same bytes, so the function is not redeployed
for nothing. Layers in ``drkit:ingest.layerArns`` are optional extras.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.access import ObjectAccess
from components.base import (Account, Site, allow, assume_role_policy, child_opts, deny_insecure_transport,
                             policy_json)
from components.config import IngestConfig
from components.identities import Principals
from components.secure_bucket import SecureBucket, SecureBucketArgs, expiry_rule
from drills.contracts import (DICOM_PREFIX, ENV_ARCHIVE_BUCKET, ENV_CLAIMS_TABLE, ENV_HASH_KEY_SECRET,
                              ENV_INDEX_TABLE, ENV_KMS_KEY_ID, HASH_KEY_SECRET_TAGS, INDEX_SOP_GSI, LAMBDA_HANDLER,
                              QUARANTINE_PREFIX)

RUNTIME = "python3.11"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
LOG_RETENTION_DAYS = 90
# The hash key's value never passes through Pulumi (or its state): the operator seeds it once
# with Secrets Manager's own generator (docs/security.md); this tag says so.
INITIAL_VALUE_TAG = {"drkit-initial-value": "secretsmanager-get-random-password"}


@dataclass
class IngestPipelineArgs:
    """Inputs of an IngestPipeline."""

    primary: Site
    """Region everything is built in."""
    dr: Site
    """Region the hash-key secret is replicated to (ingest after failover hashes alike)."""
    kms_key_arn: pulumi.Input[str]
    """Primary data key: landing bucket, archive writes (ENV_KMS_KEY_ID)."""
    app_kms_key_arn: pulumi.Input[str]
    """Primary app key: queues, secret, function environment and log group."""
    replica_app_kms_key_arn: pulumi.Input[str]
    """DR app key for the secret's replica."""
    principals: Principals
    """Identities: uploaders and operators may write the landing bucket; break-glass may read the secret."""
    archive_bucket: pulumi.Input[str]
    """Archive bucket name (ENV_ARCHIVE_BUCKET)."""
    archive_bucket_arn: pulumi.Input[str]
    """Archive bucket ARN, for the write grant on dicom/ and quarantine/."""
    index_table: pulumi.Input[str]
    """Index table name (ENV_INDEX_TABLE)."""
    index_table_arn: pulumi.Input[str]
    """Index table ARN, for the put grant."""
    access_log_bucket: pulumi.Input[str]
    """Bucket receiving the landing bucket's access logs."""
    topic_arn: pulumi.Input[str]
    """SNS topic the DLQ alarm notifies."""
    function_archive: Path
    """The function's deployment zip (drills.ingest.package.write)."""
    settings: IngestConfig
    """Landing expiry, redrive count, layers, timeout, memory."""
    keep: bool = False
    """Protect and retain the landing bucket and secret; secret recoverable 30 days, not 7 (production)."""
    hash_key_readers: list[pulumi.Input[str]] = field(default_factory=list)
    claims_table: pulumi.Input[str] | None = None
    """SOP Instance UID claims table name (ENV_CLAIMS_TABLE); None: claims via the index's GSI."""
    claims_table_arn: pulumi.Input[str] | None = None
    """Its ARN, for the claim grant."""
    """Further roles that read the hash key (the DICOMweb services match PatientID through it)."""


class IngestPipeline(pulumi.ComponentResource):
    """Landing bucket, queue + DLQ, ingest function, HMAC hash-key secret, DLQ alarm."""

    landing: SecureBucket
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    function: aws.lambda_.Function
    secret: aws.secretsmanager.Secret

    def __init__(self, name: str, args: IngestPipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:ingest_pipeline:IngestPipeline", name, None, opts)
        site, s = args.primary, args.settings
        self.landing = SecureBucket(f"{name}-landing", SecureBucketArgs(
            site=site, purpose="landing", kms_key_arn=args.kms_key_arn, enforce_kms_key=True,
            lifecycle_rules=[expiry_rule("expire-landed", s.landing_expiration_days, noncurrent_days=1)],
            access_log_bucket=args.access_log_bucket, keep=args.keep, principals=args.principals,
            defer_access=True), opts=pulumi.ResourceOptions(parent=self))
        self.dlq = aws.sqs.Queue(f"{name}-dlq", kms_master_key_id=args.app_kms_key_arn,
                                 message_retention_seconds=DLQ_RETENTION_SECONDS, opts=child_opts(self, site))
        self.queue = aws.sqs.Queue(
            f"{name}-queue", kms_master_key_id=args.app_kms_key_arn,
            visibility_timeout_seconds=6 * s.timeout_seconds,      # AWS guidance for Lambda event sources
            redrive_policy=self.dlq.arn.apply(lambda arn: json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": s.max_receive_count})),
            opts=child_opts(self, site))
        account = Account.of(site, self)
        self.queue_policy = aws.sqs.QueuePolicy(f"{name}-queue-policy", queue_url=self.queue.url, policy=policy_json(
            {"Sid": "LandingBucketNotifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
             "Action": "sqs:SendMessage", "Resource": self.queue.arn,
             "Condition": {"ArnLike": {"aws:SourceArn": self.landing.arn},
                           "StringEquals": {"aws:SourceAccount": account.account_id}}},
            deny_insecure_transport(self.queue.arn, action="sqs:*"),
        ), opts=child_opts(self, site))
        self.notification = aws.s3.BucketNotification(
            f"{name}-landing-events", bucket=self.landing.bucket.id,
            queues=[{"queue_arn": self.queue.arn, "events": ["s3:ObjectCreated:*"]}],
            opts=child_opts(self, site, depends_on=[self.queue_policy]))
        self.secret = self._hash_key_secret(name, args)
        self.function = self._function(name, args)
        p = args.principals
        self.landing.restrict(ObjectAccess(read=[self.role.arn], write=[*p.uploaders, *p.operators],
                                           vpc_only=[(self.role.arn, s.vpc.s3_endpoint_id)] if s.vpc else ()))
        self.secret_policy = aws.secretsmanager.SecretPolicy(
            f"{name}-hash-key-policy", secret_arn=self.secret.arn, block_public_policy=True,
            policy=self._secret_policy(args), opts=child_opts(self, site, keep=args.keep))
        self.event_source = aws.lambda_.EventSourceMapping(
            f"{name}-queue-trigger", event_source_arn=self.queue.arn, function_name=self.function.arn,
            batch_size=10, maximum_batching_window_in_seconds=5, function_response_types=["ReportBatchItemFailures"],
            opts=child_opts(self, site, depends_on=[self.role_policy]))
        self.dlq_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-dlq-depth", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.dlq.name}, statistic="Maximum", period=60, evaluation_periods=1,
            threshold=0, comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
            alarm_description="ingest messages failed repeatedly and sit in the dead-letter queue",
            alarm_actions=[args.topic_arn], ok_actions=[args.topic_arn], opts=child_opts(self, site))
        self.register_outputs({"landingBucket": self.landing.name, "queueUrl": self.queue.url,
                               "functionName": self.function.name, "hashKeySecretArn": self.secret.arn})

    def _hash_key_secret(self, name: str, args: IngestPipelineArgs) -> aws.secretsmanager.Secret:
        """Secrets Manager secret holding the HMAC key for patient-identifier hashes."""
        site = args.primary
        return aws.secretsmanager.Secret(
            f"{name}-hash-key", description="drkit HMAC key for hashing patient identifiers (never log PHI)",
            kms_key_id=args.app_kms_key_arn, recovery_window_in_days=30 if args.keep else 7,
            replicas=[{"region": args.dr.region, "kms_key_id": args.replica_app_kms_key_arn}],
            tags={**HASH_KEY_SECRET_TAGS, **INITIAL_VALUE_TAG}, opts=child_opts(self, site, keep=args.keep))

    def _secret_policy(self, args: IngestPipelineArgs) -> pulumi.Output[str]:
        """Only the ingest role and break-glass read the key; nobody deletes it without recovery."""
        p = args.principals
        readers = [self.role.arn, *args.hash_key_readers, *p.admins()]
        return policy_json(
            {"Sid": "OnlyIngestAndBreakGlassRead", "Effect": "Deny", "Principal": "*",
             "Action": ["secretsmanager:GetSecretValue"], "Resource": "*",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": readers}}},
            {"Sid": "NoDeletionWithoutRecoveryWindow", "Effect": "Deny", "Principal": "*",
             "Action": "secretsmanager:DeleteSecret", "Resource": "*",
             "Condition": {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}}},
            {"Sid": "OnlyDeployOrBreakGlassDeletesOrRepolicies", "Effect": "Deny", "Principal": "*",
             "Action": ["secretsmanager:DeleteSecret", "secretsmanager:DeleteResourcePolicy",
                        "secretsmanager:PutResourcePolicy", "secretsmanager:RemoveRegionsFromReplication"],
             "Resource": "*", "Condition": {"ArnNotLike": {"aws:PrincipalArn": p.config_admins()}}},
        )

    def _function(self, name: str, args: IngestPipelineArgs) -> aws.lambda_.Function:
        site, s = args.primary, args.settings
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
                                 description="drkit ingest function", opts=child_opts(self, site))
        self.log_group = aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=LOG_RETENTION_DAYS,
                                                 kms_key_id=args.app_kms_key_arn, opts=child_opts(self, site))
        vpc_access = [allow(["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                             "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                             "ec2:UnassignPrivateIpAddresses"], "*", sid="RunInVpc")] if s.vpc else []
        archive_prefixes = [pulumi.Output.concat(args.archive_bucket_arn, "/", p, "*")
                            for p in (DICOM_PREFIX, QUARANTINE_PREFIX)]
        self.role_policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id, policy=policy_json(
            allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                  pulumi.Output.concat(self.log_group.arn, ":*"), sid="WriteOwnLogs"),
            allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                   "sqs:ChangeMessageVisibility"], self.queue.arn, sid="ConsumeQueue"),
            allow(["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"],
                  pulumi.Output.concat(self.landing.arn, "/*"), sid="ReadLanding"),
            # drills.ingest writes (multipart for large files), then reads back with
            # HeadObject/GetObject to confirm checksums and detect duplicates.
            allow(["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:GetObject",
                   "s3:GetObjectVersion"], archive_prefixes, sid="WriteArchive"),
            # drills.ingest.index: GetItem (consistent read) and UpdateItem (upsert + conflict list).
            # Scan (Limit=1): is the index empty? (drills.ingest.claims, once per cold start)
            allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem",
                   "dynamodb:BatchWriteItem", "dynamodb:Scan"], args.index_table_arn, sid="WriteIndex"),
            # drills.ingest.index.claims: is a new SOP Instance UID claimed by another study?
            allow(["dynamodb:Query"], pulumi.Output.concat(args.index_table_arn, "/index/", INDEX_SOP_GSI),
                  sid="LookUpSopInstanceUids"),
            # drills.ingest.index group commit: read a group's claims (BatchGetItem) and write them
            # with their index items in one TransactWriteItems (conditional Puts); GetItem/Scan/PutItem
            # of the completeness marker (drills.ingest.claims).
            *([allow(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Scan"],
                     args.claims_table_arn,
                     sid="ClaimSopInstanceUids")] if args.claims_table_arn is not None else []),
            # Each key only through the services that hold data under it (a stolen session cannot
            # decrypt arbitrary ciphertext with kms:Decrypt directly).
            allow(["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"], args.kms_key_arn, sid="UseDataKey",
                  condition={"StringEquals": {"kms:ViaService": f"s3.{site.region}.amazonaws.com"}}),
            allow(["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"], args.app_kms_key_arn, sid="UseAppKey",
                  condition={"StringEquals": {"kms:ViaService": [f"{svc}.{site.region}.amazonaws.com" for svc in
                                                                 ("sqs", "secretsmanager", "dynamodb", "lambda")]}}),
            allow(["secretsmanager:GetSecretValue"], self.secret.arn, sid="ReadHashKey"),
            *vpc_access,
        ), opts=child_opts(self, site))
        return aws.lambda_.Function(
            f"{name}-function", role=self.role.arn, runtime=RUNTIME, handler=LAMBDA_HANDLER,
            code=pulumi.FileArchive(str(args.function_archive)), layers=list(s.layer_arns),
            timeout=s.timeout_seconds, memory_size=s.memory_mb, kms_key_arn=args.app_kms_key_arn,
            reserved_concurrent_executions=s.reserved_concurrency,
            vpc_config={"subnet_ids": list(s.vpc.subnet_ids), "security_group_ids": list(s.vpc.security_group_ids)}
            if s.vpc else None,
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            environment={"variables": {
                ENV_ARCHIVE_BUCKET: args.archive_bucket, ENV_INDEX_TABLE: args.index_table,
                ENV_KMS_KEY_ID: args.kms_key_arn, ENV_HASH_KEY_SECRET: self.secret.arn,
                **({ENV_CLAIMS_TABLE: args.claims_table} if args.claims_table is not None else {}),
            }},
            opts=child_opts(self, site, depends_on=[self.role_policy]))
