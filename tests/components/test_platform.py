"""components/platform.py: two providers, every resource parented, named and placed by region."""

from __future__ import annotations

import importlib

import pulumi
import pytest

from components.config import from_mapping
from components.platform import NAME_LIMIT, ImagingPlatform, ImagingPlatformArgs
from drills.errors import UsageError

PROVIDER = "pulumi:providers:aws"
PLATFORM = "drkit:platform:ImagingPlatform"
STATEFUL = ("aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:backup/vault:Vault",
            "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault", "aws:dynamodb/table:Table",
            "aws:secretsmanager/secret:Secret")


def test_primary_and_dr_providers_from_config(any_stack) -> None:
    d = any_stack
    providers = {p.name: p for p in d.all(PROVIDER)}
    platform = f"drkit-{d.stack}"
    assert set(providers) == {f"{platform}-primary", f"{platform}-dr"}, d.stack
    assert providers[f"{platform}-primary"].inputs["region"] == d.config.primary_region
    assert providers[f"{platform}-dr"].inputs["region"] == d.config.dr_region
    for p in providers.values():
        assert d.parent(p).type == PLATFORM, p.urn


def test_every_aws_resource_uses_an_explicit_platform_provider(any_stack) -> None:
    d = any_stack
    provider_urns = {p.urn for p in d.all(PROVIDER)}
    for r in d.resources:
        if r.type.startswith("aws:"):
            assert r.provider.rsplit("::", 1)[0] in provider_urns, f"{r.urn}: provider {r.provider!r}"


def test_every_resource_is_parented_under_the_platform(any_stack) -> None:
    d = any_stack
    (platform,) = d.all(PLATFORM)
    # The root Stack; run_program keeps the first run's root across runs, so only its type is checked.
    assert "::pulumi:pulumi:Stack::" in platform.parent, platform.urn
    for r in d.resources:
        if r is platform:
            continue
        assert PLATFORM in d.ancestor_types(r), f"{r.urn}: parent {r.parent}"
        assert d.parent(r).type.startswith("drkit:"), f"{r.urn}: parent {r.parent} is not a drkit component"


def test_every_child_is_named_from_the_platform_name(any_stack) -> None:
    prefix = f"drkit-{any_stack.stack}"
    for r in any_stack.resources:
        assert r.name.startswith(prefix), r.urn


def test_component_type_tokens_match_module_and_class(any_stack) -> None:
    for token in {r.type for r in any_stack.resources if r.type.startswith("drkit:")}:
        _, module, cls = token.split(":")
        component = getattr(importlib.import_module(f"components.{module}"), cls)
        assert issubclass(component, pulumi.ComponentResource), token


def test_dr_resources_live_in_the_dr_region(any_stack) -> None:
    d = any_stack
    for r in d.resources:
        if not r.type.startswith("aws:"):
            continue
        ancestors = {a for a in _ancestor_names(d, r)}
        if f"drkit-{d.stack}-replica" in ancestors:
            assert d.region(r) == d.config.dr_region, r.urn
        elif f"drkit-{d.stack}-archive" in ancestors:
            assert d.region(r) == d.config.primary_region, r.urn
    expected_dr = {"aws:kms/replicaKey:ReplicaKey", "aws:backup/vault:Vault"}
    found = {r.type for r in d.resources if r.type.startswith("aws:") and d.region(r) == d.config.dr_region}
    assert expected_dr <= found, d.stack


def _ancestor_names(d, r):
    current = d.parent(r)
    while current is not None:
        yield current.name
        current = d.parent(current)


def test_stateful_resources_protected_and_retained_when_configured(dev, prod, eu) -> None:
    for d in (prod, eu):
        assert d.config.protect
        for r in d.resources:
            if r.type in STATEFUL:
                assert r.protect and r.retain_on_delete, r.urn
    for r in dev.resources:
        assert not r.protect and not r.retain_on_delete, r.urn


@pytest.mark.parametrize("name", ["drkit-My_Stack", "drkit-" + "x" * (NAME_LIMIT - 5)])
def test_platform_name_that_cannot_name_buckets_is_refused(name: str) -> None:
    config = from_mapping({"primaryRegion": "us-east-1", "drRegion": "us-west-2"})
    with pytest.raises(UsageError, match="stack name"):
        ImagingPlatform(name, ImagingPlatformArgs(config=config))


def _component_inits():
    """(module file, class name, __init__ node) for every ComponentResource class in components/."""
    import ast
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "components").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Attribute) and b.attr == "ComponentResource" for b in node.bases):
                init = next(f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
                yield path, node.name, init


def test_register_outputs_is_each_constructors_last_line() -> None:
    import ast

    inits = list(_component_inits())
    assert len(inits) == 16, [c for _, c, _ in inits]
    for path, cls, init in inits:
        last = init.body[-1]
        assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and \
            getattr(last.value.func, "attr", None) == "register_outputs", f"{path.name}:{cls}"


def test_type_token_names_module_and_class() -> None:
    import ast

    for path, cls, init in _component_inits():
        (call,) = [n for n in ast.walk(init) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                   and n.func.attr == "__init__" and isinstance(n.func.value, ast.Call)]
        assert call.args[0].value == f"drkit:{path.stem}:{cls}", f"{path.name}:{cls}"


# --------------------------------------------------------------------------- DICOMweb per region

DICOMWEB = "drkit:dicomweb:DicomWeb"


def policy_of(d, purpose: str) -> dict[str, dict]:
    """The bucket policy's statements by Sid, for the bucket of that drkit purpose tag."""
    from components.secure_bucket import PURPOSE_TAG

    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return {s["Sid"]: s for s in d.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b).policy()["Statement"]}


def allowed(statement: dict) -> set[str]:
    return set(statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"])


def role_arn(d, name: str) -> str:
    return d.one("aws:iam/role:Role", name).outputs["arn"]


def _dicomweb_function(d, suffix: str):
    return d.one("aws:lambda/function:Function", f"drkit-{d.stack}-{suffix}-function")


def test_one_dicomweb_service_per_region_reads_that_regions_bucket_and_index(any_stack) -> None:
    d = any_stack
    from components.secure_bucket import PURPOSE_TAG

    archive, replica = ([b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose][0]
                        for purpose in ("archive", "replica"))
    (table,) = [t for t in d.all("aws:dynamodb/table:Table") if t.inputs["hashKey"] == "StudyInstanceUID"]
    (claims,) = [t for t in d.all("aws:dynamodb/table:Table") if t.inputs["hashKey"] == "SOPInstanceUID"]
    for suffix, bucket, region, role in (("dicomweb", archive, d.config.primary_region, "primary"),
                                         ("dicomweb-dr", replica, d.config.dr_region, "dr")):
        f = _dicomweb_function(d, suffix)
        env = f.inputs["environment"]["variables"]
        assert DICOMWEB in d.ancestor_types(f) and d.region(f) == region, f.urn
        assert (env["DRKIT_DICOMWEB_ROLE"], env["DRKIT_DICOMWEB_REGION"]) == (role, region)
        assert env["DRKIT_DICOMWEB_BUCKET"] == bucket.outputs["bucket"], f.urn
        assert env["DRKIT_DICOMWEB_TABLE"] == table.outputs["name"], f.urn
        assert env["DRKIT_DICOMWEB_CLAIMS_TABLE"] == claims.outputs["name"], f.urn   # STOW claims what it stores
    assert _dicomweb_function(d, "dicomweb").inputs["environment"]["variables"]["DRKIT_DICOMWEB_WRITABLE"] == "true"
    assert _dicomweb_function(d, "dicomweb-dr").inputs["environment"]["variables"]["DRKIT_DICOMWEB_WRITABLE"] == \
        ("true" if d.config.dicomweb.promote_dr else "false")


def test_dr_dicomweb_reads_the_index_replica_in_its_region(any_stack) -> None:
    d = any_stack
    policy = d.one("aws:iam/rolePolicy:RolePolicy", f"drkit-{d.stack}-dicomweb-dr-role-policy").policy()
    (index,) = [s for s in policy["Statement"] if s.get("Sid") == "ReadIndex"]
    resources = index["Resource"] if isinstance(index["Resource"], list) else [index["Resource"]]
    assert resources and all(f":dynamodb:{d.config.dr_region}:" in r for r in resources), index
    assert not any(s.get("Sid") in ("StoreInstances", "IndexInstances") for s in policy["Statement"]), \
        "DR is read-only until promoted"


def test_routes_use_the_configured_authorizer(any_stack) -> None:
    d = any_stack
    expected = {"jwt": "JWT", "iam": "AWS_IAM"}[d.config.dicomweb.authorizer.type.value]
    routes = d.all("aws:apigatewayv2/route:Route", under=DICOMWEB)
    assert len(routes) == 2 and {r.inputs["authorizationType"] for r in routes} == {expected}, d.stack
    for a in d.all("aws:apigatewayv2/authorizer:Authorizer", under=DICOMWEB):
        assert a.inputs["jwtConfiguration"]["issuer"] == d.config.dicomweb.authorizer.issuer


def test_archive_allow_lists_admit_each_regions_dicomweb_role(any_stack) -> None:
    d = any_stack
    web, web_dr = role_arn(d, f"drkit-{d.stack}-dicomweb-role"), role_arn(d, f"drkit-{d.stack}-dicomweb-dr-role")
    archive, replica = policy_of(d, "archive"), policy_of(d, "replica")
    assert web in allowed(archive["DenyObjectReadsOutsideAllowList"])
    assert web in allowed(archive["DenyObjectWritesOutsideAllowList"])          # STOW-RS in the primary
    assert web_dr in allowed(replica["DenyObjectReadsOutsideAllowList"])
    assert web_dr not in allowed(replica["DenyObjectWritesOutsideAllowList"])   # read-only until promoted
    assert web_dr not in allowed(archive["DenyObjectReadsOutsideAllowList"])


def test_dicomweb_can_be_turned_off(deploy_config, stack_config) -> None:
    config = stack_config("dev")
    config["drkit:dicomweb"] = {"enabled": False}
    d = deploy_config(config)
    assert not d.all(DICOMWEB) and not d.all("aws:apigatewayv2/api:Api")


def test_promoted_dr_may_store_into_the_replica(deploy_config, stack_config) -> None:
    config = stack_config("dev")
    config["drkit:dicomweb"] = {"promoteDr": True}
    d = deploy_config(config)
    assert _dicomweb_function(d, "dicomweb-dr").inputs["environment"]["variables"]["DRKIT_DICOMWEB_WRITABLE"] == "true"
    web_dr = role_arn(d, f"drkit-{d.stack}-dicomweb-dr-role")
    assert web_dr in allowed(policy_of(d, "replica")["DenyObjectWritesOutsideAllowList"])
