"""``dicomweb-served``: the clinical end point of a failover — every in-scope study retrieved
by a standard DICOMweb client (dicomweb-client) from the DR region's DICOMweb app and checked
byte for byte (SHA-256) against the pre-drill manifest.

The app (``drills.dicomweb``) runs in this process against the region's bucket and index
replica, on a loopback port, with a token minted for the probe; on AWS the same app is what
the region's Lambda serves. Phases: "first study served (DICOMweb)" and "all served
(DICOMweb)", both counted from the declared disaster. On the virtual clock reads take no
time, so the phases show when the probe ran, not how long a real read would take.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any

from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import probe

TOKEN_SUBJECT = "drkit-failover-probe"


@probe("dicomweb-served", {"region": {"enum": ["primary", "dr"]}})
def dicomweb_served(run: Any, region: str = "dr") -> ProbeResult:
    """Every in-scope study retrieved through the region's DICOMweb app, byte for byte."""
    from dicomweb_client.api import DICOMwebClient

    from drills.dicomweb.app import create_app
    from drills.dicomweb.auth import TokenAuth
    from drills.dicomweb.server import BackgroundServer
    from drills.dicomweb.source import ArchiveSource

    ctx = run.ctx
    declared = run.state.get("declared_at")
    if declared is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no disaster was declared before this probe")
    if ctx.manifest is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no pre-drill manifest: nothing to check byte for byte")
    studies: dict[str, list[str]] = defaultdict(list)
    for record in ctx.manifest.instances:
        if ctx.in_scope(record.key) and record.sha256_hex:
            studies[record.study_uid].append(record.sha256_hex)
    if not studies:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="the manifest names no in-scope instance with a SHA-256")
    auth = TokenAuth.generate()
    source = ArchiveSource.from_outputs(ctx.outputs, ctx.target, region)
    labels = {study: f"study-{n}" for n, study in enumerate(sorted(studies))}
    problems: dict[str, list[str]] = {"not_served": [], "incomplete": [], "mismatch": []}
    first_at = None
    served = 0
    with BackgroundServer(create_app(source, auth)) as url:
        client = DICOMwebClient(url, headers={"Authorization": f"Bearer {auth.issue(TOKEN_SUBJECT)}"})
        for study in sorted(studies):
            try:
                # retrieve_bulkdata GETs a multipart resource and returns its parts as raw
                # bytes: the study's instances exactly as the server sent them
                parts = client.retrieve_bulkdata(f"{url}/studies/{study}")
            except Exception as exc:     # noqa: BLE001 — requests' HTTPError, a broken stream: not served
                run.note("dicomweb-not-served", {"study": labels[study], "error": type(exc).__name__})
                problems["not_served"].append(labels[study])
                continue
            got = Counter(hashlib.sha256(p).hexdigest() for p in parts)
            want = Counter(studies[study])
            if got == want:
                served += 1
                first_at = first_at or ctx.clock.now()
            elif sum((want - got).values()) and not sum((got - want).values()):
                problems["incomplete"].append(labels[study])
            else:
                problems["mismatch"].append(labels[study])
    end = ctx.clock.now()
    if first_at is not None:
        run.phase("first study served (DICOMweb)", declared, first_at)
    if served == len(studies):
        run.phase("all served (DICOMweb)", declared, end)
    output = {"region": region, "studies": len(studies), "served": served,
              **{k: len(v) for k, v in problems.items()}}
    failed = sum(len(v) for v in problems.values())
    if failed:
        finding = Finding("dicomweb-study-not-served", Severity.CRITICAL, source.bucket,
                          f"{failed} of {len(studies)} in-scope studies were not served intact through DICOMweb "
                          f"from the {region} region", {k: v[:50] for k, v in problems.items() if v})
        return ProbeResult(Status.FAILED, output, (finding,))
    return ProbeResult(Status.PASSED, output)
