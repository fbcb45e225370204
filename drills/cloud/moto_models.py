"""One loader for the botocore service models moto reads, so each is parsed once per process.

moto reads a service's model (botocore's ``service-2.json``, up to a few MB of JSON) twice, in
two places with a loader each, the first time a service is called:

- creating the service's backend for an account, ``AccountSpecificBackend._generate_regions``
  lists the service's regions through a boto3 ``Session`` of its own, which reads the model for
  its ``metadata.endpointPrefix``;
- answering the request, ``moto.core.utils.get_service_model`` reads it again through a new
  moto ``Loader`` (botocore's, plus moto's ``*.moto-extras`` merged into the model).

``share()`` gives both the same moto loader, which caches what it parsed: the model is parsed
once, with moto's extras, and the region lookup reads it from the cache. The extras never
change ``endpointPrefix`` (they add error shapes, result wrappers, an S3 CORS preflight
operation, SQS's query protocol), so the regions are the ones botocore lists.

It changes which loader reads the models, not what moto answers, so it stays in place once the
first embedded cloud started (``mock_aws`` tests in the same process read the same models).
drkit's own reading of the documented models (``drills.aws.service_model``: the middleware's
operation routes) stays separate: moto's extras are not the AWS model.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_loader: Any = None                # moto.core.loaders.Loader, once shared
_session: Any = None               # the boto3 Session moto lists regions with, over that loader


def share() -> None:
    """Point moto's region lookup and its service-model reader at one loader (idempotent)."""
    global _loader, _session
    import boto3
    import botocore.session
    from moto.core import utils as moto_utils
    from moto.core.base_backend import AccountSpecificBackend
    from moto.core.loaders import create_loader

    with _lock:
        if _loader is None:
            _loader = create_loader()
            core = botocore.session.get_session()
            core.register_component("data_loader", _loader)
            _session = boto3.Session(botocore_session=core)
        moto_utils.create_loader = _shared_loader
        AccountSpecificBackend.get_session = classmethod(_region_session)


def _shared_loader() -> Any:
    return _loader


def _region_session(cls: type) -> Any:
    return _session
