"""``drkit gateway``: a DICOM C-STORE receiver that archives into the stack.

Port already in use exits 2, like ``drkit cloud serve``: the person chose the port and the
fix is theirs (another --port, or 0 for any free one). An unreachable cloud exits 3.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from drills import jsonio
from drills.cli.common import deployed_stack, json_option, say, target_options


@click.command("gateway")
@click.option("--port", type=click.IntRange(0, 65535), default=11112, show_default=True,
              help="TCP port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 to accept modalities from the network.")
@click.option("--ae-title", default="DRKIT", show_default=True, help="This gateway's AE title (1-16 characters).")
@click.option("--allow-calling", "allow_calling", multiple=True, metavar="AE",
              help="Accept only these calling AE titles (repeatable; default: any).")
@click.option("--max-associations", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Associations served at the same time.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Serve DICOM over TLS with this certificate (PEM; needs --tls-key).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Private key of --tls-cert (PEM).")
@click.option("--tls-ca", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Require client certificates signed by this CA (PEM).")
@click.option("--max-inflated-mib", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="Largest size a deflated data set may inflate to; beyond it the instance is quarantined.")
@json_option(help="JSON Lines on stdout: the listening address, then the counts on exit.")
@target_options
def gateway(
    port: int,
    host: str,
    ae_title: str,
    allow_calling: tuple[str, ...],
    max_associations: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
    max_inflated_mib: int,
    as_json: bool,
    stack: str,
    target: str,
    endpoint: str | None,
    outputs_file: Path | None,
    project_dir: Path | None,
) -> None:
    """Receive DICOM over DIMSE (C-STORE, C-ECHO) and archive every instance.

    Each instance is stored and indexed before the sender hears success; instances that
    cannot be archived are quarantined and answered 0xC000; when the archive cannot be
    written the answer is 0xA700 (retry). Runs until Ctrl-C or SIGTERM. Needs the stack
    outputs (--outputs) and, on the embedded cloud, its --endpoint.

    C-ECHO succeeds only while the archive can be written. Beyond loopback, limit callers
    with --allow-calling and encrypt with --tls-cert/--tls-key (warned about otherwise).

    Exit codes: 0 stopped, 2 bad arguments or the port is in use, 3 the cloud cannot be
    reached.
    """
    from drills.cli.ingest import check_endpoint, warn_unused_stack
    from drills.errors import UsageError
    from drills.ingest.gateway import Gateway, tls_context, validate_ae_title

    validate_ae_title(ae_title)
    for title in allow_calling:
        validate_ae_title(title, "--allow-calling")
    if (tls_cert is None) != (tls_key is None) or (tls_ca is not None and tls_cert is None):
        raise UsageError("TLS needs both --tls-cert and --tls-key (and --tls-ca only with them)")
    context = tls_context(tls_cert, tls_key, tls_ca) if tls_cert and tls_key else None
    check_endpoint(target, endpoint)
    warn_unused_stack("gateway")
    ingestor = _ingestor(target, endpoint, outputs_file, max_inflated_mib * 2**20)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    gw = Gateway(ingestor, ae_title=ae_title, host=host, port=port,
                 allowed_calling=list(allow_calling), max_associations=max_associations, ssl_context=context)
    for warning in gw.exposure_warnings():
        say(f"warning: {warning}", fg="yellow")
    uploads = ingestor.abort_stale_uploads()       # what a crashed gateway or ingest left behind
    if uploads.aborted:
        say(f"repair: aborted {uploads.aborted} incomplete multipart upload(s) left by an earlier run", fg="yellow")
    if uploads.in_progress:
        say(f"note: {uploads.in_progress} incomplete multipart upload(s) younger than an hour left alone", fg="yellow")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gw.start()
    try:
        _json_line(as_json, {"event": "listening", "aeTitle": gw.ae_title, "host": host, "port": gw.port,
                             "tls": context is not None})
        say(f"drkit gateway {gw.ae_title} listening on {gw.address}{' (TLS)' if context else ''} (Ctrl-C to stop)")
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        gw.stop()
        counts = gw.stats.snapshot()
        say("stopped: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        _json_line(as_json, {"event": "stopped", **counts})


def _json_line(enabled: bool, document: dict) -> None:
    """--json output is JSON Lines: one document when listening, one when stopped."""
    if enabled:
        sys.stdout.write(jsonio.dumps(document, indent=None) + "\n")
        sys.stdout.flush()


def _ingestor(target: str, endpoint: str | None, outputs_file: Path | None, max_inflated: int):
    """The Ingestor for the stack named by --outputs (and --endpoint on the embedded cloud)."""
    from drills.ingest.core import IngestDestination, Ingestor
    from drills.ingest.pseudonym import Pseudonymizer

    resolved, outputs = deployed_stack("gateway", target, endpoint, outputs_file)
    dest = IngestDestination.from_outputs(outputs, resolved)
    return Ingestor(dest, Pseudonymizer.for_stack(resolved, outputs), max_inflated=max_inflated)
