"""The simulation layer's shared state: the virtual clock, the behaviours, moto's backends.

Behaviours are ``Interceptor`` classes listed in ``BEHAVIOURS`` (order matters: outage
first, refusals before moto, observers after). Each gets the ``Simulation`` and reads
what it needs from it; none holds global state of its own.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from drills.aws import Target
from drills.cloud.clock import SIMULATED, VirtualClock
from drills.cloud.interceptors import INTERNAL_HEADER, Interceptor

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"     # moto's default account

# "module:Class", in the order the middleware calls them.
BEHAVIOURS: tuple[str, ...] = (
    "drills.cloud.sim.outage:RegionOutage",
    "drills.cloud.sim.bad_requests:BadRequests",
    "drills.cloud.sim.bucket_policy:BucketPolicyEnforcement",
    "drills.cloud.sim.identity_policies:IdentityPolicyEnforcement",
    "drills.cloud.sim.public_access_block:PublicAccessBlockEnforcement",
    "drills.cloud.sim.checksums:ChecksumValidation",
    "drills.cloud.sim.kms_keys:KmsKeyState",
    "drills.cloud.sim.object_lock:ObjectLockFidelity",
    "drills.cloud.sim.listing:ObjectListing",
    "drills.cloud.sim.object_parts:ObjectParts",
    "drills.cloud.sim.default_encryption:DefaultEncryption",
    "drills.cloud.sim.delete_markers:DeleteMarkerResponses",
    "drills.cloud.sim.replication:S3Replication",
    "drills.cloud.sim.replication_monitoring:ReplicationMonitoring",
    "drills.cloud.sim.lifecycle:LifecycleAndRestore",
    "drills.cloud.sim.restore_testing:RestoreTesting",
    "drills.cloud.sim.backup:BackupJobs",
    "drills.cloud.sim.dynamodb_requests:DynamoDBRequestRules",
    "drills.cloud.sim.dynamodb_replicas:DynamoDBReplicas",
    "drills.cloud.sim.dynamodb_pitr:DynamoDBPointInTime",
    "drills.cloud.sim.pipeline:IngestPipelineEvents",
    "drills.cloud.sim.cloudwatch_alarms:CloudWatchAlarms",
    "drills.cloud.sim.fis:FaultInjection",
    "drills.cloud.sim.inventory:S3Inventory",
    "drills.cloud.sim.batch_ops:BatchOperations",
    "drills.cloud.sim.mrap:MultiRegionAccessPoints",
)


@dataclass
class SimSettings:
    """Knobs of the simulation (all durations it produces are simulated)."""

    seed: int = 1
    """Seed for every random draw (replication lag, failures), so runs repeat."""
    clock_speed: float = 0.0
    """Virtual seconds per real second; 0 = the clock moves only when told."""
    replication_lag: dict[str, Any] = field(default_factory=dict)
    """Lag distribution overrides for S3 replication (see drills.cloud.sim.replication)."""
    dynamodb_lag_seconds: float = 1.0
    """Typical replica-table propagation delay."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Behaviour-specific settings keyed by behaviour name."""


class Simulation:
    """Holds the clock and the behaviours; the middleware calls them around moto."""

    def __init__(self, settings: SimSettings | None = None, clock: VirtualClock | None = None,
                 behaviours: tuple[str, ...] = BEHAVIOURS) -> None:
        self.settings = settings or SimSettings()
        self.clock = clock or VirtualClock(speed=self.settings.clock_speed)
        self.account_id = ACCOUNT_ID
        self.endpoint: str | None = None
        self.ca_bundle: str | None = None
        self.tls = False
        """Served with TLS (``drkit cloud serve --tls``): plain HTTP is then insecure transport."""
        self._internal: Target | None = None
        self.interceptors: list[Interceptor] = [self._load(path) for path in behaviours]

    def _load(self, path: str) -> Interceptor:
        module_name, cls_name = path.split(":")
        return getattr(importlib.import_module(module_name), cls_name)(self)

    def __getitem__(self, name: str) -> Interceptor:
        for interceptor in self.interceptors:
            if interceptor.name == name:
                return interceptor
        raise KeyError(name)

    # -- talking to the embedded cloud from inside the simulation
    def bind(self, endpoint: str, ca_bundle: str | None = None) -> None:
        self.endpoint = endpoint
        self.ca_bundle = ca_bundle
        self.tls = endpoint.startswith("https://")
        self._internal = None

    def internal_client(self, service: str, region: str, **config: Any):
        """A boto3 client whose requests are marked internal (``req.internal``): behaviours
        use it to act as AWS itself would (a replication PUT, a restore copy)."""
        if self.endpoint is None:
            raise RuntimeError("simulation is not bound to a running endpoint")
        if self._internal is None:
            self._internal = Target(endpoint=self.endpoint, ca_bundle=self.ca_bundle)
        client = self._internal.client(service, region, retries={"max_attempts": 1, "mode": "standard"}, **config)
        if not getattr(client, "_drkit_internal", False):
            client.meta.events.register("before-sign.*.*", _mark_internal)
            client._drkit_internal = True
        return client

    def backend(self, service: str, region: str) -> Any:
        """moto's in-process backend for ``service`` in ``region`` (same process as the server)."""
        from moto.backends import get_backend
        return get_backend(service)[self.account_id][region]

    def s3_backend(self) -> Any:
        from moto.s3.models import s3_backends
        return s3_backends[self.account_id]["aws"]

    # -- reporting
    def status(self) -> dict[str, Any]:
        return {
            "clock": {"now": self.clock.now().isoformat(), "speed": self.clock.speed, "label": SIMULATED,
                      "pending": len(self.clock.pending()),
                      "failures": [{"at": t.isoformat(), "task": l, "error": e} for t, l, e in self.clock.failures]},
            "behaviours": {i.name: i.status() for i in self.interceptors},
        }

    def reset(self) -> None:
        for interceptor in self.interceptors:
            interceptor.reset()


def _mark_internal(request, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"
