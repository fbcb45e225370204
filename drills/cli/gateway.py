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
from drills.cli.common import deployed_stack, say, target_options


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
@click.option("--json", "as_json", is_flag=True,
              help="JSON Lines on stdout: the listening address, then the counts on exit.")
@target_options
def gateway(
    port: int,
    host: str,
    ae_title: str,
    allow_calling: tuple[str, ...],
    max_associations: int,
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

    Exit codes: 0 stopped, 2 bad arguments or the port is in use, 3 the cloud cannot be
    reached.
    """
    from drills.ingest.gateway import Gateway, validate_ae_title

    validate_ae_title(ae_title)
    for title in allow_calling:
        validate_ae_title(title, "--allow-calling")
    ingestor = _ingestor(target, endpoint, outputs_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    gw = Gateway(ingestor, ae_title=ae_title, host=host, port=port,
                 allowed_calling=list(allow_calling), max_associations=max_associations)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gw.start()
    try:
        _json_line(as_json, {"event": "listening", "aeTitle": gw.ae_title, "host": host, "port": gw.port})
        say(f"drkit gateway {gw.ae_title} listening on {gw.address} (Ctrl-C to stop)")
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


def _ingestor(target: str, endpoint: str | None, outputs_file: Path | None):
    """The Ingestor for the stack named by --outputs (and --endpoint on the embedded cloud)."""
    from drills.ingest.core import IngestDestination, Ingestor
    from drills.ingest.pseudonym import Pseudonymizer

    resolved, outputs = deployed_stack("gateway", target, endpoint, outputs_file)
    dest = IngestDestination.from_outputs(outputs, resolved)
    return Ingestor(dest, Pseudonymizer.from_secret(resolved, dest.region))
