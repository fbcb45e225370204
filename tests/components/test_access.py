"""components/access.py via the real stacks: bucket policies that make PHI access an allow-list.

An explicit Deny in a bucket policy overrides any IAM Allow:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
aws:PrincipalIsAWSService (service principals exempt): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice
"""

from __future__ import annotations

from components.access import BUCKET_CONFIG, OBJECT_READ, OBJECT_WRITE
from components.secure_bucket import PURPOSE_TAG


def policy_of(d, purpose: str) -> dict[str, dict]:
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return {s["Sid"]: s for s in d.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b).policy()["Statement"]}


def allowed(statement: dict) -> set[str]:
    return set(statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"])


def role_arn(d, name: str) -> str:
    return d.one("aws:iam/role:Role", name).outputs["arn"]


def test_archive_objects_are_an_allow_list(prod) -> None:
    s = policy_of(prod, "archive")
    reads, writes = s["DenyObjectReadsOutsideAllowList"], s["DenyObjectWritesOutsideAllowList"]
    assert set(OBJECT_READ) == set(reads["Action"]) and set(OBJECT_WRITE) == set(writes["Action"])
    for st in (reads, writes):
        assert st["Effect"] == "Deny" and st["Principal"] == "*"
        assert st["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}
    ingest = role_arn(prod, "drkit-prod-ingest-role")
    backup = role_arn(prod, "drkit-prod-backups-role")
    assert {ingest, backup, *prod.config.security.reader_role_arns} <= allowed(reads)
    assert ingest in allowed(writes) and not set(prod.config.security.reader_role_arns) & allowed(writes)
    assert backup not in allowed(writes), "backups read the archive, never write it"
    retention = s["DenyRetentionChangesExceptBreakGlass"]
    assert {"s3:PutObjectRetention", "s3:BypassGovernanceRetention"} <= set(retention["Action"])
    # the ransomware drill's bypass attacker (deployed on prod for drill windows) is the only addition
    bypass = role_arn(prod, "drkit-prod-drills-attacker-bypass")
    assert allowed(retention) == {"arn:aws:iam::123456789012:root", prod.config.security.break_glass_role_arn, bypass}
    attacker = role_arn(prod, "drkit-prod-drills-attacker")
    assert {attacker, bypass} <= allowed(writes) and not {attacker, bypass} & allowed(reads)


def test_only_replication_writes_the_replica(stack) -> None:
    s = policy_of(stack, "replica")
    replication = role_arn(stack, f"drkit-{stack.stack}-replication-role")
    root = "arn:aws:iam::123456789012:root"
    writers = allowed(s["DenyObjectWritesOutsideAllowList"])
    assert replication in writers and len(writers) == 3, writers          # replication, root, break-glass
    assert root in writers


def test_configuration_changes_only_by_the_deploy_role_in_prod(prod, dev) -> None:
    deploy = prod.config.security.deploy_role_arn
    for purpose in ("archive", "replica", "landing", "evidence", "cloudtrail", "archive-access-logs",
                    "archive-inventory"):
        deny = policy_of(prod, purpose)["DenyConfigurationChangesExceptDeployRole"]
        assert set(BUCKET_CONFIG) == set(deny["Action"]), purpose
        assert deploy in allowed(deny), purpose
    fis = role_arn(prod, "drkit-prod-drills-role")
    assert fis in allowed(policy_of(prod, "archive")["DenyConfigurationChangesExceptDeployRole"])
    assert fis not in allowed(policy_of(prod, "replica")["DenyConfigurationChangesExceptDeployRole"])
    # Without a deploy role (dev), Pulumi's own role could lock itself out: not applied, and documented.
    assert "DenyConfigurationChangesExceptDeployRole" not in policy_of(dev, "archive")


def test_landing_accepts_uploads_from_uploaders_and_reads_only_by_ingest(prod) -> None:
    s = policy_of(prod, "landing")
    assert allowed(s["DenyObjectReadsOutsideAllowList"]) >= {role_arn(prod, "drkit-prod-ingest-role")}
    assert set(prod.config.security.uploader_role_arns) <= allowed(s["DenyObjectWritesOutsideAllowList"])
    assert not set(prod.config.security.uploader_role_arns) & allowed(s["DenyObjectReadsOutsideAllowList"])


def test_vpc_option_pins_ingest_to_its_endpoint(deploy_config, stack_config) -> None:
    config = stack_config("dev")
    config["drkit:ingest"] = {"vpc": {"subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0a"],
                                      "s3EndpointId": "vpce-0abc"}}
    config["drkit:security"] = {"organizationId": "o-abcdefghij"}
    d = deploy_config(config)
    (f,) = d.all("aws:lambda/function:Function", under="drkit:ingest_pipeline:IngestPipeline")
    assert f.inputs["vpcConfig"] == {"subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0a"]}, f.urn
    for purpose in ("archive", "landing"):
        s = policy_of(d, purpose)
        pin = s["DenyIngestOutsideItsVpcEndpoint"]
        assert pin["Condition"]["StringNotEquals"] == {"aws:SourceVpce": "vpce-0abc"}, purpose
        assert pin["Condition"]["ArnEquals"]["aws:PrincipalArn"] == f.inputs["role"], purpose
        org = s["DenyPrincipalsOutsideOrganization"]
        assert org["Condition"]["StringNotEquals"] == {"aws:PrincipalOrgID": "o-abcdefghij"}, purpose
