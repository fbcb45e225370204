"""``drkit synth OUT``: write the synthetic enterprise DICOM data set."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from drills.cli.common import emit_json, json_option, say

DEFAULT_STUDIES = 40


@click.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--studies", type=int, default=DEFAULT_STUDIES, show_default=True,
              help="Number of studies (the first ones cover every modality once).")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, byte-identical files.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiplies pixel data bytes; 16 gives clinical CT/MR matrices (512x512).")
@click.option("--dicomdir", is_flag=True, help="Lay the files out as a DICOM File-set with a DICOMDIR.")
@json_option(help="Summary as JSON on stdout; human text goes to stderr.")
def synth(out: Path, studies: int, seed: int, scale: float, dicomdir: bool, as_json: bool) -> None:
    """Write STUDIES synthetic, de-identified DICOM studies under OUT, with OUT/manifest.json.

    Radiology (CT, MR, CR, DX, MG), cardiology (US, XA, ECG), pathology (SM whole-slide),
    dermatology (XC) and ophthalmology (OP). OUT must be absent, empty or an earlier
    synth output (which is replaced).
    """
    from drills.synth.dataset import check_args, generate  # keeps `drkit --help` fast

    check_args(out, studies, scale)
    with click.progressbar(length=studies, label="synth", file=sys.stderr) as bar:
        manifest = generate(out, studies, seed, scale, dicomdir=dicomdir,
                            progress=lambda done, total: bar.update(1))
    summary = manifest.summary()
    if as_json:
        emit_json(summary)
        return
    say(f"wrote {summary['instances']} instances in {summary['studies']} studies "
        f"({summary['bytes'] / 1e6:.1f} MB) under {out}")
    for name, counts in (("specialty", summary["bySpecialty"]), ("modality", summary["byModality"])):
        say(f"  by {name}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    say(f"manifest: {summary['manifest']}")
