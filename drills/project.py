"""Find the drkit Pulumi project and read its stack configs, the way the pulumi CLI does.

The project is the nearest directory, from the working directory upward, holding
``Pulumi.yaml``; ``--project-dir`` overrides. Stack configs live in the project's
``stackConfigDir`` (``stacks/``) as ``Pulumi.<stack>.yaml``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drills.errors import ProjectError

PROJECT_FILE = "Pulumi.yaml"


@dataclass(frozen=True)
class Project:
    """A Pulumi project on disk."""

    root: Path
    name: str
    stack_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.stack_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in self.stack_dir.glob("Pulumi.*.yaml"))

    def stack_config(self, stack: str) -> dict[str, Any]:
        """The stack's ``config:`` mapping, keys as written (``drkit:objectLock`` …)."""
        path = self.stack_file(stack)
        if not path.is_file():
            known = ", ".join(self.stacks()) or "none"
            raise ProjectError(f"unknown stack {stack!r}: no {path.relative_to(self.root)} (stacks: {known})")
        data = _read_yaml(path)
        config = data.get("config", {}) if isinstance(data, dict) else None
        if not isinstance(config, dict):
            raise ProjectError(f"{path}: 'config' must be a mapping of keys to values")
        return config

    def pulumi_config(self, stack: str) -> dict[str, str]:
        """The stack config in the form ``pulumi.runtime.set_all_config`` takes: every value
        a string, structured values JSON-encoded (as the Pulumi engine passes them)."""
        flat: dict[str, str] = {}
        for key, value in self.stack_config(stack).items():
            if isinstance(value, dict) and set(value) == {"secure"}:
                raise ProjectError(f"{self.stack_file(stack).name}: {key} is an encrypted secret; drkit cannot decrypt it offline")
            flat[str(key)] = value if isinstance(value, str) else json.dumps(value)
        return flat


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ProjectError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read ({exc.strerror})") from exc


def find_project(start: Path | None = None, project_dir: Path | None = None) -> Project:
    """Locate the project: ``project_dir`` if given, else search upward from ``start`` (cwd)."""
    if project_dir is not None:
        root = Path(project_dir).resolve()
        if not (root / PROJECT_FILE).is_file():
            raise ProjectError(f"{root}: no {PROJECT_FILE} here (--project-dir must name a Pulumi project)")
    else:
        here = Path(start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / PROJECT_FILE).is_file():
                root = candidate
                break
        else:
            raise ProjectError(
                f"no {PROJECT_FILE} in {here} or any parent directory",
                hint="run drkit inside the project, or pass --project-dir",
            )
    data = _read_yaml(root / PROJECT_FILE)
    if not isinstance(data, dict) or not data.get("name"):
        raise ProjectError(f"{root / PROJECT_FILE}: needs a 'name'")
    stack_dir = root / str(data.get("stackConfigDir") or ".")
    return Project(root=root, name=str(data["name"]), stack_dir=stack_dir)
