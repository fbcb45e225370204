"""The ``drkit`` command line. The group handles global options only; each command
lives in its own module and is loaded when it is called."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from drills import __version__
from drills.errors import DrkitError

# command name -> "module:attribute". One module per command.
COMMANDS: dict[str, str] = {
    "cloud": "drills.cli.cloud:cloud",
    "up": "drills.cli.up:up",
    "ingest": "drills.cli.ingest:ingest",
    "synth": "drills.cli.synth:synth",
    "gateway": "drills.cli.gateway:gateway",
    "run": "drills.cli.run:run",
    "scenarios": "drills.cli.scenarios:scenarios",
    "plan": "drills.cli.plan:plan",
    "verify": "drills.cli.verify:verify",
    "repair": "drills.cli.repair:repair",
    "report": "drills.cli.report:report",
    "weaken": "drills.cli.weaken:weaken",
    "dicomweb": "drills.cli.dicomweb:dicomweb",
    "claims": "drills.cli.claims:claims",
}


class LazyGroup(click.Group):
    """Import a command's module only when that command runs (keeps ``--help`` fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


DEBUG_ENV = "DRKIT_DEBUG"
_debug = False      # set by --debug: unexpected errors show their traceback


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drkit")
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV,
              help=f"Show the traceback of an unexpected error (env {DEBUG_ENV}=1).")
def cli(debug: bool) -> None:
    """drkit: provision, drill and verify a two-region medical-imaging archive.

    Exit codes: 0 every objective met, 1 a drill deviated or an objective was
    breached, 2 usage error or invalid input, 3 infrastructure or tool error.
    """
    global _debug
    _debug = debug


def main(argv: list[str] | None = None) -> None:
    """Console entry point: DrkitError becomes a message and its exit code, never a traceback;
    any other exception is a tool error: exit 3 with one line (the traceback under --debug)."""
    global _debug
    _debug = os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes")
    try:
        # standalone_mode=False makes click *return* the code of ctx.exit(n) instead of exiting.
        rc = cli.main(args=argv, prog_name="drkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except DrkitError as exc:
        click.secho(f"drkit: error: {exc}", err=True, fg="red")
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    # The one place any other exception is caught: a bug or an unforeseen library failure is a
    # tool error (exit 3, DESIGN.md), told in one line, never exit 1 (which means "deviated").
    except Exception as exc:  # noqa: BLE001
        if _debug:
            traceback.print_exc(file=sys.stderr)
        first = (str(exc).strip().splitlines() or [""])[0]
        click.secho(f"drkit: internal error: {type(exc).__name__}: {first[:300]}"
                    + ("" if _debug else " (run with --debug for the traceback)"), err=True, fg="red")
        sys.exit(3)
    if argv is None:            # the process's own entry point: the process ends now
        _spare_the_teardown()
    sys.exit(rc if isinstance(rc, int) else 0)


def _spare_the_teardown() -> None:
    """Freeze every live object out of the garbage collector before the interpreter exits.

    Interpreter teardown runs the collector over everything still alive; after ``drkit run``
    (moto's backends, the Pulumi program, the report renderer: ~700,000 objects) that alone took
    5-10 s of wall time after the run had finished (bench.run_e2e --stages, "process exit").
    Frozen objects are still freed as their modules are cleared; atexit handlers and stream
    flushes run as before. Only a process that is about to end calls this (``argv`` is None)."""
    import gc
    gc.freeze()
