"""The ladder as a whole on the shared dev stack: every rung passes when healthy, each is
reported separately with counts, and what cannot be observed is *not verified*, never passed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from drills.engine.model import RungResult, Status
from drills.errors import InfraError, UsageError
from drills.probes.ladder import RUNGS, LadderContext, exit_code, run_ladder, select


def test_every_rung_passes_on_a_healthy_dev_stack(stack) -> None:
    results = run_ladder(stack.ctx(), sample=2, seed=1)
    assert [r.rung for r in results] == list(range(1, 10))
    assert {r.name: r.status for r in results} == {r.name: Status.PASSED for r in RUNGS}, \
        {r.name: (r.reason, [f.message for f in r.findings]) for r in results if r.status is not Status.PASSED}
    by = {r.rung: r for r in results}
    instances = len(stack.manifest.entries)
    assert by[1].counts["archive"]["instances"] == by[1].counts["replica"]["instances"] == instances
    assert by[1].counts["archive"]["bytes"] == stack.manifest.total_bytes
    assert by[3].counts["archive"]["studies"] == stack.manifest.study_count
    assert by[5].counts["matched"] == instances
    assert by[9].counts["checked"] > 20 and by[9].counts["drift"] == 0
    json.dumps([r.to_json() for r in results], allow_nan=False)      # JSON-safe for the journal
    assert exit_code(results) == 0


def test_listing_costs_one_request_per_thousand_keys(stack) -> None:
    counts = stack.ladder(1)[1].counts
    for side in ("archive", "replica"):
        assert counts[side]["listRequests"] == 1 + counts[side]["versions"] // 1000


def test_rungs_chosen_by_number_or_name_and_unknown_ones_refused() -> None:
    assert [r.number for r in select([9, "inventory-parity", "3"])] == [1, 3, 9]
    with pytest.raises(UsageError, match="unknown ladder rung 'bogus'"):
        select(["bogus"])


def test_no_declared_config_leaves_rung_9_not_verified(stack) -> None:
    (result,) = run_ladder(stack.ctx(declared=None), rungs=[9])
    assert result.status is Status.NOT_VERIFIED and "declared config" in result.reason
    assert exit_code([result]) == 1


def test_a_listing_the_role_may_not_read_makes_rungs_not_verified(stack) -> None:
    """A Deny on s3:ListBucketVersions answers AccessDenied (AWS: "Bucket policy examples",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html): the
    rungs that need the listing are not verified, never passed."""
    s3, bucket = stack.s3("replica"), stack.bucket("replica")
    original = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    policy = json.loads(original)
    policy["Statement"].append({"Sid": "DenyListing", "Effect": "Deny", "Principal": "*",
                                "Action": "s3:ListBucketVersions", "Resource": f"arn:aws:s3:::{bucket}"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    try:
        results = stack.ladder(1, 3, 4)
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=original)
    assert {n: r.status for n, r in results.items()} == {n: Status.NOT_VERIFIED for n in (1, 3, 4)}
    assert "AccessDenied" in results[1].reason and bucket in results[1].reason
    assert exit_code(list(results.values())) == 1


def test_exit_codes() -> None:
    passed, failed = RungResult(1, "a", Status.PASSED), RungResult(2, "b", Status.FAILED)
    error, unverified = RungResult(3, "c", Status.ERROR), RungResult(4, "d", Status.NOT_VERIFIED)
    assert exit_code([passed]) == 0
    assert exit_code([passed, failed, error]) == 1
    assert exit_code([passed, unverified]) == 1
    assert exit_code([passed, error]) == 3
    assert exit_code([]) == 1


def test_a_replica_bucket_that_does_not_exist_fails_the_rungs_naming_it(stack) -> None:
    """ListObjectVersions on a missing bucket answers NoSuchBucket (AWS S3 API reference,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html): a finding,
    not a tool error."""
    outputs = dataclasses.replace(stack.outputs, replicaBucket="drkit-no-such-replica")
    results = {r.rung: r for r in run_ladder(stack.ctx(outputs=outputs), rungs=[1, 9])}
    assert results[1].status is Status.FAILED
    assert [(f.code, f.resource) for f in results[1].findings] == [("resource-missing", "drkit-no-such-replica")]
    missing = [f for f in results[9].findings if f.code == "resource-missing"]
    assert results[9].status is Status.FAILED and [f.resource for f in missing] == ["drkit-no-such-replica"]


@dataclasses.dataclass
class FencedContext(LadderContext):
    """Like the engine's DrillContext: ``client`` refuses a region a drill fenced off."""

    fenced: frozenset = frozenset()

    def client(self, service: str, region: str, **config):
        if region in self.fenced:
            raise InfraError(f"{region} is fenced off by the running drill")
        return self.target.client(service, region, **config)


def test_a_region_fenced_by_a_drill_is_not_verified_not_passed(stack) -> None:
    base = stack.ctx()
    ctx = FencedContext(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
                        fenced=frozenset({stack.outputs.drRegion}))
    results = run_ladder(ctx, rungs=[1, 7])
    assert [r.status for r in results] == [Status.NOT_VERIFIED, Status.NOT_VERIFIED]
    assert "fenced off" in results[0].reason and stack.outputs.drRegion in results[0].reason
