"""The whole plan of a real stack file, and the summary the drill journal carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.errors import UsageError
from drills.plan import summary
from drills.plan.builder import build, stack_config
from drills.project import find_project


@pytest.fixture
def project(repo_root: Path):
    return find_project(project_dir=repo_root)


def test_dev_plan_reads_the_stack_and_flags_deep_archive_against_a_4_hour_objective(project):
    cfg = stack_config("dev", project)
    plan = build(cfg, "dev", growth=10**12, years=3)
    assert plan["stackTiers"]["radiology"] == [{"days": 90, "storageClass": "GLACIER_IR"},
                                               {"days": 365, "storageClass": "DEEP_ARCHIVE"}]
    assert plan["objectives"]["restoreHours"] == 4
    assert any(f.startswith("radiology: DEEP_ARCHIVE from day 365") for f in plan["flags"])
    assert [r["year"] for r in plan["years"]] == [1, 2, 3]
    assert plan["prices"]["name"] == "drkit-list-prices" and "us-east-1" in plan["prices"]["regions"]
    assert plan["comparison"]["cumulativeTiered"] < plan["comparison"]["cumulativeAllStandard"]
    # every byte ingested is in the primary copy at the end (nothing is deleted)
    assert sum(plan["years"][-1]["bytes"]["primary"].values()) == pytest.approx(3 * 10**12, rel=1e-9)
    json.dumps(plan, allow_nan=False)


def test_everything_in_standard_has_no_transitions(project):
    plan = build(stack_config("dev", project), "dev", growth=10**12, years=2)
    last = plan["allStandard"]["years"][-1]
    assert set(last["bytes"]["primary"]) == {"STANDARD"} and "transitions" not in last["cost"]


def test_delete_after_must_respect_the_object_lock(project):
    cfg = stack_config("prod", project)
    with pytest.raises(UsageError, match="objectLock.retentionDays"):
        build(cfg, "prod", delete_after_days=365)


def test_summary_is_json_safe_and_names_its_price_table(project):
    doc = summary("dev", project)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
    assert doc["prices"]["date"] and doc["prices"]["origin"].endswith("(shipped)")
    assert {r["slice"] for r in doc["restores"]} == {"priors:2y", "specialty:radiology", "all"}
    assert doc["flags"] and doc["comparison"]["saving"] > 0
