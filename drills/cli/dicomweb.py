"""``drkit dicomweb serve``: the DICOMweb service (QIDO-RS, WADO-RS, STOW-RS) over one
region's archive, on 127.0.0.1 by default."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from drills.cli.common import deployed_stack, say, target_options
from drills.dicomweb.auth import TokenAuth
from drills.errors import UsageError


@click.group("dicomweb")
def dicomweb() -> None:
    """Serve the archive over DICOMweb (PS3.18)."""


@dicomweb.command("serve")
@target_options
@click.option("--region", "role", type=click.Choice(["primary", "dr"]), default="primary", show_default=True,
              help="Serve the primary archive, or the DR replica bucket and index replica.")
@click.option("--promote", is_flag=True, help="Accept STOW-RS in the DR region (it is read-only otherwise).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8042, show_default=True)
@click.option("--key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Token verification key: a shared secret (HS256, ≥ 32 bytes) or a PEM public key "
                   "(RS256/ES256). Without it a random secret is made and one token is issued.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the issued token here (mode 0600) instead of printing it once on stderr.")
@click.option("--token-hours", type=click.FloatRange(0.1, 24 * 30), default=12.0, show_default=True)
def serve(stack: str, target: str, endpoint: str | None, outputs_file: Path | None, project_dir: Path | None,
          role: str, promote: bool, host: str, port: int, key_file: Path | None, token_file: Path | None,
          token_hours: float) -> None:
    """Serve QIDO-RS, WADO-RS and STOW-RS over the archive of one region.

    Every request needs `Authorization: Bearer <JWT>` (audience drkit-dicomweb). The DR
    region reads the replica bucket and the index replica and refuses STOW-RS unless
    --promote. Access is logged on stderr without patient data. Ctrl-C stops it.
    """
    import uvicorn

    from drills.dicomweb.app import create_app
    from drills.dicomweb.server import config
    from drills.dicomweb.source import ArchiveSource

    if promote and role != "dr":
        raise UsageError("--promote is for --region dr (the primary region is always writable)")
    if key_file is not None and token_file is not None:
        raise UsageError("--token-file takes the token drkit issues; "
                         "with --key-file your identity provider issues them")
    _check_port(host, port)
    resolved, outputs = deployed_stack("dicomweb serve", target, endpoint, outputs_file)
    source = ArchiveSource.from_outputs(outputs, resolved, role, promote=promote)
    if key_file is not None:
        try:
            auth = TokenAuth.from_key_text(key_file.read_bytes())
        except OSError as exc:
            raise UsageError(f"{key_file}: cannot read ({exc.strerror})") from exc
    else:
        auth = TokenAuth.generate()
        token = auth.issue("drkit-dicomweb-operator", token_hours)
        if token_file is not None:
            try:
                fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fp:
                    fp.write(token + "\n")
            except OSError as exc:
                raise UsageError(f"{token_file}: cannot write ({exc.strerror})") from exc
            say(f"token written to {token_file} (valid {token_hours:g} h)")
        else:
            say(f"bearer token (shown once, valid {token_hours:g} h):\n{token}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    mode = "read-write" if source.writable else "read-only"
    say(f"DICOMweb for the {role} region ({source.region}, {source.bucket}, {mode}) on http://{host}:{port}")
    try:
        uvicorn.Server(config(create_app(source, auth), host, port)).run()
    except KeyboardInterrupt:       # uvicorn re-raises the Ctrl-C it shut down on: a normal stop
        pass
    say("stopped")


def _check_port(host: str, port: int) -> None:
    """Fail with a message (exit 2) instead of uvicorn's exit 1 when the port is taken."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})",
                         hint="choose another --port, or stop what is using it") from exc
