"""What every part of the offline deploy shares: a resource as the Pulumi mocks hand it over
(``Spec``), the context handlers act through (``DeployContext``: clients, physical names, the
created / declared-only ledger, sub-configurations retried at the end), and the conversion of
Pulumi inputs (camelCase) into AWS API parameters, driven by botocore's own service models.

A handler is ``fn(ctx, spec) -> (physical id, outputs)``; outputs use pulumi-aws output names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from botocore.exceptions import ClientError

from drills.aws import Target, error_code, service_model
from drills.cloud.control import Control, ControlNotFound, ControlRefused, DirectControl, HttpControl
from drills.deploy.pulumi_internals import secret_envelope_value
from drills.errors import InfraError

ACCOUNT_ID = "123456789012"        # moto's account; confirmed through STS at deploy time

Handler = Callable[["DeployContext", "Spec"], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Spec:
    """One resource the program declared: type token, logical name, inputs, region."""

    type: str
    name: str
    inputs: dict[str, Any]
    region: str

    def get(self, key: str, default: Any = None) -> Any:
        value = self.inputs.get(key)
        return default if value is None else value

    @property
    def label(self) -> str:
        return f"{self.type} {self.name!r}"


@dataclass(frozen=True)
class DeployedResource:
    """A resource that exists in the embedded cloud (made now, or found from an earlier deploy)."""

    type: str
    name: str
    physical_id: str
    region: str
    reused: bool = False


@dataclass(frozen=True)
class DeclaredResource:
    """A resource the program declares that the embedded cloud cannot hold, and why."""

    type: str
    name: str
    reason: str


def unwrap(value: Any) -> Any:
    """Inputs with Pulumi's secret envelopes replaced by their values (offline, nothing is secret)."""
    if isinstance(value, Mapping):
        secret, inner = secret_envelope_value(value)
        if secret:
            return unwrap(inner)
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unwrap(v) for v in value]
    return value


def short_hash(*parts: str, length: int = 7) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


# ----------------------------------------------------------------------------- input shapes

def _service_model(service: str):
    return service_model(service)


def api_param(service: str, operation: str, param: str, value: Any, ignored: list[str] | None = None) -> Any:
    """Convert a Pulumi input value into the shape of ``operation``'s parameter ``param``.

    Member names match case-insensitively (``kmsMasterKeyId`` -> ``KMSMasterKeyID``), numbers
    become ints where the model wants integers, a tag map becomes a Key/Value list. Input keys
    with no counterpart are listed in ``ignored`` (never silently: the caller notes them).
    """
    shape = _service_model(service).operation_model(operation).input_shape.members[param]
    return _to_shape(value, shape, param, ignored if ignored is not None else [])


def _to_shape(value: Any, shape: Any, path: str, ignored: list[str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise InfraError(f"input {path}: expected an object, got {type(value).__name__}")
        members = {name.lower(): name for name in shape.members}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            # pulumi pluralises list members (``startsWiths``): try the singular too
            member = members.get(key.lower()) or members.get(key.lower()[:-1] if key.endswith("s") else "")
            if member is None:
                ignored.append(f"{path}.{key}")
                continue
            out[member] = _to_shape(item, shape.members[member], f"{path}.{key}", ignored)
        return out
    if kind == "list":
        member = shape.member
        if isinstance(value, Mapping) and member.type_name == "structure" and {"Key", "Value"} <= set(member.members):
            return [{"Key": k, "Value": str(v)} for k, v in value.items()]
        return [_to_shape(v, member, f"{path}[]", ignored) for v in value if v is not None]
    if kind == "map":
        return {str(k): _to_shape(v, shape.value, f"{path}.{k}", ignored) for k, v in value.items()}
    if kind in ("integer", "long"):
        return int(float(value))
    if kind in ("double", "float"):
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    return value


def tag_list(tags: Mapping[str, Any] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: str(k), value: str(v)} for k, v in (tags or {}).items()]


def as_int(value: Any, default: int | None = None) -> int | None:
    return default if value is None else int(float(value))


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).lower() == "true"


# ----------------------------------------------------------------------------- naming

_NAME_RULES: dict[str, tuple[int, str]] = {
    # style: (default max length, character class that survives)
    "default": (255, r"[^A-Za-z0-9_.\-/+=,@]"),
    "bucket": (63, r"[^a-z0-9.\-]"),
    "underscore": (50, r"[^A-Za-z0-9_]"),
    "dash": (50, r"[^A-Za-z0-9_\-]"),
}


@dataclass
class _Deferred:
    spec: Spec
    action: Callable[[], None]
    retry_codes: frozenset[str]
    fallback: str | None
    last_error: ClientError


class DeployContext:
    """State of one offline deploy: the cloud it writes to and what it did there."""

    def __init__(self, target: Target, stack: str, project: str, sim: Any = None,
                 account_id: str = ACCOUNT_ID, base_dir: Any = None) -> None:
        self.target = target
        self.stack = stack
        self.project = project
        self.sim = sim
        self.account_id = account_id
        self.base_dir = base_dir
        self.created: list[DeployedResource] = []
        self.declared: list[DeclaredResource] = []
        self.notes: list[str] = []
        self.bucket_regions: dict[str, str] = {}
        self.queue_regions: dict[str, str] = {}      # queue URL -> region
        self._names: dict[tuple[str, str], str] = {}  # (style, physical) -> logical name
        self._existing: set[str] = set()              # physical ids found from an earlier deploy
        self._seen: dict[tuple[str, str], int] = {}   # (type, logical name) -> names issued
        self._grouped: dict[str, list[str]] = {}      # note -> the resources it concerns
        self._deferred: list[_Deferred] = []
        self._control: Control | None = None

    # -- clients
    def client(self, service: str, region: str):
        return self.target.client(service, region)

    # -- physical names
    def physical_name(self, spec: Spec, *, key: str = "name", prefix_key: str | None = "namePrefix",
                      style: str = "default", max_len: int | None = None, suffix: str = "") -> str:
        """The explicit name if the program gives one, else Pulumi-style ``<logical>-<7 hex>``
        (deterministic: seeded by stack and logical name), trimmed to the service's rules."""
        explicit = spec.inputs.get(key)
        if explicit:
            return str(explicit)
        limit, bad = _NAME_RULES[style]
        limit = max_len or limit
        # The same type and logical name twice in one program (children of two parents): the
        # second gets its own name, still deterministic (registration order is the program's).
        seen = self._seen.get((spec.type, spec.name), 0)
        self._seen[(spec.type, spec.name)] = seen + 1
        seed = (self.stack, spec.name) if seen == 0 else (self.stack, spec.name, str(seen))
        if prefix_key and spec.inputs.get(prefix_key):
            stem, rand = str(spec.inputs[prefix_key]), short_hash(*seed, "prefix", length=26)
            sep = ""
        else:
            stem, rand, sep = spec.name, short_hash(*seed), "-" if style != "underscore" else "_"
        if style == "bucket":
            stem = stem.lower()
        stem = re.sub(bad, "-" if style != "underscore" else "_", stem)
        room = limit - len(rand) - len(sep) - len(suffix)
        name = f"{stem[:room]}{sep}{rand}{suffix}"
        if style == "bucket":
            name = name.strip(".-")
            if len(name) < 3:
                name = f"b-{name}"[:limit]
        owner = self._names.setdefault((style, name), spec.name)
        if owner != spec.name:      # two logical names trimmed onto one name: disambiguate
            name = f"{stem[:room - 2]}{sep}{short_hash(self.stack, spec.name, spec.type, length=len(rand) + 2)}{suffix}"
            self._names[(style, name)] = spec.name
        return name

    def logical_id(self, spec: Spec) -> str:
        """Value of the tag that finds a name-less resource (a KMS key) again on the next deploy."""
        seen = self._seen.get((spec.type, spec.name), 0)
        self._seen[(spec.type, spec.name)] = seen + 1
        return f"{self.project}/{self.stack}/{spec.name}" + (f"#{seen}" if seen else "")

    # -- ledger
    def record(self, spec: Spec, physical_id: str, *, reused: bool = False, region: str | None = None) -> None:
        """Ledger entry; ``reused``: it existed before this deploy (made by an earlier one)."""
        if reused:
            self._existing.add(physical_id)
        self.created.append(DeployedResource(spec.type, spec.name, physical_id, region or spec.region, reused))

    def existed(self, physical_id: str) -> bool:
        """Whether a parent (bucket, role, queue, vault) was found from an earlier deploy: its
        sub-configurations are then re-applied onto it, and listed as reused."""
        return physical_id in self._existing

    def declare(self, spec: Spec, reason: str) -> None:
        self.declared.append(DeclaredResource(spec.type, spec.name, reason))

    def note(self, message: str, subject: str | None = None) -> None:
        """A remark for the deploy's reader; notes sharing a message list their subjects once."""
        if subject is None:
            if message not in self.notes:
                self.notes.append(message)
            return
        subjects = self._grouped.setdefault(message, [])
        if subject not in subjects:
            subjects.append(subject)

    def note_ignored(self, spec: Spec, ignored: Iterable[str]) -> None:
        ignored = list(ignored)
        if ignored:
            self.note(f"{spec.label}: input(s) {', '.join(ignored)} have no API counterpart; not applied")

    # -- sub-configurations that depend on others (replication needs versioning, logging a policy)
    def attempt(self, spec: Spec, action: Callable[[], None], *, retry_codes: Iterable[str],
                fallback: str | None = None) -> None:
        """Run ``action`` now; if the cloud refuses it with one of ``retry_codes`` (a prerequisite
        the program declares without an explicit dependency), retry it after the program ran.
        Still refused then: declare it with ``fallback`` as the reason, or fail the deploy."""
        codes = frozenset(retry_codes)
        try:
            action()
        except ClientError as exc:
            if error_code(exc) not in codes:
                raise
            self._deferred.append(_Deferred(spec, action, codes, fallback, exc))

    def finish(self) -> None:
        """Retry deferred sub-configurations until none makes progress."""
        pending = self._deferred
        self._deferred = []
        progress = True
        while pending and progress:
            progress, left = False, []
            for item in pending:
                try:
                    item.action()
                    progress = True
                except ClientError as exc:
                    if error_code(exc) not in item.retry_codes:
                        raise _refused(item.spec, exc) from exc
                    item.last_error = exc
                    left.append(item)
            pending = left
        for message, subjects in self._grouped.items():
            self.note(f"{message}: {', '.join(subjects)}")
        self._grouped = {}
        for item in pending:
            err = item.last_error.response.get("Error", {})
            detail = f"{err.get('Code')}: {err.get('Message')}"
            if item.fallback is None:
                raise InfraError(f"{item.spec.label}: the embedded cloud refused it ({detail})")
            self.declare(item.spec, f"{item.fallback} ({detail})")

    # -- the simulation's control API
    def control(self, behaviour: str, action: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Call a behaviour's control action; None when the cloud has no such behaviour."""
        if self._control is None:
            self._control = DirectControl(self.sim) if self.sim is not None else HttpControl(self.target.endpoint)
        try:
            return self._control.call(behaviour, action, params)
        except ControlNotFound:
            return None
        except ControlRefused as exc:        # the deploy asked for something the cloud cannot do
            raise InfraError(f"the embedded cloud refused {behaviour}/{action}: {exc.message}") from exc


def _refused(spec: Spec, exc: ClientError) -> InfraError:
    err = exc.response.get("Error", {})
    op = getattr(exc, "operation_name", "?")
    return InfraError(f"{spec.label}: the embedded cloud refused {op} ({err.get('Code')}: {err.get('Message')})")


def refused(spec: Spec, exc: ClientError) -> InfraError:
    """The deploy error for an AWS error that a handler did not expect."""
    return _refused(spec, exc)


def arn_region(arn: str) -> str | None:
    parts = str(arn).split(":")
    return parts[3] if len(parts) > 5 and parts[3] else None


def arn_resource(arn: str) -> str:
    """The last path element of an ARN (``arn:…:key/abc`` -> ``abc``, ``arn:…:queue-name`` -> name)."""
    tail = str(arn).split(":", 5)[-1]
    return tail.rsplit("/", 1)[-1]


def outputs(spec: Spec, **computed: Any) -> dict[str, Any]:
    """Outputs of a resource: its inputs, the region, then the computed fields the program reads."""
    out = dict(spec.inputs)
    out.setdefault("region", spec.region)
    if "tags" in spec.inputs:
        out.setdefault("tagsAll", spec.inputs["tags"])
    out.update({k: v for k, v in computed.items() if v is not None})
    return out
