"""Options shared by drkit commands, declared once.

Use as decorators: ``@target_options`` adds --target/--endpoint/--outputs/--stack/
--project-dir; ``@json_option`` (or ``@json_option(help="what goes on stdout")``) adds
--json; ``@threads_option`` adds --threads (DuckDB's); ``@output_options`` adds --out/--json.
``resolve_target`` turns them into a ``drills.aws.Target``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from drills import jsonio
from drills.contracts import StackOutputs
from drills.errors import UsageError

if TYPE_CHECKING:                   # boto3 costs ~0.2 s and ~30 MB: imported when a target is resolved
    from drills.aws import Target

TARGETS = ("embedded", "aws")


def target_options(fn: Callable) -> Callable:
    options = [
        click.option("--stack", default="dev", show_default=True, help="Stack name (stacks/Pulumi.<stack>.yaml)."),
        click.option("--target", type=click.Choice(TARGETS), default="embedded", show_default=True,
                     help="Embedded cloud (moto + simulation) or real AWS."),
        click.option("--endpoint", metavar="URL", default=None, envvar="DRKIT_ENDPOINT",
                     help="Embedded cloud endpoint from `drkit cloud serve` (env DRKIT_ENDPOINT)."),
        click.option("--outputs", "outputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Stack outputs JSON (`pulumi stack output --json` or `drkit up --outputs`)."),
        click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Pulumi project directory (default: search upward from the working directory)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


JSON_HELP = "Machine output on stdout; human text goes to stderr."


def json_option(fn: Callable | None = None, *, help: str = JSON_HELP) -> Callable:   # noqa: A002 - click's name
    """``--json`` (parameter ``as_json``): machine output on stdout, people read stderr.
    ``@json_option``, or ``@json_option(help=...)`` to say what the command puts on stdout."""
    option = click.option("--json", "as_json", is_flag=True, help=help)
    return option(fn) if fn is not None else option


THREADS_HELP = "DuckDB threads (fewer threads, less memory)."


def threads_option(fn: Callable | None = None, *, help: str = THREADS_HELP,   # noqa: A002 - click's name
                   default: int = 2) -> Callable:
    """``--threads`` (parameter ``threads``): DuckDB's worker threads, 1..64 (anything else:
    exit 2). ``@threads_option``, or ``@threads_option(help=..., default=...)``."""
    option = click.option("--threads", type=click.IntRange(1, 64), default=default, show_default=True, help=help)
    return option(fn) if fn is not None else option


def output_options(fn: Callable) -> Callable:
    fn = json_option(fn)
    fn = click.option("--out", type=click.Path(path_type=Path), default=None, help="Output file or directory.")(fn)
    return fn


def resolve_target(target: str, endpoint: str | None) -> Target:
    from drills.aws import Target

    if target == "aws":
        if endpoint:
            raise UsageError("--endpoint is for the embedded cloud; drop it with --target aws")
        return Target(endpoint=None)
    return Target(endpoint=endpoint.rstrip("/") if endpoint else None)


def deployed_stack(command: str, target: str, endpoint: str | None,
                   outputs_file: Path | None) -> tuple[Target, StackOutputs]:
    """The Target and stack outputs of an already deployed stack, for commands that write
    into it (ingest, gateway). Explains what is missing instead of guessing."""
    resolved = resolve_target(target, endpoint)
    if target == "embedded" and not resolved.simulated:
        raise UsageError(
            f"drkit {command} on the embedded cloud needs --endpoint URL from `drkit cloud serve` "
            "and --outputs FILE from `drkit up`",
            hint="or use --target aws with --outputs from `pulumi stack output --json`",
        )
    if outputs_file is None:
        raise UsageError(
            f"drkit {command} needs --outputs FILE: the stack outputs from `drkit up` "
            "(embedded) or `pulumi stack output --json` (AWS)",
        )
    return resolved, StackOutputs.load(outputs_file)


_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)\s*$", re.IGNORECASE)


def memory_size(_ctx: Any, _param: Any, value: str) -> str:
    """click callback: a DuckDB memory limit such as 256MB or 1GB (BadParameter otherwise)."""
    if not _MEMORY.match(value or ""):
        raise click.BadParameter(f"{value!r} is not a memory size such as 256MB or 1GB")
    return value.replace(" ", "")


def drill_prefix_of(declared: Any) -> str:
    """The stack's ``drkit:drill.prefix`` (the only keys drills write or delete), ``drills/`` by default."""
    drill = declared.get("drkit:drill") if isinstance(declared, dict) else None
    return str(drill.get("prefix", "drills/")) if isinstance(drill, dict) else "drills/"


def emit_json(document: Any) -> None:
    """Write a machine-readable document to stdout (strict JSON, no NaN)."""
    sys.stdout.write(jsonio.dump_text(document))


def say(message: str, **style: Any) -> None:
    """Human text: always stderr, so stdout stays machine-readable under --json."""
    click.secho(message, err=True, **style)
