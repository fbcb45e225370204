"""The one factory for boto3 clients, on real AWS or the embedded cloud, and the one set
of AWS error helpers.

Every module that talks to a cloud takes a ``Target`` and asks it for clients; nothing
builds a boto3 client by hand. On the embedded cloud the target carries the endpoint URL,
uses path-style S3 addressing (the endpoint is 127.0.0.1) and fake credentials.

Errors: ``error_code(exc)`` is the AWS error code of a ClientError; the ``*_NOT_FOUND``
sets name the codes by which a service says "no such thing" (botocore reports a HEAD's
bare 404 as the code ``"404"``, a GET's as ``NoSuchKey``; S3 answers a HEAD of a delete
marker with 405 MethodNotAllowed).
"""

from __future__ import annotations

import functools
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
import botocore.config
import botocore.loaders
import botocore.model
import botocore.session
import botocore.utils
from botocore.client import BaseClient
from botocore.exceptions import ClientError

EMBEDDED_ACCESS_KEY = "testing"
EMBEDDED_SECRET_KEY = "testing"

# ----------------------------------------------------------------------------- errors

OBJECT_NOT_FOUND = frozenset({"404", "NotFound", "NoSuchKey", "NoSuchVersion"})
"""S3: the object or the version does not exist."""
DELETE_MARKER = frozenset({"405", "MethodNotAllowed"})
"""S3: HEAD/GET of a version that is a delete marker (the object is deleted)."""
BUCKET_NOT_FOUND = frozenset({"404", "NotFound", "NoSuchBucket"})
"""S3: the bucket does not exist."""
RESOURCE_NOT_FOUND = frozenset({"ResourceNotFoundException", "NotFoundException", "NotFound", "NoSuchEntity"})
"""JSON/query services (DynamoDB, Backup, Secrets Manager, KMS, SNS, IAM): no such resource."""
NOT_FOUND = OBJECT_NOT_FOUND | BUCKET_NOT_FOUND | RESOURCE_NOT_FOUND
"""Any "does not exist" answer."""


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(exc, ClientError) and isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    """The AWS error message of a ClientError (``str(exc)`` for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def is_not_found(exc: BaseException, codes: frozenset[str] = NOT_FOUND) -> bool:
    """Whether ``exc`` is AWS saying the thing does not exist (one of ``codes``)."""
    return error_code(exc) in codes


# ----------------------------------------------------------------------------- clients

@functools.lru_cache(maxsize=1)
def _loader() -> botocore.loaders.Loader:
    """botocore re-reads and re-parses its service models for every new session; one shared
    loader makes building a client ~8x cheaper (0.58 s -> 0.07 s measured here)."""
    return botocore.loaders.create_loader()


_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z\Z")


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, fast for the form S3's XML answers use.

    ``2026-01-15T10:00:00.000Z`` (every ``LastModified`` of a listing) is read by
    ``datetime.fromisoformat`` (~1 us) instead of dateutil (~80 us: half the client CPU of a
    1,000-version ListObjectVersions page); the instant is the same, UTC-aware. Anything else
    (HTTP dates, epoch numbers, offsets) goes to botocore's own parser."""
    if isinstance(value, str) and _ISO_UTC.match(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
    return botocore.utils.parse_timestamp(value)


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    return session


@functools.lru_cache(maxsize=None)
def service_model(service: str) -> botocore.model.ServiceModel:
    """botocore's model of ``service`` (operations, shapes, URIs), loaded once per process.

    Read through a loader of its own: botocore rewrites the S3 model *in place* when it
    builds an S3 client (it strips ``/{Bucket}`` from request URIs), so the clients' shared
    loader does not hold the documented model. Raises UnknownServiceError for unknown names."""
    return _model_session().get_service_model(service)


@functools.lru_cache(maxsize=1)
def _model_session() -> botocore.session.Session:
    return botocore.session.get_session()


@dataclass(frozen=True)
class Target:
    """Where drkit's boto3 calls go.

    endpoint: base URL of the embedded cloud (``http://127.0.0.1:PORT``); None for real AWS.
    profile: AWS profile name for real AWS; ignored on the embedded cloud.
    max_pool: connection pool size per client (concurrent uploads need more than 10).
    ca_bundle: CA file to verify an ``https`` embedded cloud (``drkit cloud serve --tls``);
        None = boto3's default (``AWS_CA_BUNDLE`` or the system store).
    credentials: (access key id, secret, session token) of an assumed role (``assumed``);
        None = the profile's (AWS) or the embedded cloud's default keys.
    """

    endpoint: str | None = None
    profile: str | None = None
    max_pool: int = 32
    ca_bundle: str | None = None
    credentials: tuple[str, str, str] | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, hash=False, repr=False)

    @property
    def kind(self) -> str:
        """``embedded-simulated`` or ``aws``: the journal's target label."""
        return "embedded-simulated" if self.endpoint else "aws"

    @property
    def simulated(self) -> bool:
        return self.endpoint is not None

    def session(self) -> boto3.session.Session:
        """One boto3 session per Target (building clients is serialised by the Target's lock,
        so the session is never used by two threads at once)."""
        cached = self._cache.get("session")
        if cached is None:
            cached = self._cache["session"] = self._new_session()
        return cached

    def assumed(self, access_key_id: str, secret_access_key: str, session_token: str) -> "Target":
        """The same target, its calls signed with an STS session's temporary credentials."""
        return Target(endpoint=self.endpoint, profile=self.profile, max_pool=self.max_pool,
                      ca_bundle=self.ca_bundle, credentials=(access_key_id, secret_access_key, session_token))

    def _new_session(self) -> boto3.session.Session:
        if self.credentials is not None:
            key, secret, token = self.credentials
            return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                         aws_session_token=token, botocore_session=_botocore_session())
        if self.endpoint:
            return boto3.session.Session(
                aws_access_key_id=EMBEDDED_ACCESS_KEY,
                aws_secret_access_key=EMBEDDED_SECRET_KEY,
                botocore_session=_botocore_session(),
            )
        return boto3.session.Session(profile_name=self.profile, botocore_session=_botocore_session())

    def client(self, service: str, region: str, **config: Any) -> BaseClient:
        """A cached, thread-safe boto3 client for ``service`` in ``region``.

        ``config`` overrides botocore Config fields (e.g. ``retries={"max_attempts": 1}``).
        """
        key = (service, region, tuple(sorted((k, repr(v)) for k, v in config.items())))
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                cached = self._build(service, region, config)
                self._cache[key] = cached
            return cached

    def _build(self, service: str, region: str, overrides: dict[str, Any]) -> BaseClient:
        options: dict[str, Any] = {
            "region_name": region,
            "max_pool_connections": self.max_pool,
            "retries": {"max_attempts": 3, "mode": "standard"},
        }
        if self.endpoint:
            options["s3"] = {"addressing_style": "path"}
            # The embedded cloud is local: fail fast instead of waiting out AWS timeouts.
            options["connect_timeout"] = 5
            options["read_timeout"] = 60
        options.update(overrides)
        cfg = botocore.config.Config(**options)
        client = self.session().client(service, endpoint_url=self.endpoint, config=cfg,
                                       verify=self.ca_bundle)  # under self._lock
        if self.endpoint and service == "s3control":
            # S3 Control's endpoint rules put the account id into the host name
            # ("<account>.127.0.0.1"), which a loopback endpoint cannot resolve: send it to the
            # endpoint itself (the id still travels in x-amz-account-id), before signing.
            client.meta.events.register("before-sign", functools.partial(_loopback_host, self.endpoint))
        return client


def _loopback_host(endpoint: str, request: Any, **_: Any) -> None:
    parts = urllib.parse.urlsplit(request.url)
    base = urllib.parse.urlsplit(endpoint)
    if parts.netloc != base.netloc:
        request.url = urllib.parse.urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
