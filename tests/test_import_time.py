"""No work at import time: importing drkit's modules builds no data, sets no logging level and
makes no client (STYLE.md: "Resources or clients created at import time" are to be avoided)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers.paths import REPO_ROOT

PROBE = """
import json, logging
import drills.synth.dataset as synth
import drills.cloud.server, drills.cloud.middleware, drills.aws, drills.ingest.gateway
print(json.dumps({"icc": synth.srgb_icc_profile.cache_info().currsize,
                  "werkzeug": logging.getLogger("werkzeug").level,
                  "loader": drills.aws._loader.cache_info().currsize}))
"""


@pytest.mark.slow            # a fresh interpreter importing most of drkit: seconds
def test_importing_builds_nothing() -> None:
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"icc": 0, "werkzeug": 0, "loader": 0}
