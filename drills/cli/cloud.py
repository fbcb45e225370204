"""``drkit cloud``: run a long-lived embedded cloud and steer it from scripts.

``serve`` blocks and prints exactly one line on stdout, ``endpoint: http://HOST:PORT``
(usage hints go to stderr), so a script can read the port when it asked for ``--port 0``.
Ctrl-C or SIGTERM stops it cleanly (exit 0). A busy port or an address that is not this
machine's is a usage error (exit 2).

The other commands talk to a running cloud through its control API. The endpoint comes
from ``--endpoint`` or $DRKIT_ENDPOINT. Exit codes: 2 bad input or a request the control
API refuses (unknown behaviour/action, bad parameters); 3 the endpoint does not answer.
With ``--json`` the control API's answer goes to stdout; human text always goes to stderr.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click

from drills import jsonio
from drills.cli.common import emit_json, json_option, say
from drills.cloud.control import ENDPOINT_ENV, HttpControl
from drills.errors import UsageError
from drills.times import DURATION_HINT, parse_duration

DEFAULT_PORT = 4599
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def endpoint_option(fn: Callable) -> Callable:
    return click.option("--endpoint", metavar="URL", envvar=ENDPOINT_ENV, default=None,
                        help=f"Embedded cloud endpoint (default: ${ENDPOINT_ENV}).")(fn)


json_answer = json_option(help="The control API's answer as JSON on stdout; human text goes to stderr.")


def _report(result: dict[str, Any], as_json: bool, human: str) -> None:
    if as_json:
        emit_json(result)
    else:
        say(human)


@click.group()
def cloud() -> None:
    """Run the embedded cloud (moto + simulation) and steer it: clock, outages, replication."""


# ---------------------------------------------------------------------------- serve
class _Stop(Exception):
    """SIGTERM received."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Stop()


@cloud.command()
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="TCP port; 0 picks a free one (printed on stdout).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--clock-speed", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Virtual seconds per real second; 0 = the clock moves only when told.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for simulated lag and failures.")
@click.option("--tls", is_flag=True,
              help="Serve HTTPS with a self-signed CA (ca.pem in --tls-dir, for AWS_CA_BUNDLE); plain HTTP on the "
                   "same port then counts as insecure transport (aws:SecureTransport false).")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".drkit") / "tls",
              show_default=True, help="Where --tls writes (and reuses) ca.pem, server.pem and server.key.")
def serve(port: int, host: str, clock_speed: float, seed: int, tls: bool, tls_dir: Path) -> None:
    """Serve an embedded cloud until Ctrl-C or SIGTERM.

    Prints one line on stdout, `endpoint: URL`; hints go to stderr. Exit 2 if the port is busy.
    """
    from drills.cloud.server import EmbeddedCloud, SimSettings

    embedded = EmbeddedCloud(port=port, host=host, settings=SimSettings(seed=seed, clock_speed=clock_speed),
                             tls_dir=tls_dir if tls else None)
    embedded.start()          # busy port / foreign address: UsageError (exit 2)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        sys.stdout.write(f"endpoint: {embedded.endpoint}\n")
        sys.stdout.flush()
        say(_usage_hint(embedded.endpoint, embedded.ca_bundle))
        if host not in _LOOPBACK:
            say(f"warning: listening on {host}: anyone who reaches it can read and change this cloud "
                "(no authentication)", fg="yellow")
        embedded.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        embedded.stop()
        signal.signal(signal.SIGTERM, previous)
    say("embedded cloud stopped")
    _exit_now()


def _exit_now() -> None:
    """End the process at once (exit 0): the cloud is stopped and nothing is left to write.

    Tearing down the interpreter would free moto's objects one by one — after heavy traffic
    (tens of thousands of object versions) that spins a core for seconds to minutes after
    "stopped" was printed (issue 16)."""
    import logging
    import os
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _usage_hint(endpoint: str, ca_bundle: str | None = None) -> str:
    plain = endpoint.replace("https://", "http://", 1)
    tls = [f"  TLS: export AWS_CA_BUNDLE={ca_bundle}  (plain {plain} on the same port counts as insecure "
           f"transport: TLS-only policies deny it; the control API answers there: {ENDPOINT_ENV}={plain})"] \
        if ca_bundle else []
    return "\n".join([
        f"embedded cloud (moto + simulation) on {endpoint}; Ctrl-C stops it. Durations are simulated.",
        f"  export {ENDPOINT_ENV}={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        *tls,
        f"  awscli: aws --endpoint-url {endpoint} s3 ls   (path-style: aws configure set "
        "default.s3.addressing_style path)",
        f"  boto3:  boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1')",
        "  steer:  drkit cloud status | clock advance 15m | outage on eu-west-1 | "
        "replication pause --bucket B --duration PT30M",
    ])


# ---------------------------------------------------------------------------- status
@cloud.command()
@endpoint_option
@json_answer
def status(endpoint: str | None, as_json: bool) -> None:
    """Show the virtual clock and every behaviour's state."""
    client = HttpControl(endpoint)
    result = client.status()
    if as_json:
        emit_json(result)
        return
    clock = result.get("clock", {})
    lines = [f"endpoint: {client.endpoint}",
             f"clock:    {clock.get('now')} ({clock.get('label', 'simulated')}), speed {clock.get('speed')}, "
             f"{clock.get('pending', 0)} task(s) pending"]
    for failure in clock.get("failures", []):
        lines.append(f"  task failed at {failure.get('at')}: {failure.get('task')}: {failure.get('error')}")
    for name, state in sorted(result.get("behaviours", {}).items()):
        text = jsonio.dumps(state, indent=None)
        lines.append(f"{name + ':':<18}{text if len(text) <= 160 else text[:157] + '...'}")
    if result.get("missingBehaviours"):
        lines.append("missing behaviours: " + ", ".join(result["missingBehaviours"]))
    say("\n".join(lines))


# ---------------------------------------------------------------------------- clock
@cloud.group()
def clock() -> None:
    """Move the virtual clock or set its speed."""


@clock.command()
@click.argument("duration")
@endpoint_option
@json_answer
def advance(duration: str, endpoint: str | None, as_json: bool) -> None:
    """Advance the clock by DURATION (90s, 15m, 2h, 3d, seconds, or ISO-8601 PT15M)."""
    try:
        seconds = parse_duration(duration).total_seconds()
    except ValueError as exc:
        raise UsageError(str(exc), hint=DURATION_HINT) from exc
    result = HttpControl(endpoint).advance(seconds)
    _report(result, as_json, f"clock now {result.get('now')} (simulated); {result.get('tasksRun', 0)} task(s) ran")


@clock.command()
@click.argument("speed", type=click.FloatRange(min=0))
@endpoint_option
@json_answer
def speed(speed: float, endpoint: str | None, as_json: bool) -> None:
    """Set SPEED virtual seconds per real second (0 stops the clock)."""
    result = HttpControl(endpoint).set_speed(speed)
    _report(result, as_json, f"clock speed {result.get('speed')} (virtual seconds per real second)")


# ---------------------------------------------------------------------------- outage
@cloud.command()
@click.argument("state", type=click.Choice(["on", "off"]))
@click.argument("region")
@endpoint_option
@json_answer
def outage(state: str, region: str, endpoint: str | None, as_json: bool) -> None:
    """Take REGION down (on) or bring it back (off)."""
    result = HttpControl(endpoint).outage(region, down=state == "on")
    if state == "on":
        human = f"{region} is down since {result.get('since')} (simulated): every call to it fails"
    elif result.get("wasDown"):
        human = f"{region} is up again after {result.get('downSeconds', 0):.0f} s (simulated)"
    else:
        human = f"{region} was not down"
    _report(result, as_json, human)


# ---------------------------------------------------------------------------- replication
def _tags(values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {value!r}: expected KEY=VALUE")
        tags[key] = tag_value
    return tags


@cloud.command()
@click.argument("action", type=click.Choice(["pause", "resume"]))
@click.option("--bucket", "buckets", multiple=True, help="Source bucket, name or ARN (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Select source buckets by tag, as FIS does (repeatable; all must match).")
@click.option("--source-region", default=None, help="With --tag: only buckets in this region.")
@click.option("--duration", default=None, metavar="ISO8601",
              help="Pause length, PT1M to PT12H as FIS takes it, e.g. PT15M (required for pause).")
@click.option("--prefix", "prefixes", multiple=True, help="Only rules with this prefix (repeatable; pause only).")
@click.option("--region", default=None, help="Only rules replicating into this region (pause only).")
@click.option("--destination-bucket", "destinations", multiple=True,
              help="Only rules replicating into this bucket (repeatable; pause only).")
@endpoint_option
@json_answer
def replication(action: str, buckets: tuple[str, ...], tags: tuple[str, ...], source_region: str | None,
                duration: str | None, prefixes: tuple[str, ...], region: str | None,
                destinations: tuple[str, ...], endpoint: str | None, as_json: bool) -> None:
    """Pause or resume S3 replication, FIS-style.

    Like aws:s3:bucket-pause-replication: objects written during a pause replicate after it.
    """
    client = HttpControl(endpoint)
    selected = _tags(tags)
    if action == "resume":
        if duration or prefixes or region or destinations:
            raise UsageError("resume takes only --bucket, --tag and --source-region")
        _check_buckets_exist(client.endpoint, buckets)
        result = client.resume_replication(list(buckets), selected, source_region)
        _report(result, as_json, f"replication resumed ({result.get('resumedPauses', 0)} pause(s) ended); "
                                 f"{result.get('released', 0)} held version(s) released")
        return
    _check_buckets_exist(client.endpoint, buckets)
    result = client.pause_replication(list(buckets), duration, list(prefixes), region, list(destinations),
                                      selected, source_region)
    if not result.get("resolvedTargets"):
        say(f"warning: {result.get('message', 'no replication rule matched')}", fg="yellow")
    until = f"until {result['until']} (simulated)" if result.get("until") else "until resumed"
    targets = "; ".join(f"{t.get('bucket')} (rules: {', '.join(t.get('pausedRules', []))})"
                        for t in result.get("targets", []))
    _report(result, as_json, f"replication paused {until}: {targets or 'nothing'}")


def _check_buckets_exist(endpoint: str, buckets: tuple[str, ...]) -> None:
    """A bucket named by --bucket must exist: FIS fails an experiment whose target ARNs do not
    resolve (https://docs.aws.amazon.com/fis/latest/userguide/targets.html), and a typo must
    not look like a pause that merely matched no rule."""
    from botocore.exceptions import ClientError

    from drills.aws import Target

    s3 = Target(endpoint=endpoint).client("s3", "us-east-1")
    for bucket in buckets:
        name = bucket.removeprefix("arn:aws:s3:::")
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                raise UsageError(f"--bucket {bucket}: no such bucket in the embedded cloud") from exc
            raise


# ---------------------------------------------------------------------------- generic
@cloud.command()
@click.argument("behaviour")
@click.argument("action")
@click.argument("params", required=False, default=None, metavar="[JSON]")
@endpoint_option
def control(behaviour: str, action: str, params: str | None, endpoint: str | None) -> None:
    """Call any behaviour's control action.

    BEHAVIOUR's ACTION gets the JSON object (default {}); its answer goes to stdout as JSON.
    """
    body: Any = {}
    if params:
        try:
            body = json.loads(params)
        except ValueError as exc:
            raise UsageError(f"JSON parameters are not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise UsageError("JSON parameters must be an object, e.g. '{\"region\": \"eu-west-1\"}'")
    emit_json(HttpControl(endpoint).call(behaviour, action, body))
