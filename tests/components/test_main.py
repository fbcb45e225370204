"""__main__.py: the whole program for each stack file registers the expected resources and
exports valid outputs. Prints a per-type summary (``pytest -s`` shows it)."""

from __future__ import annotations

from collections import Counter

from drills.contracts import StackOutputs


def expected_counts(cfg) -> dict[str, int]:
    """Resource counts the config implies (independent of how components are written)."""
    failback = int(cfg.replication.failback)
    rules = 3                       # dicom/, quarantine/, drill canaries
    buckets = 9                     # archive+replica, each with logs and inventory; landing, evidence, trail logs
    keys = 4                        # data, backup, audit, app
    made_roles = int(cfg.security.break_glass_role_arn is None) + int(cfg.security.key_admin_role_arn is None)
    web = 2 * int(cfg.dicomweb.enabled)     # one DICOMweb service per region
    jwt = int(cfg.dicomweb.authorizer.type.value == "jwt")
    watched_services = 6            # kms, s3, cloudtrail, backup, dynamodb, secretsmanager (alerts.py)
    attackers = 2 * int(cfg.drill.attacker.enabled)   # the ransomware drill's attacker and attacker-bypass
    return {
        "aws:s3/bucket:Bucket": buckets,
        "aws:s3/bucketVersioning:BucketVersioning": buckets,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": buckets,
        "aws:s3/bucketPolicy:BucketPolicy": buckets,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": 4,   # archive, replica, evidence, trail
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig": 1 + failback,
        "aws:s3/inventory:Inventory": 2,
        "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration":
            2 if cfg.intelligent_tiering else 0,
        "aws:s3/bucketNotification:BucketNotification": 2,                         # archive events, landing
        "aws:kms/key:Key": keys, "aws:kms/replicaKey:ReplicaKey": keys, "aws:kms/alias:Alias": 2 * keys,
        "aws:kms/keyPolicy:KeyPolicy": 2 * keys,
        "aws:iam/role:Role": 5 + failback + made_roles + web + attackers,   # ingest, replication, backup, FIS, Batch Ops
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 0,
        "aws:iam/serviceLinkedRole:ServiceLinkedRole": int(cfg.security.reports_role == "create"),
        "aws:sns/topic:Topic": 2, "aws:sns/topicSubscription:TopicSubscription": 2 * len(cfg.alerts.subscriptions),
        "aws:cloudwatch/eventRule:EventRule": 2 * watched_services,
        "aws:cloudwatch/eventTarget:EventTarget": 2 * watched_services,
        "aws:backup/vaultPolicy:VaultPolicy": 2, "aws:secretsmanager/secretPolicy:SecretPolicy": 1,
        "aws:secretsmanager/secretVersion:SecretVersion": 0,
        "aws:ram/resourceShare:ResourceShare": int(bool(cfg.backups.air_gapped_share_with)),
        "aws:backup/vault:Vault": 2, "aws:backup/vaultLockConfiguration:VaultLockConfiguration": 2,
        "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": int(cfg.backups.air_gapped),
        "aws:backup/selection:Selection": 2, "aws:backup/framework:Framework": 1,
        "aws:dynamodb/table:Table": 2, "aws:lambda/function:Function": 1 + web, "aws:sqs/queue:Queue": 2,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 3 * rules + 1,
        "aws:cloudtrail/trail:Trail": 1, "aws:fis/experimentTemplate:ExperimentTemplate": 1,
        "aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint": 1,
        "aws:apigatewayv2/api:Api": web, "aws:apigatewayv2/integration:Integration": web,
        "aws:apigatewayv2/route:Route": web, "aws:apigatewayv2/stage:Stage": web,
        "aws:apigatewayv2/authorizer:Authorizer": web * jwt, "aws:lambda/permission:Permission": web,
        "pulumi:providers:aws": 2,
    }


def test_whole_program_per_stack(any_stack) -> None:
    d = any_stack
    print("\n" + d.summary())
    counts = Counter(r.type for r in d.resources)
    for type_token, n in expected_counts(d.config).items():
        assert counts.get(type_token, 0) == n, f"stack {d.stack}: {type_token} x{counts.get(type_token, 0)}, expected {n}"
    assert len({r.urn for r in d.resources}) == len(d.resources), "URNs must be unique"
    StackOutputs.from_mapping(d.outputs, source=f"stack {d.stack}")


def test_stacks_differ_where_their_configs_differ(dev, prod) -> None:
    assert len(prod.resources) > len(dev.resources)   # failback, air gap, intelligent tiering, JWT
    assert Counter(r.type for r in prod.resources) - Counter(r.type for r in dev.resources) == Counter({
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig": 1,
        "aws:iam/rolePolicy:RolePolicy": 1, "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": 1,
        "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration": 2,
        # prod names its break-glass role (dev creates one) and has the failback role: same role count
        "aws:sns/topicSubscription:TopicSubscription": 4, "aws:ram/resourceShare:ResourceShare": 1,
        "aws:ram/resourceAssociation:ResourceAssociation": 1, "aws:ram/principalAssociation:PrincipalAssociation": 1,
        # prod's DICOMweb services take JWTs from the hospital's identity provider; dev's use AWS_IAM
        "aws:apigatewayv2/authorizer:Authorizer": 2})
