"""``drkit scenarios``: the built-in scenarios, one line each (``--json`` for machines)."""

from __future__ import annotations

import click

from drills.cli.common import emit_json, json_option
from drills.engine.scenario import builtin, builtin_names


@click.command("scenarios")
@json_option(help="Machine output on stdout.")
def scenarios(as_json: bool) -> None:
    """List the built-in drill scenarios."""
    items = [builtin(name) for name in builtin_names()]
    if as_json:
        emit_json([{"name": s.name, "title": s.title, "tags": list(s.tags), "testType": s.test_type,
                    "objectives": list(s.objectives)} for s in items])
        return
    width = max(len(s.name) for s in items)
    for s in items:
        click.echo(f"{s.name:<{width}}  {s.title}")
