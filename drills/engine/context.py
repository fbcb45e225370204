"""What every probe and action receives: where to look, with which clock, within what scope.

``DrillContext`` is built once per run by ``drkit run`` / ``drkit verify`` and passed to the
verification ladder (``drills.probes.ladder.run_ladder(ctx, ...)``), to drill probes and to
actions. It holds no clients of its own: ``target.client(service, region)`` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from drills.aws import Target
from drills.contracts import DICOM_PREFIX, StackOutputs
from drills.engine.clock import Clock
from drills.errors import RegionFenced


@dataclass(frozen=True)
class InstanceRecord:
    """One instance the run ingested (when known): where it lives and what its bytes are.

    ``label`` is opaque (``instance-<n>``): journals name instances by it, never by patient
    data. UIDs are not PHI but stay out of summaries unless a finding needs them."""

    label: str
    key: str
    version_id: str | None
    size: int
    checksum_sha256: str | None      # base64, as S3 reports x-amz-checksum-sha256
    sha256_hex: str | None           # of the source file's bytes (synth manifest), if known
    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str = ""
    specialty: str = ""


@dataclass
class Manifest:
    """Instances known to be in the archive because this run (or its setup) put them there."""

    instances: list[InstanceRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.instances)

    @property
    def total_bytes(self) -> int:
        return sum(i.size for i in self.instances)

    def by_key(self) -> dict[str, InstanceRecord]:
        return {i.key: i for i in self.instances}


@dataclass
class DrillContext:
    """Everything a probe or action needs, and nothing it should not touch.

    target       boto3 client factory (embedded endpoint or real AWS)
    outputs      the stack's outputs (buckets, table, regions, objectives)
    clock        the one clock: virtual on the embedded cloud (``clock.simulated``), wall on AWS
    control      the embedded cloud's control client (``drills.cloud.control.HttpControl``),
                 None on AWS
    run_id       "<UTC stamp>-<6 hex>": names run-scoped resources (restores, copies)
    scope_prefix drills read and change only keys under this prefix (default ``dicom/``)
    allow_prod   the person passed --allow-prod (drills may touch data outside the drill prefix)
    dry_run      plan only: nothing that writes may be called
    manifest     instances ingested for this run, when known (None on a plain ``verify``)
    stack        stack name; ``declared`` its config as the stack file declares it (for drift)
    drill_prefix the stack's ``drkit:drill.prefix``: the only keys drills write or delete
    fenced       regions a region-outage drill has fenced off (use ``ctx.client``)
    restore_tier the Glacier restore tier chosen with ``drkit run --restore-tier`` (None: the document's)
    cache        per-run memo for providers (e.g. the drill-write pool), shared across scenarios
    actor        who runs the drill (the caller's ARN on AWS): each journal activity's ``actor``
    seed         the run's ``--seed``: drill-generated content (the drill-write pool) derives from it,
                 so two runs with one seed write the same bytes; None: from the run id (varies per run)
    """

    target: Target
    outputs: StackOutputs
    clock: Clock
    control: Any = None
    run_id: str = ""
    scope_prefix: str = DICOM_PREFIX
    allow_prod: bool = False
    dry_run: bool = False
    manifest: Manifest | None = None
    stack: str | None = None
    declared: Mapping[str, Any] | None = None
    drill_prefix: str = "drills/"
    fenced: set[str] = field(default_factory=set)
    restore_tier: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    actor: str = "not recorded"
    seed: int | None = None

    def client(self, service: str, region: str, **config: Any):
        """A client for ``region`` unless a drill fenced it off (AWS region outage: the
        client-side fence). Raises ``RegionFenced`` for a fenced region."""
        if region in self.fenced:
            raise RegionFenced(f"{region} is fenced off by the running drill (simulated region outage)")
        return self.target.client(service, region, **config)

    @property
    def simulated(self) -> bool:
        return self.clock.simulated

    def s3(self, region: str | None = None):
        return self.target.client("s3", region or self.outputs.primaryRegion)

    def in_scope(self, key: str) -> bool:
        return key.startswith(self.scope_prefix)
