"""components/keys.py: one rotating multi-Region key pair per blast radius, each guarded by a
policy with a key administrator that cannot decrypt, key use only through AWS services, and
explicit Denies of deletion, disabling, re-keying and grants except for break-glass with MFA.

KMS key policy semantics: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
(an explicit Deny overrides any Allow, root included); kms:ViaService:
https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
"""

from __future__ import annotations

import json

from components.keys import DESTRUCTIVE_ACTIONS, KeyPurpose

KEY = "aws:kms/key:Key"
REPLICA = "aws:kms/replicaKey:ReplicaKey"
ALIAS = "aws:kms/alias:Alias"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"


def policies(stack) -> dict[str, dict]:
    """Key (or replica key) URN -> its decoded KeyPolicy document."""
    by_arn = {k.outputs["arn"]: k for k in stack.all(KEY) + stack.all(REPLICA)}
    found = {by_arn[p.inputs["keyId"]].urn: json.loads(p.inputs["policy"]) for p in stack.all(KEY_POLICY)}
    assert by_arn and len(found) == len(by_arn), (sorted(found), sorted(by_arn))
    return found


def sids(doc: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in doc["Statement"]}


def test_one_multi_region_rotating_pair_per_purpose(stack) -> None:
    keys, replicas = stack.all(KEY), stack.all(REPLICA)
    assert len(keys) == len(replicas) == len(KeyPurpose)
    for key in keys:
        assert key.inputs["multiRegion"] is True and key.inputs["enableKeyRotation"] is True, key.urn
        assert key.inputs["deletionWindowInDays"] == 30, key.urn
        assert stack.region(key) == stack.config.primary_region, key.urn
        assert stack.parent(key).type == "drkit:keys:Keys", key.urn
    assert {r.inputs["primaryKeyArn"] for r in replicas} == {k.outputs["arn"] for k in keys}
    for replica in replicas:
        assert stack.region(replica) == stack.config.dr_region, replica.urn


def test_each_key_has_an_alias_in_its_region(stack) -> None:
    aliases = stack.all(ALIAS)
    assert len(aliases) == 2 * len(KeyPurpose)
    assert len({a.inputs["name"] for a in aliases}) == len(KeyPurpose)
    assert all(a.inputs["name"].startswith("alias/drkit-") for a in aliases)


def test_stores_are_spread_over_the_keys(stack) -> None:
    """Archive, vaults, audit and index no longer share one key."""
    def bucket_key(purpose: str) -> str:
        (b,) = [b for b in stack.all("aws:s3/bucket:Bucket") if b.inputs["tags"]["drkit-purpose"] == purpose]
        sse = stack.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:"
                               "BucketServerSideEncryptionConfiguration", b)
        return sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    (table,) = [t for t in stack.all("aws:dynamodb/table:Table") if t.inputs["hashKey"] == "StudyInstanceUID"]
    vault_keys = {v.inputs["kmsKeyArn"] for v in stack.all("aws:backup/vault:Vault")}
    used = {bucket_key("archive"), bucket_key("evidence"), table.inputs["serverSideEncryption"]["kmsKeyArn"]}
    assert len(used) == 3 and not used & vault_keys, (used, vault_keys)


def test_key_policies_guard_every_key(stack) -> None:
    for urn, doc in policies(stack).items():
        by_sid = sids(doc)
        for s in doc["Statement"]:
            if s["Effect"] == "Allow":
                assert s.get("Action") != "kms:*" or "aws:MultiFactorAuthPresent" in json.dumps(s), (urn, s)
                assert s["Principal"] != "*" and s["Principal"] != {"AWS": "*"}, (urn, s)
        deny = by_sid["DenyKeyDestructionExceptBreakGlass"]
        assert set(DESTRUCTIVE_ACTIONS) <= set(deny["Action"]) and deny["Principal"] == "*", urn
        break_glass = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        mfa = by_sid["DenyBreakGlassWithoutMfa"]
        assert mfa["Condition"]["ArnEquals"]["aws:PrincipalArn"] == break_glass, urn
        assert mfa["Condition"]["BoolIfExists"]["aws:MultiFactorAuthPresent"] == "false", urn
        grants = by_sid["DenyGrantsExceptForAwsResources"]
        assert grants["Condition"]["BoolIfExists"]["kms:GrantIsForAWSResource"] == "false", urn
        admin = by_sid["KeyAdministration"]
        assert not any(a in admin["Action"] for a in ("kms:Decrypt", "kms:*", "kms:PutKeyPolicy")), urn
        use = by_sid.get("UseThroughServices")
        if use:
            assert use["Condition"]["StringEquals"]["kms:ViaService"], urn


def test_prod_denies_key_policy_changes_to_all_but_deploy_and_break_glass(prod) -> None:
    deploy = prod.config.security.deploy_role_arn
    for urn, doc in policies(prod).items():
        deny = sids(doc)["DenyPolicyChangesExceptDeployAndBreakGlass"]
        assert deny["Action"] == "kms:PutKeyPolicy", urn
        assert deploy in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"], urn
        assert "AccountManagesPolicyThroughIam" not in sids(doc), urn


def test_key_use_is_regional_through_services(prod) -> None:
    for key in prod.all(KEY) + prod.all(REPLICA):
        region = prod.region(key)
        use = sids(policies(prod)[key.urn]).get("UseThroughServices")
        if use:
            assert all(v.endswith(f".{region}.amazonaws.com") for v in use["Condition"]["StringEquals"]
                       ["kms:ViaService"]), key.urn


def test_keys_and_policies_protected_in_prod_only(dev, prod) -> None:
    for key in prod.all(KEY) + prod.all(REPLICA) + prod.all(KEY_POLICY):
        assert key.protect, key.urn
    for key in dev.all(KEY) + dev.all(REPLICA) + dev.all(KEY_POLICY):
        assert not key.protect, key.urn


def test_deploy_role_uses_only_the_keys_it_provisions_with(prod) -> None:
    """Creating an encrypted vault, table, function or secret replica uses the key as the caller
    (https://docs.aws.amazon.com/kms/latest/developerguide/grants.html): the deploy role is a user
    of the backup and app keys through those services, never of the data or audit keys."""
    deploy = prod.config.security.deploy_role_arn
    docs = policies(prod)
    for purpose, expected in (("data", False), ("audit", False), ("backup", True), ("app", True)):
        use = sids(docs[prod.one(KEY, f"drkit-prod-keys{'' if purpose == 'data' else '-' + purpose}").urn])[
            "UseThroughServices"]
        assert (deploy in use["Principal"]["AWS"]) is expected, purpose
        assert "s3.us-east-1.amazonaws.com" not in use["Condition"]["StringEquals"]["kms:ViaService"] or not expected


def test_organization_pins_key_use_to_its_principals(deploy_config, stack_config) -> None:
    """aws:PrincipalOrgID: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid"""
    config = stack_config("dev")
    config["drkit:security"] = {"organizationId": "o-abcdefghij"}
    d = deploy_config(config)
    for p in d.all(KEY_POLICY):
        deny = sids(json.loads(p.inputs["policy"]))["DenyPrincipalsOutsideOrganization"]
        assert deny["Condition"]["StringNotEquals"] == {"aws:PrincipalOrgID": "o-abcdefghij"}, p.urn
        assert deny["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}, p.urn


def test_dicomweb_services_use_the_data_and_app_keys_only(prod) -> None:
    """Each region's DICOMweb role reads S3 objects (data key) and the index, logs and function
    environment (app key); it has no business with the backup or audit keys."""
    web = {prod.one("aws:iam/role:Role", f"drkit-prod-{n}-role").outputs["arn"] for n in ("dicomweb", "dicomweb-dr")}
    docs = policies(prod)
    for purpose, expected in (("data", True), ("app", True), ("backup", False), ("audit", False)):
        use = sids(docs[prod.one(KEY, f"drkit-prod-keys{'' if purpose == 'data' else '-' + purpose}").urn])[
            "UseThroughServices"]
        principals = use["Principal"]["AWS"]
        principals = {principals} if isinstance(principals, str) else set(principals)
        assert (web <= principals) is expected and (not web & principals) is (not expected), purpose
