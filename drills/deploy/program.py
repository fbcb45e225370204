"""Run the project's real ``__main__.py`` with Pulumi mocks standing in for the engine.

There is no Pulumi engine on these machines (and none is needed offline): the program is
executed in-process with ``pulumi.runtime.set_mocks``. The same runner serves the tests of
the whole program and ``drkit up`` (whose mocks create each resource in the embedded cloud).
"""

from __future__ import annotations

import runpy
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
from drills.deploy import pulumi_internals as internals
from drills.errors import ConfigError, ProjectError
from drills.project import Project


@dataclass
class RegisteredResource:
    """One resource the program registered, as the mocks saw it."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str | None
    id: str
    urn: str = ""
    parent: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: list[str] = field(default_factory=list)


@dataclass
class ProgramResult:
    resources: list[RegisteredResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[RegisteredResource]:
        return [r for r in self.resources if r.type == type_token]


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and delegate creation to ``create``.

    ``create(args) -> (id, outputs)`` decides the physical id and outputs; the default
    echoes the inputs with ``<name>-id`` as id, which is what the unit tests need.
    """

    def __init__(self, create: Callable[[pulumi.runtime.MockResourceArgs], tuple[str, dict]] | None = None,
                 call: Callable[[pulumi.runtime.MockCallArgs], dict] | None = None) -> None:
        self._create = create
        self._call = call
        self.resources: list[RegisteredResource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if self._create is not None:
            rid, outputs = self._create(args)
        else:
            rid, outputs = default_create(args)
        self.resources.append(RegisteredResource(
            type=args.typ, name=args.name, inputs=dict(args.inputs), outputs=dict(outputs),
            provider=args.provider or None, id=rid))
        return [rid, outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        if self._call is not None:
            return self._call(args)
        return default_call(args)


class _RecordingMonitor(internals.MockMonitor):
    """MockMonitor that also records what the engine would see besides inputs:
    URN, parent, protect, retainOnDelete and dependencies."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self._recording = mocks

    def RegisterResource(self, request):  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            for resource in reversed(self._recording.resources):
                if resource.type == request.type and resource.name == request.name and not resource.urn:
                    resource.urn = response.urn
                    resource.parent = request.parent
                    resource.protect = bool(request.protect)
                    resource.retain_on_delete = bool(request.retainOnDelete)
                    resource.dependencies = list(request.dependencies)
                    break
        return response


def default_create(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
    """Echo the inputs, adding the computed names most programs read (bucket, arn, name)."""
    outputs = dict(args.inputs)
    service = args.typ.split(":")[1].split("/")[0] if args.typ.count(":") >= 2 else "mock"
    if args.typ == "aws:s3/bucket:Bucket":
        outputs.setdefault("bucket", args.inputs.get("bucket") or args.name)
        outputs.setdefault("bucketDomainName", f"{outputs['bucket']}.s3.amazonaws.com")
        outputs.setdefault("arn", f"arn:aws:s3:::{outputs['bucket']}")
    if args.typ == "aws:apigatewayv2/api:Api":
        outputs.setdefault("apiEndpoint", f"https://{args.name}-id.execute-api.us-east-1.amazonaws.com")
        outputs.setdefault("executionArn", f"arn:aws:execute-api:us-east-1:123456789012:{args.name}-id")
    outputs.setdefault("name", args.inputs.get("name") or args.name)
    if args.typ == "aws:iam/role:Role":          # IAM ARNs carry no region: arn:aws:iam::<account>:role/<name>
        outputs.setdefault("arn", f"arn:aws:iam::123456789012:role/{outputs['name']}")
    outputs.setdefault("arn", f"arn:aws:{service}:us-east-1:123456789012:{args.name}")
    if args.typ == "aws:lambda/function:Function":
        outputs.setdefault("invokeArn", f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                                        f"{outputs['arn']}/invocations")
    return f"{args.name}-id", outputs


def default_call(args: pulumi.runtime.MockCallArgs) -> dict:
    """Answers for the invokes the program makes (caller identity, partition, region)."""
    token = args.token
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/drkit", "userId": "drkit"}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:index/getRegion:getRegion":
        region = args.args.get("region") or args.args.get("name") or "us-east-1"
        return {"name": region, "region": region, "id": region}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        return {"json": "{}"}
    return {}


def run_program(project: Project, stack: str, mocks: RecordingMocks | None = None,
                *, preview: bool = False) -> ProgramResult:
    """Execute ``project.root/__main__.py`` for ``stack`` under ``mocks``.

    Returns every registered resource and the exported stack outputs (resolved values).
    Config errors raised by the program surface as ``ConfigError`` (exit code 2).
    """
    mocks = mocks or RecordingMocks()
    main = project.root / "__main__.py"
    if not main.is_file():
        raise ProjectError(f"{project.root}: no __main__.py")
    config = project.pulumi_config(stack)
    internals.fresh_root_stack()     # a fresh root Stack per run, so URNs name this stack
    pulumi.runtime.set_mocks(mocks, project=project.name, stack=stack, preview=preview,
                             monitor=_RecordingMonitor(mocks))
    pulumi.runtime.set_all_config(config, secret_keys=[])
    def program() -> None:
        root = str(project.root)
        added = root not in sys.path
        if added:
            sys.path.insert(0, root)
        try:
            runpy.run_path(str(main), run_name="__main__")
        finally:
            if added:
                sys.path.remove(root)

    try:
        with internals.captured_exports() as exported:
            internals.clear_run_state()
            internals.run_program(program)
    except ConfigError:
        raise
    except pulumi.RunError as exc:
        raise ProjectError(f"the Pulumi program failed: {exc}") from exc
    resolved = {name: _resolve(value) for name, value in exported.items()}
    return ProgramResult(resources=list(mocks.resources), outputs=resolved)


def _resolve(value: Any) -> Any:
    out = pulumi.Output.from_input(value)
    return internals.sync_await(out.future())
