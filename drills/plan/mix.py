"""The study mix: which modalities an archive receives, how often, and what their studies hold.

Each modality has a ``share`` of studies and a study made of object groups (``count`` objects
of ``bytes`` each). Object sizes matter, not only totals: lifecycle leaves objects under
128 KB where they are, and Standard-IA / Glacier IR bill each object as at least 128 KB.

The default mix takes the modality shares of the synthetic enterprise data set
(``drills.synth.dataset`` SPECIALTY_WEIGHTS × MODALITY_WEIGHTS) and typical study sizes from
shared/REFERENCE.md (CT 0.3–1 GB, mammography 75–150 MB, whole-slide pathology 1–10 GB per
slide: the midpoints). REFERENCE.md names no size for the other modalities; their figures
are drkit's assumptions, labelled as such in ``DEFAULT_SOURCES`` — pass ``--mix`` with your
own. A user mix is YAML (see ``load``); a bad one is a ``UsageError`` (exit 2) naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from drills.contracts import Specialty, specialty_for
from drills.errors import UsageError
from drills.plan.units import parse_size


@dataclass(frozen=True)
class ObjectGroup:
    """``count`` objects of ``size`` bytes in every study of a modality."""

    count: int
    size: int


@dataclass(frozen=True)
class Modality:
    name: str
    specialty: Specialty
    share: float
    """Share of studies (normalised over the mix, so shares need not sum to 1)."""
    objects: tuple[ObjectGroup, ...]

    @property
    def study_bytes(self) -> int:
        return sum(g.count * g.size for g in self.objects)

    @property
    def study_objects(self) -> int:
        return sum(g.count for g in self.objects)


@dataclass(frozen=True)
class Mix:
    name: str
    modalities: tuple[Modality, ...]
    source: str

    def byte_shares(self) -> dict[str, float]:
        """Share of ingested bytes per modality (study share × study size, normalised)."""
        weights = {m.name: m.share * m.study_bytes for m in self.modalities}
        total = sum(weights.values())
        return {k: v / total for k, v in weights.items()}

    def mean_study_bytes(self) -> float:
        total = sum(m.share for m in self.modalities)
        return sum(m.share * m.study_bytes for m in self.modalities) / total

    def describe(self) -> dict[str, Any]:
        shares = self.byte_shares()
        total_share = sum(m.share for m in self.modalities)
        return {"name": self.name, "source": self.source, "modalities": [
            {"modality": m.name, "specialty": m.specialty.value, "studyShare": round(m.share / total_share, 6),
             "byteShare": round(shares[m.name], 6), "studyBytes": m.study_bytes, "studyObjects": m.study_objects}
            for m in self.modalities]}


MB = 10**6
# Typical study per modality: object groups (count, bytes). Sources in DEFAULT_SOURCES.
_DEFAULT_STUDIES: dict[str, tuple[tuple[int, int], ...]] = {
    "CT": ((1240, 524_288), (1, 50_000)),       # 512² 16-bit slices (~650 MB) + a dose report
    "MR": ((2000, 140_000),),                    # 256² 16-bit images (~280 MB)
    "CR": ((2, 10 * MB),),
    "DX": ((2, 15 * MB),),
    "MG": ((4, 28 * MB),),                       # 4 views, ~112 MB
    "US": ((40, 3 * MB), (20, 300_000)),         # echo cines + stills
    "XA": ((10, 30 * MB),),
    "ECG": ((1, 120_000),),                      # 12 leads × 10 s × 500 Hz × 16 bit
    "SM": ((6, 916 * MB),),                      # one slide's pyramid, ~5.5 GB
    "XC": ((10, 3 * MB),),
    "OP": ((4, 5 * MB),),
}
DEFAULT_SOURCES = {
    "shares": "drills.synth.dataset SPECIALTY_WEIGHTS x MODALITY_WEIGHTS (the synthetic enterprise mix)",
    "CT": "REFERENCE.md: CT study 0.3-1 GB (midpoint)",
    "MG": "REFERENCE.md: mammography 75-150 MB (midpoint)",
    "SM": "REFERENCE.md: whole-slide pathology 1-10 GB per slide (midpoint, one slide per study)",
    "other modalities": "drkit assumption (not in REFERENCE.md): replace with your own mix",
}


def default_mix() -> Mix:
    from drills.synth.dataset import MODALITY_WEIGHTS, SPECIALTY_WEIGHTS

    modalities = []
    for specialty, weight in SPECIALTY_WEIGHTS.items():
        for name, share in MODALITY_WEIGHTS[specialty].items():
            groups = tuple(ObjectGroup(c, s) for c, s in _DEFAULT_STUDIES[name])
            modalities.append(Modality(name, specialty, weight * share, groups))
    return Mix("synthetic enterprise mix", tuple(modalities),
               "; ".join(f"{k}: {v}" for k, v in DEFAULT_SOURCES.items()))


def load(path: Path) -> Mix:
    """A YAML (or JSON) mix::

        name: St Elsewhere imaging 2025          # optional
        modalities:
          CT:
            share: 0.17                          # share of studies, > 0
            specialty: radiology                 # optional: default from the modality
            objects:
              - {count: 1240, bytes: 512KiB}
              - {count: 1, bytes: 50KB}
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the mix ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from exc
    return parse(data, str(path))


def parse(data: Any, origin: str) -> Mix:
    def fail(field: str, message: str) -> UsageError:
        return UsageError(f"{origin}: {field}: {message}")

    if not isinstance(data, Mapping):
        raise fail("mix", "expected a mapping with 'modalities'")
    unknown = set(data) - {"name", "modalities"}
    if unknown:
        raise fail(sorted(unknown)[0], "unknown key (known: name, modalities)")
    raw = data.get("modalities")
    if not isinstance(raw, Mapping) or not raw:
        raise fail("modalities", "expected a mapping of modality -> {share, objects}")
    modalities = []
    for name, spec in raw.items():
        at = f"modalities.{name}"
        if not isinstance(spec, Mapping):
            raise fail(at, "expected a mapping with share and objects")
        extra = set(spec) - {"share", "specialty", "objects"}
        if extra:
            raise fail(f"{at}.{sorted(extra)[0]}", "unknown key (known: share, specialty, objects)")
        share = spec.get("share")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not share > 0:
            raise fail(f"{at}.share", f"expected a number > 0, got {share!r}")
        if "specialty" in spec:
            try:
                specialty = Specialty(str(spec["specialty"]).lower())
            except ValueError:
                raise fail(f"{at}.specialty", f"{spec['specialty']!r} is not one of: "
                           f"{', '.join(s.value for s in Specialty)}") from None
        else:
            specialty = specialty_for(str(name))
        groups_raw = spec.get("objects")
        if not isinstance(groups_raw, list) or not groups_raw:
            raise fail(f"{at}.objects", "expected a list of {count, bytes}")
        groups = []
        for i, g in enumerate(groups_raw):
            gat = f"{at}.objects[{i}]"
            if not isinstance(g, Mapping) or set(g) != {"count", "bytes"}:
                raise fail(gat, "expected exactly {count: N, bytes: SIZE}")
            count = g["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise fail(f"{gat}.count", f"expected a whole number >= 1, got {count!r}")
            size = parse_size(g["bytes"], f"{origin}: {gat}.bytes")
            if size < 1:
                raise fail(f"{gat}.bytes", "an object holds at least one byte")
            groups.append(ObjectGroup(count, size))
        modalities.append(Modality(str(name), specialty, float(share), tuple(groups)))
    name = data.get("name") or Path(origin).stem
    return Mix(str(name), tuple(modalities), origin)
