"""Offline deploy: run the project's real Pulumi program with mocks that create each resource
in the embedded cloud through boto3, and return the identifiers the cloud assigned.

The Pulumi engine does not run (none is needed offline): ``pulumi up`` did not happen. A
resource the embedded cloud cannot hold is *declared only* and listed with its reason;
nothing is silently dropped. Deploying the same stack twice into the same cloud reuses
what the first deploy made (names are deterministic per stack and logical name), so a
second ``drkit up`` on a long-lived ``drkit cloud serve`` is a no-drift update.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import pulumi
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from drills.aws import Target
from drills.cloud.control import HttpControl
from drills.deploy import apigateway as deploy_apigateway, backup as deploy_backup, dynamodb as deploy_dynamodb, messaging as deploy_messaging, monitoring as deploy_monitoring, s3 as deploy_s3, security as deploy_security
from drills.deploy.common import (ACCOUNT_ID, DeclaredResource, DeployContext, DeployedResource, Handler, Spec,
                                        outputs, refused, short_hash, unwrap)
from drills.contracts import StackOutputs
from drills.errors import DrkitError, EndpointUnreachable, InfraError, UsageError
from drills.project import Project
from drills.deploy.program import RecordingMocks, default_call, run_program

HANDLERS: dict[str, Handler] = {
    **deploy_s3.HANDLERS, **deploy_security.HANDLERS, **deploy_messaging.HANDLERS,
    **deploy_dynamodb.HANDLERS, **deploy_backup.HANDLERS, **deploy_monitoring.HANDLERS,
    **deploy_apigateway.HANDLERS,
}
PROVIDER_PREFIX = "pulumi:providers:"
REGION_KEYS = ("aws:region", "drkit:primaryRegion", "drkit:drRegion")
DISCLAIMER = "deployed offline into the embedded cloud (simulated); pulumi up did not run"


@dataclass
class DeployResult:
    """What an offline deploy did: created (or reused) vs declared-only resources, the outputs."""

    stack: str
    endpoint: str
    created: list[DeployedResource]
    declared_only: list[DeclaredResource]
    outputs: StackOutputs
    duration_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def reused(self) -> list[DeployedResource]:
        return [r for r in self.created if r.reused]

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "endpoint": self.endpoint, "target": "embedded-simulated",
                "engine": "pulumi mocks (offline); pulumi up did not run",
                "created": [asdict(r) for r in self.created], "declaredOnly": [asdict(r) for r in self.declared_only],
                "outputs": self.outputs.to_dict(), "durationSeconds": round(self.duration_seconds, 3),
                "notes": list(self.notes)}


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region botocore knows an S3 endpoint for, in every partition."""
    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("s3", partition_name=partition))
    return frozenset(regions)


def check_region(region: Any, where: str) -> str:
    """Refuse a region botocore does not know for S3 (a typo deploys nowhere on AWS either)."""
    if not isinstance(region, str) or region not in known_regions():
        raise UsageError(f"{where}: {region!r} is not an AWS region the embedded cloud supports "
                         "(botocore knows no S3 endpoint there)", hint="use a region name like us-east-1 or eu-west-1")
    return region


def probe(endpoint: str) -> None:
    """Fail fast (exit 3) when nothing answers at ``endpoint``."""
    client = HttpControl(endpoint, timeout=5)
    try:
        client.status()
    except EndpointUnreachable as exc:
        raise EndpointUnreachable(exc.message, hint="start one with `drkit cloud serve`, or drop --endpoint") from exc
    except DrkitError:
        return      # something answers HTTP: a plain moto server has no control API, still a cloud


class _Engine:
    """The mocks' create/call: resolves each resource's region and hands it to its handler."""

    def __init__(self, ctx: DeployContext, default_region: str) -> None:
        self.ctx = ctx
        self.default_region = default_region
        self.providers: dict[str, str] = {}     # provider id -> region
        self._lock = threading.Lock()           # the SDK registers from several threads
        self._count = 0

    def _region(self, provider_ref: str | None, inputs: dict[str, Any]) -> str:
        if inputs.get("region"):
            return check_region(inputs["region"], "resource input 'region'")
        if provider_ref:
            return self.providers.get(provider_ref.rsplit("::", 1)[-1], self.default_region)
        return self.default_region

    def create(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        with self._lock:
            inputs = unwrap(dict(args.inputs))
            if args.typ.startswith(PROVIDER_PREFIX):
                return self._provider(args, inputs)
            if not args.custom:                 # a component: nothing to create
                return args.name, {}
            spec = Spec(args.typ, args.name, inputs, self._region(args.provider, inputs))
            handler = HANDLERS.get(args.typ, _declared_unknown)
            try:
                return handler(self.ctx, spec)
            except DrkitError:
                raise
            except EndpointConnectionError as exc:
                raise EndpointUnreachable(f"{spec.label}: the embedded cloud stopped answering ({exc})") from exc
            except ClientError as exc:
                raise refused(spec, exc) from exc
            except BotoCoreError as exc:
                raise InfraError(f"{spec.label}: {exc}") from exc
            except (KeyError, TypeError, ValueError) as exc:   # inputs this deploy cannot map
                raise InfraError(f"{spec.label}: cannot deploy it offline ({type(exc).__name__}: {exc})") from exc

    def _provider(self, args: pulumi.runtime.MockResourceArgs, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._count += 1
        pid = f"{args.name}-{self._count}-{short_hash(args.name, str(self._count))}"
        if args.typ == f"{PROVIDER_PREFIX}aws":
            region = inputs.get("region") or self.default_region
            self.providers[pid] = check_region(region, f"aws provider {args.name!r}")
        return pid, dict(inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        token, params = args.token, unwrap(dict(args.args or {}))
        region = self._region(getattr(args, "provider", None), {})
        account = self.ctx.account_id
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:user/drkit", "userId": "AIDADRKITOFFLINE",
                    "id": account}
        if token == "aws:index/getRegion:getRegion":
            name = params.get("region") or params.get("name") or region
            return {"name": name, "region": name, "id": name, "endpoint": f"ec2.{name}.amazonaws.com",
                    "description": name}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            document = policy_document(params)
            return {"json": json.dumps(document, indent=2), "minifiedJson": json.dumps(document, separators=(",", ":")),
                    "id": short_hash(json.dumps(document, sort_keys=True), length=10)}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{region}{z}" for z in "abc"], "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)],
                    "id": region}
        return default_call(args)


def _declared_unknown(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    ctx.declare(spec, "drkit's offline deploy has no emulation for this resource type; declared, not emulated")
    name = spec.inputs.get("name") or f"{spec.name}-{short_hash(ctx.stack, spec.name)}"
    service = spec.type.split(":")[1].split("/")[0]
    return str(name), outputs(spec, id=str(name), name=name,
                              arn=f"arn:aws:{service}:{spec.region}:{ctx.account_id}:{name}")


def policy_document(params: dict[str, Any]) -> dict[str, Any]:
    """Render ``aws.iam.get_policy_document`` the way the provider does (single values unwrapped)."""
    def one(values: list[Any]) -> Any:
        return values[0] if len(values) == 1 else list(values)

    def principals(items: list[dict[str, Any]]) -> Any:
        if len(items) == 1 and items[0].get("type") == "*":
            return "*"
        out: dict[str, Any] = {}
        for item in items:
            out.setdefault(item["type"], []).extend(item.get("identifiers", []))
        return {k: one(v) for k, v in out.items()}

    statements = []
    for source in params.get("sourcePolicyDocuments", []) or []:
        statements.extend(json.loads(source).get("Statement", []))
    for st in params.get("statements", []) or []:
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect", "Allow")
        for key, api in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource"),
                         ("notResources", "NotResource")):
            if st.get(key):
                out[api] = one(sorted(st[key]) if key.endswith("ctions") else list(st[key]))
        for key, api in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if st.get(key):
                out[api] = principals(st[key])
        if st.get("conditions"):
            cond: dict[str, dict[str, Any]] = {}
            for c in st["conditions"]:
                cond.setdefault(c["test"], {})[c["variable"]] = one(list(c.get("values", [])))
            out["Condition"] = cond
        statements.append(out)
    document: dict[str, Any] = {"Version": params.get("version") or "2012-10-17"}
    if params.get("policyId"):
        document["Id"] = params["policyId"]
    document["Statement"] = statements
    return document


def deploy(project: Project, stack: str, target: Target, sim: Any = None) -> DeployResult:
    """Deploy ``stack`` of ``project`` into the embedded cloud at ``target`` (offline)."""
    if not target.endpoint:
        raise UsageError("drkit up deploys offline into the embedded cloud only",
                         hint="deploy to AWS with `pulumi up`, then `pulumi stack output --json > outputs.json`")
    config = project.stack_config(stack)             # unknown stack / broken YAML: exit 2
    for key in REGION_KEYS:
        if key in config:
            check_region(config[key], f"{project.stack_file(stack).name}: {key}")
    default_region = config.get("aws:region") or config.get("drkit:primaryRegion") or "us-east-1"
    probe(target.endpoint)
    started = time.monotonic()
    ctx = DeployContext(target, stack, project.name, sim=sim, account_id=_account_id(target),
                        base_dir=project.root)
    engine = _Engine(ctx, str(default_region))
    result = run_program(project, stack, RecordingMocks(create=engine.create, call=engine.call))
    try:
        ctx.finish()
    except ClientError as exc:
        raise InfraError(f"a deferred configuration was refused: {exc}") from exc
    stack_outputs = StackOutputs.from_mapping(result.outputs, source=f"stack {stack!r} exports")
    return DeployResult(stack=stack, endpoint=target.endpoint, created=ctx.created, declared_only=ctx.declared,
                        outputs=stack_outputs, duration_seconds=time.monotonic() - started, notes=ctx.notes)


def _account_id(target: Target) -> str:
    try:
        return target.client("sts", "us-east-1").get_caller_identity()["Account"]
    except EndpointConnectionError as exc:
        raise EndpointUnreachable(f"the embedded cloud at {target.endpoint} does not answer ({exc})") from exc
    except ClientError:
        return ACCOUNT_ID
