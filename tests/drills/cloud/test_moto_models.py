"""drills/cloud/moto_models.py: moto parses each botocore service model once per process, not
once for its region lookup and again for answering requests; the regions and the model moto
answers with are the ones it had before."""

from __future__ import annotations

import collections
import functools
import traceback

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto.core import loaders as moto_loaders
from moto.core import utils as moto_utils
from moto.core.base_backend import AccountSpecificBackend
from moto.sqs.models import SQSBackend

from drills.cloud import moto_models
from drills.cloud.server import EmbeddedCloud

# moto's two readers of a service model: the region lookup (BackendDict -> AccountSpecificBackend)
# and get_service_model (request parsing and serialising)
MOTO_READERS = ("/moto/core/base_backend.py", "/moto/core/utils.py")


@pytest.fixture
def moto_parses(monkeypatch: pytest.MonkeyPatch) -> collections.Counter:
    """Parses of botocore ``service-2`` files read on moto's behalf, by service, from now on;
    moto's and this module's caches start empty (restored afterwards, but for moto's
    ``get_service_model`` cache, which only refills)."""
    parses: collections.Counter = collections.Counter()
    original = botocore.loaders.JSONFileLoader.load_file

    def load_file(self, file_path):
        found = original(self, file_path)
        if found is not None and file_path.endswith("/service-2") and \
                any(reader in frame for frame in traceback.format_stack() for reader in MOTO_READERS):
            parses[file_path.split("/")[-3]] += 1
        return found

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)
    monkeypatch.setattr(moto_models, "_loader", None)
    monkeypatch.setattr(moto_models, "_session", None)
    monkeypatch.setattr(moto_utils, "create_loader", moto_loaders.create_loader)      # moto's own
    session = functools.lru_cache(maxsize=1)(boto3.Session)                         # as moto caches it
    monkeypatch.setattr(AccountSpecificBackend, "get_session", classmethod(lambda cls: session()))
    moto_utils.get_service_model.cache_clear()
    yield parses
    moto_utils.get_service_model.cache_clear()


def _first_call(service: str, backend: type) -> tuple[list[str], object]:
    """What moto does the first time ``service`` is called: create the account's backend (which
    lists the service's regions), then read the model to answer the request."""
    regions = AccountSpecificBackend(service, "000000000042", backend, use_boto3_regions=True,
                                     additional_regions=None).regions
    return regions, moto_utils.get_service_model(service)


def test_on_its_own_moto_parses_a_service_model_twice(moto_parses):
    """The cost moto_models removes (and proof the count sees both parses)."""
    _first_call("sqs", SQSBackend)
    assert moto_parses["sqs"] == 2


def test_shared_moto_parses_a_service_model_once_and_answers_the_same(moto_parses):
    moto_models.share()
    regions, model = _first_call("sqs", SQSBackend)
    assert moto_parses["sqs"] == 1
    assert regions == [r for p in boto3.Session().get_available_partitions()
                       for r in boto3.Session().get_available_regions("sqs", partition_name=p)]
    assert "us-east-1" in regions and "cn-north-1" in regions
    assert model.metadata["protocols"] == ["json", "query"]     # moto's extras (botocore: json only)
    assert botocore.session.get_session().get_service_model("sqs").metadata["protocols"] == ["json"]


def test_share_is_idempotent(moto_parses):
    moto_models.share()
    loader = moto_utils.create_loader()
    moto_models.share()
    assert moto_utils.create_loader() is loader
    _first_call("sqs", SQSBackend)
    _first_call("sqs", SQSBackend)
    assert moto_parses["sqs"] == 1


def test_a_started_cloud_has_moto_parse_each_model_once(moto_parses):
    with EmbeddedCloud() as cloud:
        sqs = cloud.target.client("sqs", "us-east-1")
        assert sqs.list_queues().get("QueueUrls", []) == []
        sqs.create_queue(QueueName="drkit-once")
        assert moto_parses["sqs"] == 1
