"""What two ``drkit run`` journals say differently, leaving out what differs by construction.

    python -m bench.journal_diff BEFORE/journal.json AFTER/journal.json

Used to check that a speed-up changed no check, finding or figure: same scenarios, same
statuses, same findings, same ladder verdicts and counts, same measurements. Left out, because
they differ between any two runs of the same code and seed: run ids, event hashes, times
and the endpoint's port (``IGNORED``). Everything else that differs is printed, one line per
JSON path; the exit code is 0 when nothing is left, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

IGNORED = re.compile(r"/(hash|prev|time|start|end|at|run_id|endpoint)$")


def differences(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(JSON path, before, after) for every leaf that differs, lists compared by position."""
    if type(before) is not type(after):
        return [(path, before, after)]
    if isinstance(before, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}/{key}"
            if key not in before or key not in after:
                out.append((sub, before.get(key, "<absent>"), after.get(key, "<absent>")))
            else:
                out.extend(differences(before[key], after[key], sub))
        return out
    if isinstance(before, list):
        out = [(f"{path}/<length>", len(before), len(after))] if len(before) != len(after) else []
        for index, (x, y) in enumerate(zip(before, after)):
            out.extend(differences(x, y, f"{path}[{index}]"))
        return out
    return [] if before == after else [(path, before, after)]


def meaningful(diffs: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    return [d for d in diffs if not IGNORED.search(d[0])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    try:
        before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
    except (OSError, ValueError) as exc:
        print(f"journal_diff: {exc}", file=sys.stderr)
        return 2
    left = meaningful(differences(before, after))
    for path, x, y in left:
        print(f"{path}: {str(x)[:120]} -> {str(y)[:120]}")
    print(f"{len(left)} difference(s) beyond run ids, hashes, times and the endpoint", file=sys.stderr)
    return 0 if not left else 1


if __name__ == "__main__":
    sys.exit(main())
