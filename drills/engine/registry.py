"""Probes and actions by name: what a scenario document may call.

A provider is a small Python function over boto3 (and the control protocol on the
embedded cloud), registered with the JSON Schema of its arguments::

    @action("region-outage", {"region": {"enum": ["primary", "dr"]}}, required=["region"])
    def region_outage(run, region): ...

It receives the ``ScenarioRun`` (context, shared scenario state, measurement and finding
recorders) and its arguments, and returns a ``ProbeResult``. The same function runs on AWS
and on the embedded cloud. Modules that register providers are listed in ``PROVIDER_MODULES``
and imported on first lookup.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

PROVIDER_MODULES = (
    "drills.probes.drill",
    "drills.probes.replication",
    "drills.probes.ladder_probe",
    "drills.probes.dicomweb_served",
    "drills.actions.canaries",
    "drills.actions.outage",
    "drills.actions.routes",
    "drills.actions.fis",
    "drills.actions.failback",
    "drills.probes.known_good",
    "drills.actions.ransomware",
    "drills.actions.recover",
    "drills.actions.deletion",
    "drills.actions.backup",
    "drills.actions.index_rebuild",
    "drills.actions.restore",
    "drills.actions.restore_testing",
    "drills.probes.destruction",
)


@dataclass(frozen=True)
class Provider:
    name: str
    kind: str                           # "probe" | "action"
    fn: Callable[..., Any]
    arguments: dict[str, Any]           # JSON Schema properties
    required: tuple[str, ...] = ()
    writes: bool = False                # changes the cloud (skipped under --dry-run)
    disruptive: bool = False            # affects production traffic: AWS needs --allow-prod
    plan: Callable[..., list[str]] | None = None   # what it would touch (for --dry-run)
    summary: str = ""

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": self.arguments, "required": list(self.required),
                "additionalProperties": False}


_REGISTRY: dict[tuple[str, str], Provider] = {}
_loaded = False


def _register(kind: str, name: str, arguments: dict[str, Any] | None, required: list[str] | None,
              writes: bool, disruptive: bool, plan: Callable[..., list[str]] | None) -> Callable:
    def decorate(fn: Callable) -> Callable:
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[(kind, name)] = Provider(name, kind, fn, dict(arguments or {}), tuple(required or ()),
                                           writes, disruptive, plan, doc[0] if doc else "")
        return fn
    return decorate


def probe(name: str, arguments: dict[str, Any] | None = None, *, required: list[str] | None = None) -> Callable:
    return _register("probe", name, arguments, required, False, False, None)


def action(name: str, arguments: dict[str, Any] | None = None, *, required: list[str] | None = None,
           disruptive: bool = False, plan: Callable[..., list[str]] | None = None) -> Callable:
    return _register("action", name, arguments, required, True, disruptive, plan)


def load() -> None:
    global _loaded
    if not _loaded:
        for module in PROVIDER_MODULES:
            importlib.import_module(module)
        _loaded = True


def get(kind: str, name: str) -> Provider | None:
    load()
    return _REGISTRY.get((kind, name))


def names(kind: str) -> list[str]:
    load()
    return sorted(n for k, n in _REGISTRY if k == kind)
