"""`drkit dicomweb serve`: argument errors exit 2; a real run serves the embedded archive to
dicomweb-client with the token it wrote, and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.pseudonym import Pseudonymizer
from drills.synth.dataset import generate
from tests.helpers.dicomweb import archive_stack


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "needs --endpoint URL"),
        (["--endpoint", "http://127.0.0.1:9"], "needs --outputs FILE"),
        (["--endpoint", "http://127.0.0.1:9", "--outputs", "/nonexistent/outputs.json"], "no such outputs file"),
        (["--promote"], "--promote is for --region dr"),
        (["--region", "elsewhere"], "Invalid value for '--region'"),
        (["--port", "0"], "0 is not in the range"),
        (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1"),
    ],
)
def test_bad_arguments_exit_2(drkit, args: list[str], message: str) -> None:
    code, _, err = drkit("dicomweb", "serve", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_dicomweb_client_with_its_token(tmp_path: Path) -> None:
    with archive_stack(tmp_path) as (cloud, outputs_file):
        _serve_and_retrieve(cloud, outputs_file, tmp_path)


def _serve_and_retrieve(cloud, outputs_file: Path, tmp_path: Path) -> None:
    from dicomweb_client.api import DICOMwebClient
    from drills.contracts import StackOutputs

    outputs = StackOutputs.load(outputs_file)
    manifest = generate(tmp_path / "set", 1, seed=5)
    ingestor = Ingestor(IngestDestination.from_outputs(outputs, cloud.target),
                        Pseudonymizer.from_secret(cloud.target, outputs.primaryRegion))
    for entry in manifest.entries:
        ingestor.ingest_file(manifest.root / entry.path)
    port, token_file = _free_port(), tmp_path / "token"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from drills.cli import main; main()", "dicomweb", "serve", "--port", str(port),
         "--endpoint", cloud.endpoint, "--outputs", str(outputs_file), "--token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.2)
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        client = DICOMwebClient(f"http://127.0.0.1:{port}",
                                headers={"Authorization": f"Bearer {token_file.read_text().strip()}"})
        [study] = client.search_for_studies()
        uid = study["0020000D"]["Value"][0]
        assert uid == manifest.entries[0].study_instance_uid
        assert {d.SOPInstanceUID for d in client.retrieve_study(uid)} == {e.sop_instance_uid for e in manifest.entries}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"GET /studies/{uid} params=- status=200" in err
    patient = str(dcmread(manifest.root / manifest.entries[0].path, stop_before_pixels=True).PatientID)
    assert patient not in err and "SYNTH^PATIENT" not in err
    assert token_file.read_text().strip() not in err
