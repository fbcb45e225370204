"""components/keys.py: a rotating multi-Region primary key, its replica in the DR region, aliases."""

from __future__ import annotations

KEY = "aws:kms/key:Key"
REPLICA = "aws:kms/replicaKey:ReplicaKey"
ALIAS = "aws:kms/alias:Alias"


def test_primary_key_is_multi_region_and_rotates(stack) -> None:
    (key,) = stack.all(KEY)
    assert key.inputs["multiRegion"] is True, key.urn
    assert key.inputs["enableKeyRotation"] is True, key.urn
    assert stack.region(key) == stack.config.primary_region, key.urn
    assert stack.parent(key).type == "drkit:keys:Keys", key.urn


def test_replica_key_lives_in_dr_and_replicates_the_primary(stack) -> None:
    (key,) = stack.all(KEY)
    (replica,) = stack.all(REPLICA)
    assert stack.region(replica) == stack.config.dr_region, replica.urn
    assert replica.inputs["primaryKeyArn"] == key.outputs["arn"], replica.urn
    assert stack.parent(replica).type == "drkit:keys:Keys", replica.urn


def test_each_region_has_an_alias_for_its_key(stack) -> None:
    aliases = stack.all(ALIAS)
    assert sorted(stack.region(a) for a in aliases) == sorted([stack.config.primary_region, stack.config.dr_region])
    for a in aliases:
        assert a.inputs["name"].startswith("alias/drkit-"), a.urn
    assert len({a.inputs["name"] for a in aliases}) == 1, "one alias name, one key per region"


def test_key_policy_scopes_services_to_this_account(stack) -> None:
    for key in stack.all(KEY) + stack.all(REPLICA):
        by_sid = {s["Sid"]: s for s in key.policy()["Statement"]}
        services = by_sid["ServicesEncryptForThisAccount"]
        assert "kms:*" not in services["Action"], key.urn
        assert services["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012", key.urn
        assert by_sid["AccountAdministersThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_keys_protected_in_prod_only(dev, prod) -> None:
    for key in prod.all(KEY) + prod.all(REPLICA):
        assert key.protect and key.retain_on_delete, key.urn
    for key in dev.all(KEY) + dev.all(REPLICA):
        assert not key.protect, key.urn
