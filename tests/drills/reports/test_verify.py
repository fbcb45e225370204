"""``drkit report verify``: intact runs pass; one changed byte in any artifact, one changed
journal event, a run deleted from the chain, a replaced run and a wrong key each fail,
naming what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.errors import UsageError
from drills.reports import build_run_reports
from drills.reports.canonical import canonical
from drills.reports.manifest import read_manifest
from drills.reports.render import render_run
from drills.reports.verify import verify_path, verify_run
from tests.drills.reports import journals

FAST = ("json", "html")


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "signing.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def public_key(signing_key: Path) -> Path:
    path = signing_key.with_suffix(".pub")
    path.write_bytes(serialization.load_pem_private_key(signing_key.read_bytes(), None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


@pytest.fixture(scope="module")
def signed_folder(tmp_path_factory: pytest.TempPathFactory, signing_key: Path) -> Path:
    """Three signed runs in one folder, rendered once for the module."""
    folder = tmp_path_factory.mktemp("signed") / "runs"
    runs = [journals.passing_journal(), journals.failing_journal(),
            journals.passing_journal(run_id="20261215T090000Z-ee55ff", offset=15 * 86400.0)]
    for journal in runs:
        build_run_reports(journals.write_run(folder, journal), FAST, key=signing_key)
    return folder


@pytest.fixture
def chain(signed_folder: Path, folder: Path) -> list[Path]:
    """A fresh copy of the signed folder for one test, oldest run first."""
    shutil.rmtree(folder)
    shutil.copytree(signed_folder, folder)
    return sorted(p for p in folder.iterdir() if p.is_dir())


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_runs_and_folder_verify(chain, folder, public_key):
    for run_dir in chain:
        result = verify_run(run_dir, public_key)
        assert result.intact, result.problems
    unbound = verify_run(chain[0])        # no --key, no folder key: consistency only, and it says so
    assert unbound.intact and "proves consistency, not origin" in unbound.notes[0]
    whole = verify_path(folder, public_key)
    assert whole.intact and whole.checked == [d.name for d in chain] and whole.unverified == []
    assert whole.status == "intact" and whole.exit_code == 0
    manifests = [read_manifest(d) for d in chain]
    assert manifests[0]["previous"] is None
    assert manifests[2]["previous"]["run_id"] == chain[1].name
    report = (chain[0] / "report.json").read_bytes()
    assert report == canonical(json.loads(report))          # the file is canonical JSON, byte for byte
    names = [a["name"] for a in manifests[0]["artifacts"]]
    assert names == ["journal.json", "report.html", "report.json"]
    assert manifests[1]["journal"]["chain_head"] == json.loads((chain[1] / "journal.json").read_text())["events"][-1]["hash"]


@pytest.mark.parametrize("artifact", ["journal.json", "report.json", "report.html", "manifest.json", "manifest.sig"])
def test_one_byte_changed_in_any_artifact(chain, artifact, public_key):
    path = chain[1] / artifact
    flip(path, len(path.read_bytes()) // 2)
    result = verify_run(chain[1], public_key)
    assert not result.intact
    assert result.problems[0].startswith(f"{chain[1].name}/{artifact if artifact != 'manifest.sig' else 'manifest.json'}")


def test_changed_journal_event_is_named(chain, public_key):
    path = chain[1] / "journal.json"
    journal = json.loads(path.read_text())
    journal["events"][9]["data"]["status"] = "passed"
    path.write_text(json.dumps(journal, sort_keys=True, indent=2) + "\n")
    result = verify_run(chain[1], public_key)
    assert result.problems[0] == (f"{chain[1].name}/journal.json: altered (SHA-256 differs from the manifest) — first "
                                  f"altered event: event 9 ({journal['events'][9]['type']}): content does not match "
                                  "its hash")


def test_rehashed_journal_still_fails(chain):
    """A forger who edits an event and rebuilds the whole chain still breaks the signed digest and head."""
    path = chain[1] / "journal.json"
    journal = json.loads(path.read_text())
    journal["scenarios"][0]["status"] = "passed"
    journal["events"][9]["data"]["status"] = "passed"
    path.write_text(json.dumps(journals.seal(journal), sort_keys=True, indent=2) + "\n")
    problems = verify_run(chain[1]).problems
    assert "chain was rebuilt" in problems[0]
    assert any("hash chain head differs" in p for p in problems)


def test_run_deleted_from_the_chain(chain, folder, public_key):
    shutil.rmtree(chain[1])
    result = verify_run(chain[2], public_key)
    assert result.problems == [f"{chain[2].name}: previous run {chain[1].name} is missing from the folder "
                               "(deleted from the chain)"]
    assert not verify_path(folder, public_key).intact
    assert verify_run(chain[0], public_key).intact        # the run before the gap is still itself intact


def test_first_run_deleted(chain):
    shutil.rmtree(chain[0])
    assert "missing from the folder" in verify_run(chain[1]).problems[0]


def test_replaced_run_is_seen_by_its_successor(chain, folder, signing_key):
    # re-signing a run that a later run chains to is refused ...
    with pytest.raises(UsageError, match="chain to this run's signed manifest"):
        build_run_reports(chain[1], FAST, key=signing_key)
    # ... and doing it behind drkit's back is caught from both sides
    later = read_manifest(chain[2])
    (chain[2] / "manifest.json").rename(chain[2] / "manifest.keep")
    build_run_reports(chain[1], FAST, key=signing_key)
    (chain[2] / "manifest.keep").rename(chain[2] / "manifest.json")
    assert later == read_manifest(chain[2])
    problems = verify_path(folder).problems
    assert any("recorded a different manifest for this run" in p for p in problems)
    assert any("manifest differs from the digest recorded here" in p for p in problems)


def test_wrong_key(chain, tmp_path, public_key, signing_key):
    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    result = verify_run(chain[0], other)
    assert not result.intact and "signature does not verify with key SHA256:" in result.problems[0]
    assert verify_run(chain[0], public_key).intact
    assert verify_run(chain[0], signing_key).intact          # a private key file serves too (its public half)


def test_folder_key_is_published_and_used(folder, write_run):
    run_dir = write_run(journals.passing_journal())
    rendered = render_run(run_dir, ("json",))
    assert rendered.key.created and (folder / "signing-key.pub").is_file()
    result = verify_run(run_dir)
    assert result.intact and "folder's signing-key.pub" in result.notes[0]


def test_added_and_missing_files(chain):
    (chain[0] / "notes.txt").write_text("added later")
    (chain[0] / "report.html").unlink()
    problems = verify_run(chain[0]).problems
    assert problems[0] == f"{chain[0].name}/report.html: missing"
    assert f"{chain[0].name}/notes.txt: not in the manifest (added after signing)" in problems


def test_an_unsigned_run_among_signed_ones_is_not_verified_and_missing_manifest_fails(chain, folder, write_run):
    """A run nothing vouches for is never part of an "intact" folder: deleting the newest run's
    manifest (which no later run chains to) would otherwise hide any edit to it."""
    late = write_run(journals.failing_journal(run_id="20261220T090000Z-ff66aa", offset=20 * 86400.0))
    result = verify_path(folder)
    assert not result.intact and result.status == "not verified" and result.exit_code == 1
    assert result.problems == [] and result.checked == [d.name for d in chain]
    assert result.unverified == [f"{late.name}: never signed (no manifest.json)"]
    assert verify_run(late).problems[0] == f"{late.name}/manifest.json: missing — the run was never signed or " \
                                           "its manifest was deleted"


def test_a_folder_where_no_run_is_signed_verifies_nothing(folder, write_run):
    runs = [write_run(journals.passing_journal()), write_run(journals.failing_journal())]
    result = verify_path(folder)
    assert result.checked == [] and result.problems == []
    assert not result.intact and result.status == "not verified" and result.exit_code == 1
    assert sorted(result.unverified) == sorted(f"{r.name}: never signed (no manifest.json)" for r in runs)


def test_a_signed_run_whose_journal_is_gone_or_broken_still_fails_the_folder(chain, folder):
    (chain[1] / "journal.json").unlink()
    (chain[2] / "journal.json").write_text("{not json")
    result = verify_path(folder)
    assert result.status == "altered" and result.exit_code == 1
    assert f"{chain[1].name}/journal.json: missing" in result.problems
    assert any(p.startswith(f"{chain[2].name}/journal.json: altered") for p in result.problems)
    assert {chain[1].name, chain[2].name} <= set(result.checked)


def test_an_unreadable_unsigned_run_is_not_verified(chain, folder):
    broken = folder / "20261220T090000Z-ff66aa"
    broken.mkdir()
    (broken / "journal.json").write_text("{not json")
    result = verify_path(folder)
    assert result.problems == [] and result.status == "not verified"
    assert result.unverified == [f"{broken.name}: never signed (no manifest.json) and its journal is unreadable"]


def test_bad_input(tmp_path):
    with pytest.raises(UsageError, match="no such run dir"):
        verify_path(tmp_path / "absent")
    with pytest.raises(UsageError, match="no run dirs here"):
        verify_path(tmp_path)
