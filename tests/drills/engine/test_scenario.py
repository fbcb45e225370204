"""Scenario documents are validated whole before anything runs; errors name the field (exit 2)."""

from __future__ import annotations

import copy

import pytest
import yaml

from drills.engine import scenario as sc
from drills.engine.scenario import ScenarioError, parse, resolve, validate
from tests.drills.engine.conftest import document


def _error(doc) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        validate(doc, "unit.yaml")
    assert info.value.exit_code == 2
    return info.value


def test_builtins_are_valid_and_listed() -> None:
    names = sc.builtin_names()
    assert {"region-failover", "replication-pause"} <= set(names)
    for scenario in resolve([]):
        assert scenario.builtin and scenario.method and len(scenario.sha256) == 64


def test_valid_document_becomes_a_typed_scenario() -> None:
    scenario = validate(document(), "unit.yaml")
    assert [a.provider for a in scenario.method] == ["region-outage"]
    assert scenario.steady_state[0].kind == "probe" and scenario.rollbacks[0].timeout == 10


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d.pop("title"), "title", "'title'"),
    (lambda d: d.update(testType="chaos"), "testType", "chaos"),
    (lambda d: d.update(surprise=1), "surprise", "surprise"),
    (lambda d: d["method"][0].update(action="teleport"), "method[0].action", "unknown action 'teleport'"),
    (lambda d: d["steadyState"][0].update(probe="vibes"), "steadyState[0].probe", "unknown probe 'vibes'"),
    (lambda d: d["method"][0]["arguments"].update(region="moon"), "method[0].arguments.region", "moon"),
    (lambda d: d["method"][0]["arguments"].update(colour="red"), "method[0].arguments.colour", "colour"),
    (lambda d: d["method"][0]["arguments"].pop("state"), "method[0].arguments.state", "'state'"),
    (lambda d: d["steadyState"][0].update(tolerance={"output": "missing", "max": "none"}),
     "steadyState[0].tolerance.max", "number"),
    (lambda d: d["steadyState"][0].update(tolerance={"output": "missing"}), "steadyState[0].tolerance", ""),
    (lambda d: d["method"][0].pop("timeout"), "method[0].timeout", "'timeout'"),
    (lambda d: d["method"][0].update(timeout=-1), "method[0].timeout", "-1"),
    (lambda d: d["method"][0].update(probe="active-route"), "method[0]", "exactly one"),
    (lambda d: d.update(method=[]), "method", ""),
    (lambda d: d.update(objectives=["uptime"]), "objectives[0]", "uptime"),
])
def test_invalid_documents_name_the_field(mutate, field, words) -> None:
    doc = copy.deepcopy(document())
    mutate(doc)
    error = _error(doc)
    assert error.field == field, str(error)
    assert words in str(error)


def test_an_action_in_the_steady_state_is_refused() -> None:
    doc = document(steadyState=[document()["method"][0]])
    assert _error(doc).field == "steadyState[0].action"


def test_duplicate_activity_names_are_refused() -> None:
    doc = document()
    doc["method"].append(copy.deepcopy(doc["method"][0]))
    assert _error(doc).field == "method[1].name"


def test_actions_take_no_tolerance() -> None:
    doc = document()
    doc["method"][0]["tolerance"] = {"output": "x", "max": 1}
    assert _error(doc).field == "method[0].tolerance"


def test_broken_yaml_and_missing_file_are_usage_errors(tmp_path) -> None:
    with pytest.raises(ScenarioError) as info:
        parse("name: [unclosed", "bad.yaml")
    assert info.value.exit_code == 2 and "YAML" in str(info.value)
    with pytest.raises(sc.UsageError):
        resolve([str(tmp_path / "nope.yaml")])


def test_a_user_file_is_loaded_and_hashed(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(document(name="mine")))
    (scenario,) = resolve([str(path)])
    assert scenario.name == "mine" and not scenario.builtin and len(scenario.sha256) == 64


def test_unknown_builtin_name_lists_the_known_ones() -> None:
    with pytest.raises(sc.UsageError) as info:
        resolve(["no-such-drill"])
    assert "region-failover" in str(info.value)
