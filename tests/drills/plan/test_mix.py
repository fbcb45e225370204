"""Study mix: the default from the synthetic enterprise mix, and user YAML validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.contracts import Specialty
from drills.errors import UsageError
from drills.plan.mix import default_mix, load
from drills.synth.dataset import MODALITY_WEIGHTS, SPECIALTY_WEIGHTS


def test_default_mix_uses_the_synthetic_shares_and_reference_sizes():
    mix = default_mix()
    shares = {m.name: m.share for m in mix.modalities}
    assert shares["CT"] == pytest.approx(SPECIALTY_WEIGHTS[Specialty.RADIOLOGY] * MODALITY_WEIGHTS[Specialty.RADIOLOGY]["CT"])
    assert set(shares) == {m for w in MODALITY_WEIGHTS.values() for m in w}
    sizes = {m.name: m.study_bytes for m in mix.modalities}
    assert 0.3e9 <= sizes["CT"] <= 1e9 and 75e6 <= sizes["MG"] <= 150e6 and 1e9 <= sizes["SM"] <= 10e9
    assert sum(mix.byte_shares().values()) == pytest.approx(1.0)
    assert "assumption" in mix.source


def test_user_mix(tmp_path: Path):
    path = tmp_path / "mix.yaml"
    path.write_text("name: clinic\nmodalities:\n  CT: {share: 3, objects: [{count: 2, bytes: 512KiB}]}\n"
                    "  XC: {share: 1, specialty: other, objects: [{count: 1, bytes: 1MB}]}\n")
    mix = load(path)
    ct, xc = mix.modalities
    assert (ct.specialty, ct.study_bytes) == (Specialty.RADIOLOGY, 2 * 524_288)
    assert (xc.specialty, xc.study_bytes) == (Specialty.OTHER, 1_000_000)
    assert mix.byte_shares()["CT"] == pytest.approx(3 * 1_048_576 / (3 * 1_048_576 + 1_000_000))


@pytest.mark.parametrize(("text", "message"), [
    ("modalities: [CT]", "modalities: expected a mapping"),
    ("modalities:\n  CT: {share: 0, objects: [{count: 1, bytes: 1}]}", "modalities.CT.share"),
    ("modalities:\n  CT: {share: 1, objects: []}", "modalities.CT.objects"),
    ("modalities:\n  CT: {share: 1, objects: [{count: 1}]}", r"modalities.CT.objects\[0\]"),
    ("modalities:\n  CT: {share: 1, objects: [{count: 1, bytes: lots}]}", r"objects\[0\].bytes"),
    ("modalities:\n  CT: {share: 1, specialty: cardiac, objects: [{count: 1, bytes: 1}]}", "specialty"),
    ("modalities:\n  CT: {share: 1, colour: red, objects: [{count: 1, bytes: 1}]}", "colour"),
    ("growth: 1\nmodalities: {}", "growth: unknown key"),
    ("modalities: {CT: {share: 1, objects: [{count: 1, bytes: 1}]", "not valid YAML"),
])
def test_bad_mix_files_name_the_field(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        load(path)
    assert info.value.exit_code == 2 and str(path) in str(info.value)


def test_missing_mix_file(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read"):
        load(tmp_path / "nope.yaml")
