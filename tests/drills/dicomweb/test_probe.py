"""The ``dicomweb-served`` probe: with the primary region down, every in-scope study is
retrieved through the DR DICOMweb app by dicomweb-client and checked against the manifest."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from drills.contracts import archive_key
from drills.engine.context import DrillContext, InstanceRecord, Manifest
from drills.engine.model import Status
from drills.engine.registry import get, load

pytestmark = pytest.mark.slow


class _Clock:
    simulated = True

    def __init__(self, cloud) -> None:
        self.cloud = cloud

    def now(self):
        return self.cloud.clock.now()


def _run(served, manifest: Manifest):
    phases, notes = [], []
    ctx = DrillContext(target=served.cloud.target, outputs=served.outputs, clock=_Clock(served.cloud),
                       manifest=manifest)
    return SimpleNamespace(ctx=ctx, state={"declared_at": served.cloud.clock.now()}, phases=phases, notes=notes,
                           phase=lambda name, start, end: phases.append(name),
                           note=lambda kind, data: notes.append((kind, data)))


def _manifest(served) -> Manifest:
    return Manifest([InstanceRecord(f"instance-{n}", archive_key(e.study_instance_uid, e.series_instance_uid,
                                                                 e.sop_instance_uid),
                                    None, e.size, None, e.sha256, e.study_instance_uid, e.series_instance_uid,
                                    e.sop_instance_uid, e.modality)
                     for n, e in enumerate(served.manifest.entries)])


def test_every_study_served_from_dr_with_primary_down(served):
    load()
    provider = get("probe", "dicomweb-served")
    control = served.cloud.control()
    control.outage(served.outputs.primaryRegion, True)
    try:
        run = _run(served, _manifest(served))
        result = provider.fn(run, region="dr")
        assert result.status is Status.PASSED, result
        assert result.output["served"] == result.output["studies"] == len({e.study_instance_uid
                                                                           for e in served.manifest.entries})
        assert run.phases == ["first study served (DICOMweb)", "all served (DICOMweb)"]

        manifest = _manifest(served)
        manifest.instances[0] = replace(manifest.instances[0], sha256_hex="0" * 64)
        bad = provider.fn(_run(served, manifest), region="dr")
        assert bad.status is Status.FAILED and bad.output["mismatch"] == 1
        assert bad.findings[0].code == "dicomweb-study-not-served"

        manifest = _manifest(served)
        manifest.instances.append(replace(manifest.instances[0], study_uid="1.2.3.404", sha256_hex="1" * 64))
        missing = provider.fn(_run(served, manifest), region="dr")
        assert missing.status is Status.FAILED and missing.output["not_served"] == 1
    finally:
        control.outage(served.outputs.primaryRegion, False)


def test_without_a_declared_disaster_or_manifest_nothing_is_verified(served):
    load()
    provider = get("probe", "dicomweb-served")
    run = _run(served, _manifest(served))
    run.state.clear()
    assert provider.fn(run).status is Status.NOT_VERIFIED
    run = _run(served, None)
    assert provider.fn(run).status is Status.NOT_VERIFIED
