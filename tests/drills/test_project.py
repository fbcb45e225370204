"""Project discovery and stack config reading behave like the pulumi CLI's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.errors import ProjectError
from drills.project import find_project


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(
        "config:\n  drkit:primaryRegion: us-east-1\n  drkit:objectLock: {mode: GOVERNANCE, retentionDays: 3}\n")
    return tmp_path


def test_found_from_a_nested_directory(project_dir: Path) -> None:
    nested = project_dir / "a" / "b"
    nested.mkdir(parents=True)
    project = find_project(start=nested)
    assert project.root == project_dir.resolve()
    assert project.name == "demo"
    assert project.stacks() == ["dev"]


def test_project_dir_overrides_and_must_hold_pulumi_yaml(project_dir: Path, tmp_path_factory) -> None:
    assert find_project(project_dir=project_dir).root == project_dir.resolve()
    elsewhere = tmp_path_factory.mktemp("empty")
    with pytest.raises(ProjectError, match="no Pulumi.yaml here"):
        find_project(project_dir=elsewhere)


def test_no_project_upward_is_a_usage_error(tmp_path_factory) -> None:
    with pytest.raises(ProjectError) as exc:
        find_project(start=tmp_path_factory.mktemp("nowhere"))
    assert exc.value.exit_code == 2
    assert "--project-dir" in str(exc.value)


def test_structured_values_reach_pulumi_as_json(project_dir: Path) -> None:
    config = find_project(project_dir=project_dir).pulumi_config("dev")
    assert config["drkit:primaryRegion"] == "us-east-1"
    assert json.loads(config["drkit:objectLock"]) == {"mode": "GOVERNANCE", "retentionDays": 3}


def test_unknown_stack_names_the_known_ones(project_dir: Path) -> None:
    with pytest.raises(ProjectError, match=r"unknown stack 'qa'.*stacks: dev"):
        find_project(project_dir=project_dir).stack_config("qa")


def test_broken_yaml_names_file_and_line(project_dir: Path) -> None:
    (project_dir / "stacks" / "Pulumi.bad.yaml").write_text("config:\n  drkit:a: [1, 2\n")
    with pytest.raises(ProjectError, match=r"Pulumi.bad.yaml: not valid YAML \(line \d+"):
        find_project(project_dir=project_dir).stack_config("bad")


def test_config_must_be_a_mapping(project_dir: Path) -> None:
    (project_dir / "stacks" / "Pulumi.list.yaml").write_text("config:\n  - a\n")
    with pytest.raises(ProjectError, match="'config' must be a mapping"):
        find_project(project_dir=project_dir).stack_config("list")


def test_encrypted_secrets_are_refused_offline(project_dir: Path) -> None:
    (project_dir / "stacks" / "Pulumi.sec.yaml").write_text("config:\n  drkit:token:\n    secure: AAAB\n")
    with pytest.raises(ProjectError, match="encrypted secret"):
        find_project(project_dir=project_dir).pulumi_config("sec")
