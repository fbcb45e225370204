"""A read-only view of a stack for the policies: safe property access, bucket roles, and
the joins pulumi-aws v7 needs (a bucket's settings live in sibling resources).

Stack policies see resource *outputs*. During ``pulumi preview`` of new resources, values
computed by AWS (a bucket's id, a key's ARN) are unknown: reading one through the
policy SDK's proxy raises. ``prop`` turns that into ``UNKNOWN`` so one unknown value skips
one check instead of the whole policy; joins prefer the engine's property dependencies,
which are known in preview, and fall back to matching values (ids, names, ARNs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cached_property
from typing import Any, Iterable, Optional

from pulumi_policy import PolicyConfigSchema
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.secret import Secret

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})


def _v7(name: str) -> frozenset[str]:
    """The v7 token of an S3 bucket setting and its deprecated ``V2`` alias."""
    token = name[0].lower() + name[1:]
    return frozenset({f"aws:s3/{token}:{name}", f"aws:s3/{token}V2:{name}V2"})


VERSIONING = _v7("BucketVersioning")
ENCRYPTION = _v7("BucketServerSideEncryptionConfiguration")
LOGGING = _v7("BucketLogging")
LIFECYCLE = _v7("BucketLifecycleConfiguration")
OBJECT_LOCK = _v7("BucketObjectLockConfiguration")
PUBLIC_ACCESS_BLOCK = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
BUCKET_POLICY = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
REPLICATION = frozenset({"aws:s3/bucketReplicationConfig:BucketReplicationConfig"})
BACKUP_VAULT = frozenset({"aws:backup/vault:Vault"})
AIR_GAPPED_VAULT = frozenset({"aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"})
VAULT_LOCK = frozenset({"aws:backup/vaultLockConfiguration:VaultLockConfiguration"})

ROLE_TAGS = ("drkit-role", "drkit-purpose")
"""Bucket tags naming its role, first match wins. The components tag ``drkit-purpose`` with a
role or a compound like ``archive-access-logs`` (read from its last role word)."""
ENVIRONMENT_TAG = "drkit-environment"
"""Tag (on resources or in a provider's defaultTags) naming the stack's environment."""

DEFAULT_PRODUCTION_STACKS = ("prod",)
"""Stacks held to the production profile unless the policy config ``productionStacks`` says otherwise."""
PRODUCTION_CONFIG = PolicyConfigSchema(properties={"productionStacks": {
    "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_PRODUCTION_STACKS),
    "description": "Stack names held to the production profile (besides stacks tagged drkit-environment: prod)"}})
"""Config schema of the policies whose requirements are stricter in production."""


class BucketRole(str, Enum):
    """What a bucket is for; decides which bucket rules apply to it."""

    ARCHIVE = "archive"        # primary DICOM archive (replication source)
    REPLICA = "replica"        # DR-region copy of the archive
    LANDING = "landing"        # short-lived ingest bucket
    LOGS = "logs"              # server-access-log destination
    INVENTORY = "inventory"    # S3 Inventory reports
    EVIDENCE = "evidence"      # drill evidence vault
    TRAIL = "trail"            # CloudTrail log files


# Words (in a role tag's value or a logical name) that identify a role.
_NAME_WORDS = {
    "archive": BucketRole.ARCHIVE, "replica": BucketRole.REPLICA, "landing": BucketRole.LANDING,
    "logs": BucketRole.LOGS, "log": BucketRole.LOGS, "accesslogs": BucketRole.LOGS,
    "inventory": BucketRole.INVENTORY, "evidence": BucketRole.EVIDENCE,
    "trail": BucketRole.TRAIL, "cloudtrail": BucketRole.TRAIL, "audit": BucketRole.TRAIL,
}


def _role_from_words(text: str) -> Optional[BucketRole]:
    """``archive`` → ARCHIVE, ``archive-access-logs`` → LOGS, ``x-dr-archive`` → REPLICA,
    ``monitoring-trail-logs`` → TRAIL (CloudTrail's own log files, not access logs)."""
    words = [w for w in text.lower().replace("_", "-").split("-") if w]
    if "dr" in words[:-1] and words and words[-1] in ("archive", "bucket"):
        return BucketRole.REPLICA
    if {"trail", "cloudtrail"} & set(words):
        return BucketRole.TRAIL
    for word in reversed(words):
        if word in _NAME_WORDS:
            return _NAME_WORDS[word]
    return None


class _Unknown:
    """A value that cannot be known until the update runs."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; compare with `is UNKNOWN`")


UNKNOWN: Any = _Unknown()


def prop(value: Any, *path: Any, default: Any = None) -> Any:
    """``value[path[0]][path[1]]…``; ``default`` when a step is missing or of the wrong shape,
    ``UNKNOWN`` when ``value`` or a step cannot be known during preview. Secrets are unwrapped."""
    current = value
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        try:
            if isinstance(key, int):
                if isinstance(current, (str, bytes)) or not isinstance(current, Sequence):
                    return default
                if not -len(current) <= key < len(current):
                    return default
            elif not isinstance(current, Mapping):
                return default
            current = current[key]
        except KeyError:
            return default
        except UnknownValueError:
            return UNKNOWN
        if isinstance(current, Secret):
            current = current.value
    return current


def elements(value: Any, *path: Any) -> list[Any]:
    """The elements of the list at ``path`` ([] when absent; an unknown element is ``UNKNOWN``)."""
    seq = prop(value, *path)
    if seq is UNKNOWN:
        return [UNKNOWN]
    if isinstance(seq, Mapping):      # a single nested block given as an object
        return [seq]
    if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
        return []
    return [prop(seq, i) for i in range(len(seq))]


def count(value: Any) -> Any:
    """A whole number (the engine sends every number as a float), UNKNOWN, or None."""
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def is_set(value: Any) -> bool:
    """True for a non-empty value or one that is only unknown in preview (an Output)."""
    return value is UNKNOWN or value not in (None, "", [], {})


def stack_name(urn: str) -> Optional[str]:
    """``urn:pulumi:<stack>::<project>::…`` → ``<stack>``."""
    parts = urn.split(":", 3)
    if len(parts) < 4 or parts[0] != "urn" or parts[1] != "pulumi":
        return None
    return parts[2] or None


def production_stacks(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``productionStacks`` policy config, or ``DEFAULT_PRODUCTION_STACKS``."""
    configured = prop(config, "productionStacks")
    if isinstance(configured, Sequence) and not isinstance(configured, str):
        return tuple(str(s) for s in configured)
    return DEFAULT_PRODUCTION_STACKS


def label(resource: Any) -> str:
    """How violation messages name a resource: its type's short name and logical name."""
    kind = resource.resource_type.rsplit(":", 1)[-1]
    return f"{kind} '{resource.name}'"


def region_of(resource: Any) -> Optional[str]:
    """The resource's ``region`` (pulumi-aws v7) or its provider's; None when unknown."""
    for value in (prop(resource.props, "region"), prop(getattr(resource.provider, "props", None), "region")):
        if isinstance(value, str) and value:
            return value
    return None


def _keys(resource: Any) -> set[str]:
    """Every value another resource may use to refer to ``resource`` (id, name, ARN)."""
    keys = set()
    for field in ("id", "bucket", "name", "arn"):
        value = prop(resource.props, field)
        if isinstance(value, str) and value:
            keys.add(value)
    return keys


def _normalise(ref: str) -> str:
    """``arn:aws:s3:::name`` → ``name``; any other reference unchanged."""
    head, sep, tail = ref.partition(":::")
    return tail if sep and head.startswith("arn:") and head.endswith(":s3") else ref


class StackView:
    """Index of a stack's resources for policies that join several of them."""

    def __init__(self, resources: Iterable[Any], config: Optional[Mapping[str, Any]] = None) -> None:
        self.resources = list(resources)
        self.config = config or {}
        self._by_key: dict[str, list[Any]] = {}
        for resource in self.resources:
            for key in _keys(resource):
                self._by_key.setdefault(key, []).append(resource)
                self._by_key.setdefault(_normalise(key), []).append(resource)

    # ------------------------------------------------------------------ stack facts
    @cached_property
    def stack(self) -> Optional[str]:
        for resource in self.resources:
            name = stack_name(resource.urn)
            if name:
                return name
        return None

    @cached_property
    def environments(self) -> set[str]:
        """Values of ``ENVIRONMENT_TAG`` on resources (tags, tagsAll) and in providers' defaultTags."""
        found = set()
        for resource in self.resources:
            sources = [(resource.props, "tags"), (resource.props, "tagsAll"),
                       (getattr(resource.provider, "props", None), "defaultTags", "tags")]
            if resource.resource_type.startswith("pulumi:providers:"):
                sources.append((resource.props, "defaultTags", "tags"))
            for source, *path in sources:
                tags = prop(source, *path[:-1])
                if isinstance(tags, str) and tags.startswith("{"):     # provider config arrives JSON-encoded
                    try:
                        tags = json.loads(tags)
                    except ValueError:
                        continue
                value = prop(tags, path[-1], ENVIRONMENT_TAG)
                if isinstance(value, str):
                    found.add(value)
        return found

    @cached_property
    def production(self) -> bool:
        """Held to the production profile: the stack is one of ``productionStacks`` (policy
        config) or any resource is tagged ``drkit-environment: prod``. The stricter wins."""
        return self.stack in production_stacks(self.config) or "prod" in self.environments

    def of_type(self, types: frozenset[str]) -> list[Any]:
        return [r for r in self.resources if r.resource_type in types]

    # ------------------------------------------------------------------ buckets
    @cached_property
    def buckets(self) -> list[Any]:
        return self.of_type(BUCKET_TYPES)

    def role(self, bucket: Any) -> Optional[BucketRole]:
        """The role a ``ROLE_TAGS`` tag names; else a role word in the logical name; else None."""
        for tag in ROLE_TAGS:
            for field in ("tags", "tagsAll"):
                value = prop(bucket.props, field, tag)
                if isinstance(value, str):
                    return _role_from_words(value)    # a tag without a role word: unclassified
        return _role_from_words(bucket.name)

    # ------------------------------------------------------------------ joins
    def referenced(self, resource: Any, field: str, value: Any = None,
                   types: frozenset[str] = BUCKET_TYPES) -> Any:
        """The resource of ``types`` that ``resource.<field>`` refers to (``value`` when the
        reference is nested): the resource whose id/name/ARN equals the value, else the
        field's property dependency if there is exactly one; None when nothing matches,
        UNKNOWN when the value is unknown and the dependencies do not decide."""
        deps = [d for d in (getattr(resource, "property_dependencies", None) or {}).get(field, [])
                if d.resource_type in types and d is not resource]
        if value is None:
            value = prop(resource.props, field)
        if isinstance(value, str) and value:
            for key in (value, _normalise(value)):
                matches = [r for r in self._by_key.get(key, []) if r.resource_type in types]
                if matches:
                    return matches[0]
        if len(deps) == 1:
            return deps[0]
        return UNKNOWN if value is UNKNOWN else None

    def attached(self, target: Any, types: frozenset[str], field: str = "bucket",
                 target_types: frozenset[str] = BUCKET_TYPES) -> list[Any]:
        """Resources of ``types`` whose ``field`` refers to ``target`` (a bucket's settings)."""
        return [r for r in self.of_type(types) if self.referenced(r, field, types=target_types) is target]

    def unresolved(self, types: frozenset[str], field: str = "bucket",
                   target_types: frozenset[str] = BUCKET_TYPES) -> list[Any]:
        """Resources of ``types`` whose target cannot be decided yet (unknown in preview)."""
        return [r for r in self.of_type(types) if self.referenced(r, field, types=target_types) is UNKNOWN]
