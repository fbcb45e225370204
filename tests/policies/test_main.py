"""The pack as the Pulumi engine meets it: ``python policies/`` serves the analyzer gRPC
API; these tests start it the way the Python language host does and call it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.deserialize import serialize_properties

from policies.rules import POLICIES
from tests.helpers.paths import REPO_ROOT
from tests.policies.breakages import no_vault_lock, rtc_off
from tests.policies.harness import PROVIDER_TYPE, Stack, hand_built_platform
from tests.policies.stacks import stack_from


def test_importing_the_entry_point_does_not_start_a_server() -> None:
    import policies.__main__ as entry   # would block forever if it built the PolicyPack on import

    assert callable(entry.main)


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """``python policies/`` (what RunPlugin executes), reached on the port it prints."""
    proc = subprocess.Popen([sys.executable, "policies"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            pytest.fail(f"the pack did not print its port: {line!r} {proc.stderr.read()[-2000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _struct(props: dict) -> struct_pb2.Struct:
    """Properties as the engine marshals them (assets in Pulumi's signature form)."""
    out = struct_pb2.Struct()
    out.update(json.loads(json.dumps(serialize_properties(props))))
    return out


def analyze_request(stack: Stack) -> analyzer_pb2.AnalyzeStackRequest:
    """The stack as the engine sends it: outputs as a protobuf Struct (every number a float)."""
    resources = []
    urns = {rec.name: stack.urn(rec) for rec in stack.records}
    for rec, res in zip(stack.records, stack.policy_resources()):
        provider = None
        if res.provider is not None:
            prov = next(r for r in stack.records if r.type == PROVIDER_TYPE and r.name == res.provider.name)
            provider = analyzer_pb2.AnalyzerProviderResource(type=prov.type, properties=_struct(prov.outputs),
                                                             urn=stack.urn(prov), name=prov.name)
        resources.append(analyzer_pb2.AnalyzerResource(
            type=rec.type, properties=_struct({"id": rec.id, **rec.outputs}), urn=stack.urn(rec), name=rec.name,
            provider=provider,
            propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=[urns[n] for n in v])
                                  for k, v in rec.deps.items()}))
    return analyzer_pb2.AnalyzeStackRequest(resources=resources)


def test_pack_info_lists_every_policy_as_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "drkit-imaging"
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def _stack_diagnostics(analyzer, stack: Stack) -> list:
    return list(analyzer.AnalyzeStack(analyze_request(stack)).diagnostics)


@pytest.mark.parametrize("preview", [False, True], ids=["update", "preview"])
def test_compliant_stack_passes_over_grpc(analyzer, preview: bool) -> None:
    stack = hand_built_platform()
    assert _stack_diagnostics(analyzer, stack.as_preview() if preview else stack) == []


@pytest.mark.parametrize("preview", [False, True], ids=["update", "preview"])
def test_program_prod_stack_passes_over_grpc(analyzer, preview: bool) -> None:
    stack = stack_from("program", "prod")
    assert _stack_diagnostics(analyzer, stack.as_preview() if preview else stack) == []


def test_broken_stack_fails_over_grpc(analyzer) -> None:
    stack = hand_built_platform()
    archive, vault = rtc_off(stack), no_vault_lock(stack)
    found = {(d.policyName, d.urn) for d in _stack_diagnostics(analyzer, stack)}
    assert found == {("s3-archive-cross-region-replication", stack.urn(archive)),
                     ("backup-vault-lock", stack.urn(vault))}


def test_policy_config_reaches_the_policies(analyzer) -> None:
    """``--policy-pack-config``: declaring ``dev`` a production stack makes its GOVERNANCE lock fail."""
    stack = hand_built_platform("dev")
    lock = stack.settings(stack.bucket("archive"), ":BucketObjectLockConfiguration")[0]
    stack.set(lock, "rule.defaultRetention.mode", "GOVERNANCE")
    assert _stack_diagnostics(analyzer, stack) == []
    config = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY)
    config.properties.update({"productionStacks": ["dev"]})
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"s3-bucket-object-lock": config}))
    try:
        found = [(d.policyName, d.urn) for d in _stack_diagnostics(analyzer, stack)]
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest())
    assert found == [("s3-bucket-object-lock", stack.urn(stack.bucket("archive")))]


def test_resource_policy_over_grpc(analyzer) -> None:
    stack = hand_built_platform()
    table = stack.of_type("/table:Table")[0]
    stack.set(table, "pointInTimeRecovery.enabled", False)
    request = analyzer_pb2.AnalyzeRequest(type=table.type, properties=_struct(table.inputs), urn=stack.urn(table),
                                          name=table.name)
    diagnostics = analyzer.Analyze(request).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [("dynamodb-pitr-and-kms",
                                                                          analyzer_pb2.MANDATORY)]
    assert f"'{table.name}'" in diagnostics[0].message
