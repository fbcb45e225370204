"""Scenario documents: load, validate whole, then hand the runner a typed ``Scenario``.

A scenario is data (YAML or JSON), shaped after Chaos Toolkit's experiments::

    name: region-failover            # [a-z0-9-]+
    title: ...
    description: ...
    tags: [failover]
    testType: functional             # NIST SP 800-34: tabletop | functional | full-scale
    objectives: [rto, rpo]           # which stack objectives it measures
    steadyState:                     # hypothesis: probes with tolerances
      - {name: ..., probe: replica-parity, arguments: {...}, tolerance: {output: missing, max: 0},
         timeout: 300, optional: false}
    method:                          # actions and probes, in order
      - {name: ..., action: region-outage, arguments: {region: primary}, timeout: 60}
      - {name: ..., probe: ..., ...}
    rollbacks:                       # always run, in order, after the method
      - {name: ..., action: ..., ...}

The whole document is validated before anything runs: JSON Schema for the shape, then
every provider name and its arguments against the provider's own schema. Any problem is
a ``ScenarioError`` (exit 2) naming the field, e.g. ``method[1].arguments.region``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from drills.engine import registry
from drills.errors import UsageError

BUILTIN_PACKAGE = "drills.scenarios"


class ScenarioError(UsageError):
    """A scenario document is invalid. ``field`` names the offending field."""

    def __init__(self, source: str, field_path: str, message: str) -> None:
        super().__init__(f"scenario {source}: {field_path or '<document>'}: {message}")
        self.source = source
        self.field = field_path


# objective named in a document -> the measurement a scenario must record for it
OBJECTIVE_MEASUREMENTS = {"rto": "rto", "rpo": "rpo", "restore": "restore_time",
                          "detection": "detection_time", "convergence": "convergence_time"}

_TOLERANCE = {
    "type": "object",
    "properties": {"output": {"type": "string", "minLength": 1},
                   "max": {"type": "number"}, "min": {"type": "number"},
                   "equals": {"type": ["number", "string", "boolean"]}},
    "required": ["output"], "additionalProperties": False,
    "minProperties": 2,
}

_ACTIVITY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
        "probe": {"type": "string"},
        "action": {"type": "string"},
        "arguments": {"type": "object"},
        "tolerance": _TOLERANCE,
        # up to 14 days: waiting for a weekly schedule (restore testing) and its windows must fit
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 1209600},
        "optional": {"type": "boolean"},
        "phase": {"type": "string", "minLength": 1},
    },
    "required": ["name", "timeout"],
    "oneOf": [{"required": ["probe"]}, {"required": ["action"]}],
    "additionalProperties": False,
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "testType": {"enum": ["tabletop", "functional", "full-scale"]},
        "objectives": {"type": "array", "items": {"enum": list(OBJECTIVE_MEASUREMENTS)}, "uniqueItems": True},
        "steadyState": {"type": "array", "items": _ACTIVITY},
        "method": {"type": "array", "items": _ACTIVITY, "minItems": 1},
        "rollbacks": {"type": "array", "items": _ACTIVITY},
    },
    "required": ["name", "title", "description", "testType", "method"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Tolerance:
    output: str
    max: float | None = None
    min: float | None = None
    equals: Any = None

    def holds(self, output: dict[str, Any]) -> tuple[bool | None, str]:
        """(True/False, why) — None when the output lacks the field (not verified)."""
        if self.output not in output or output[self.output] is None:
            return None, f"output has no {self.output!r}"
        value = output[self.output]
        if self.equals is not None and value != self.equals:
            return False, f"{self.output} = {value!r}, expected {self.equals!r}"
        if self.max is not None and value > self.max:
            return False, f"{self.output} = {value!r} > {self.max:g}"
        if self.min is not None and value < self.min:
            return False, f"{self.output} = {value!r} < {self.min:g}"
        return True, f"{self.output} = {value!r} within tolerance"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("output", self.output), ("max", self.max), ("min", self.min),
                                  ("equals", self.equals)) if v is not None}


@dataclass(frozen=True)
class ActivitySpec:
    name: str
    kind: str                      # "probe" | "action"
    provider: str
    arguments: dict[str, Any]
    timeout: float
    tolerance: Tolerance | None = None
    optional: bool = False
    phase: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    tags: tuple[str, ...]
    test_type: str
    objectives: tuple[str, ...]
    steady_state: tuple[ActivitySpec, ...]
    method: tuple[ActivitySpec, ...]
    rollbacks: tuple[ActivitySpec, ...]
    source: str
    sha256: str
    builtin: bool = False

    @property
    def summary(self) -> str:
        return self.title


def parse(text: str, source: str, *, builtin: bool = False) -> Scenario:
    """Parse and validate a scenario document (YAML or JSON text)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScenarioError(source, "", f"not valid YAML/JSON{where}") from exc
    return validate(document, source, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), builtin=builtin)


def load(path: Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such scenario file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the scenario ({exc})") from exc
    return parse(text, str(path))


def validate(document: Any, source: str, *, sha256: str = "", builtin: bool = False) -> Scenario:
    """Validate the whole document (shape, then providers and their arguments)."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(document), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        error = _most_specific(errors[0])
        raise ScenarioError(source, _field_of(error), _message(error))
    sections = {}
    for section in ("steadyState", "method", "rollbacks"):
        specs = []
        seen: set[str] = set()
        for i, item in enumerate(document.get(section, [])):
            where = f"{section}[{i}]"
            specs.append(_activity(item, source, where, section))
            if item["name"] in seen:
                raise ScenarioError(source, f"{where}.name", f"duplicate activity name {item['name']!r}")
            seen.add(item["name"])
        sections[section] = tuple(specs)
    return Scenario(name=document["name"], title=document["title"], description=document["description"].strip(),
                    tags=tuple(document.get("tags", [])), test_type=document["testType"],
                    objectives=tuple(document.get("objectives", [])), steady_state=sections["steadyState"],
                    method=sections["method"], rollbacks=sections["rollbacks"], source=source,
                    sha256=sha256 or hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest(),
                    builtin=builtin)


def _activity(item: dict[str, Any], source: str, where: str, section: str) -> ActivitySpec:
    kind = "probe" if "probe" in item else "action"
    name = item[kind]
    provider = registry.get(kind, name)
    if provider is None:
        known = ", ".join(registry.names(kind))
        raise ScenarioError(source, f"{where}.{kind}", f"unknown {kind} {name!r} (known: {known})")
    if section == "steadyState" and kind != "probe":
        raise ScenarioError(source, f"{where}.action", "a steady-state hypothesis holds probes only")
    if kind == "action" and "tolerance" in item:
        raise ScenarioError(source, f"{where}.tolerance", "actions have no tolerance; probes do")
    arguments = item.get("arguments", {})
    errors = sorted(jsonschema.Draft202012Validator(provider.schema()).iter_errors(arguments),
                    key=lambda e: len(e.absolute_path))
    if errors:
        error = _most_specific(errors[0])
        raise ScenarioError(source, _field_of(error, prefix=f"{where}.arguments"), _message(error))
    tol = item.get("tolerance")
    return ActivitySpec(name=item["name"], kind=kind, provider=name, arguments=dict(arguments),
                        timeout=float(item["timeout"]), optional=bool(item.get("optional", False)),
                        tolerance=Tolerance(**tol) if tol else None, phase=item.get("phase"))


def _most_specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and len(best.absolute_path) >= len(error.absolute_path):
            return best
    return error


def _field_of(error: jsonschema.ValidationError, prefix: str = "") -> str:
    """The field an error is about: a missing or unknown member is named itself."""
    path = _field(error.absolute_path, prefix)
    name = None
    if error.validator == "required" and isinstance(error.instance, dict):
        name = next((r for r in error.validator_value if r not in error.instance), None)
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        name = next((k for k in sorted(error.instance) if k not in allowed), None)
    if name is None:
        return path
    return f"{path}.{name}" if path else name


def _field(path: Any, prefix: str = "") -> str:
    out = prefix
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        missing = [r for r in error.validator_value if isinstance(error.instance, dict) and r not in error.instance]
        return f"missing required field {missing[0]!r}" if missing else error.message
    if error.validator == "additionalProperties":
        return f"unknown field(s): {error.message.split('(')[-1].rstrip(')')}"
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return "an activity names exactly one of 'probe' or 'action'"
    return error.message


# ----------------------------------------------------------------------------- built-ins

def builtin_names() -> list[str]:
    files = resources.files(BUILTIN_PACKAGE)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def builtin(name: str) -> Scenario:
    files = resources.files(BUILTIN_PACKAGE)
    path = files / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown scenario {name!r} (built-in: {', '.join(builtin_names())})",
                         hint="pass a path to a .yaml/.json file for your own scenario; `drkit scenarios` lists them")
    return parse(path.read_text(encoding="utf-8"), f"{name}.yaml", builtin=True)


def resolve(names: list[str]) -> list[Scenario]:
    """Built-in names or paths to documents; all of them validated before any runs."""
    chosen = names or builtin_names()
    scenarios = []
    for item in chosen:
        if item.endswith((".yaml", ".yml", ".json")) or "/" in item:
            scenarios.append(load(Path(item)))
        else:
            scenarios.append(builtin(item))
    seen = set()
    for scenario in scenarios:
        if scenario.name in seen:
            raise UsageError(f"scenario {scenario.name!r} is named twice")
        seen.add(scenario.name)
    return scenarios
