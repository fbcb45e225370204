"""``drkit report RUN_DIR`` renders and signs a run's reports; ``drkit report verify RUN_DIR``
checks them. ``--upload`` stores the signed run dir in the stack's evidence bucket."""

from __future__ import annotations

from pathlib import Path

import click

from drills.cli.common import emit_json, json_option, resolve_target, say
from drills.errors import UsageError
from drills.reports.render import FORMATS

EXIT_INTACT, EXIT_ALTERED = 0, 1


class _ReportGroup(click.Group):
    """``drkit report RUN_DIR`` is the ``render`` subcommand; ``drkit report verify`` is verify."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["render", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ReportGroup, context_settings={"help_option_names": ["-h", "--help"]})
def report() -> None:
    """Render a run's reports (HTML, PDF/A-3, signed JSON) or verify them.

    \b
      drkit report RUN_DIR [--format html,pdf,json] [--key FILE] [--upload ...]
      drkit report verify RUN_DIR|FOLDER [--key FILE]
    """


def _formats(value: str) -> tuple[str, ...]:
    from drills.reports.render import parse_formats
    return parse_formats(value.split(","))


@report.command("render")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "formats", default=",".join(FORMATS), show_default=True,
              help="Comma-separated: json, html, pdf (report.json is always written).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ed25519 PEM private key (default: $DRKIT_SIGNING_KEY, else the folder's own key).")
@click.option("--upload", is_flag=True, help="Store the signed run dir in the stack's evidence bucket (Object Lock).")
@click.option("--outputs", "outputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Stack outputs JSON, for --upload.")
@click.option("--endpoint", metavar="URL", default=None, envvar="DRKIT_ENDPOINT",
              help="Embedded cloud endpoint, for --upload (omit for AWS).")
@click.option("--target", type=click.Choice(("embedded", "aws")), default=None,
              help="Where --upload goes (default: embedded with --endpoint, else aws).")
@click.pass_context
def render(ctx: click.Context, run_dir: Path, formats: str, key_file: Path | None, upload: bool,
           outputs_file: Path | None, endpoint: str | None, target: str | None) -> None:
    """Render RUN_DIR's journal into report.json/html/pdf and sign the run dir.

    With --upload and no --format, a run dir that is already signed is uploaded as it is."""
    from drills.reports.manifest import MANIFEST
    from drills.reports.render import render_run
    chosen = _formats(formats)
    if upload and outputs_file is None:
        raise UsageError("--upload needs --outputs FILE (the stack outputs naming the evidence bucket)")
    if upload and (run_dir / MANIFEST).is_file() and \
            ctx.get_parameter_source("formats") == click.core.ParameterSource.DEFAULT:
        _upload(run_dir, outputs_file, endpoint, target)
        return
    rendered = render_run(run_dir, chosen, key_file)
    for path in rendered.paths:
        say(f"  wrote {path}")
    for name in rendered.removed:
        say(f"  removed stale {name} (not re-rendered)")
    say(f"signed with Ed25519 key {rendered.key.fingerprint} ({rendered.key.source})")
    if rendered.key.created:
        say(f"new signing key for this folder; give the auditor its public half: {rendered.public_key_path}",
            fg="yellow")
    if rendered.report["target"]["simulated"]:
        say("target: embedded — every figure simulated, not evidence about AWS", fg="yellow")
    say(f"verdict: {rendered.report['verdict']['result']}")
    main = next((p for p in rendered.paths if p.suffix == ".pdf"), None) or \
        next((p for p in rendered.paths if p.suffix == ".html"), rendered.paths[0])
    click.echo(str(main))
    if upload:
        _upload(rendered.run_dir, outputs_file, endpoint, target)


def _upload(run_dir: Path, outputs_file: Path, endpoint: str | None, target: str | None) -> None:
    from drills.contracts import StackOutputs
    from drills.reports.upload import upload_run
    from drills.reports.verify import verify_run
    check = verify_run(run_dir)
    if not check.intact:
        click.secho(f"not uploading, the run dir is NOT INTACT: {check.problems[0]}", err=True, fg="red")
        raise click.exceptions.Exit(EXIT_ALTERED)
    resolved = resolve_target(target or ("embedded" if endpoint else "aws"), endpoint)
    stored = upload_run(run_dir, StackOutputs.load(outputs_file), resolved)
    say(f"uploaded {len(stored.keys)} objects under Object Lock {stored.mode} until {stored.retain_until}")
    click.echo(stored.location)


@report.command("verify")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The public key (PEM, or the private key) runs were signed with; default the folder's "
                   "signing-key.pub.")
@json_option(help="The result as JSON on stdout; human text goes to stderr.")
@click.pass_context
def verify(ctx: click.Context, run_dir: Path, key_file: Path | None, as_json: bool) -> None:
    """Exit 0 if RUN_DIR (or every run in a folder) is intact; 1 naming the first altered or
    missing artifact or journal event, or — "not verified" — naming the runs that were never
    signed (a folder where no run is signed verified nothing); 2 on bad input."""
    from drills.reports.verify import STATUS_ALTERED, verify_path
    result = verify_path(run_dir, key_file)
    if as_json:
        emit_json({"status": result.status, "intact": result.intact, "checked": result.checked,
                   "problems": result.problems, "unverified": result.unverified,
                   "notes": list(dict.fromkeys(result.notes))})
    for note in dict.fromkeys(result.notes):
        say(f"note: {note}")
    if result.intact:
        say(f"intact: {', '.join(result.checked)} — signature, every artifact digest, journal hash chain and "
            "run chain verified", fg="green")
        ctx.exit(EXIT_INTACT)
    for run in result.unverified:
        say(f"UNVERIFIED: {run}", fg="red")
    if result.status == STATUS_ALTERED:
        for problem in result.problems[1:]:
            say(f"  also: {problem}")
        click.secho(f"NOT INTACT: {result.problems[0]}", err=True, fg="red")
    elif not result.checked:
        click.secho(f"NOT VERIFIED: no run in {run_dir} is signed, so nothing was verified — "
                    f"{len(result.unverified)} run dir(s) without a manifest.json/manifest.sig "
                    "(sign them with `drkit report RUN_DIR`)", err=True, fg="red")
    else:
        total = len(result.checked) + len(result.unverified)
        click.secho(f"NOT VERIFIED: {len(result.unverified)} of {total} runs in {run_dir} are unsigned and "
                    f"nothing vouches for them; the signed ones ({', '.join(result.checked)}) verified intact",
                    err=True, fg="red")
    ctx.exit(EXIT_ALTERED)
