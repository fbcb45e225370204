"""Keep the garbage collector off the long-lived heap of a run.

``drkit run`` builds a large heap that lives until the process ends (moto's backends and
the deployed resources, the Pulumi program, the data set's manifest): every full collection
walked all of it again — 13 full collections cost ~4.5 s of CPU per run (measured with
``gc.callbacks``, bench.run_e2e). ``gc.freeze()`` moves what is alive now into the permanent
generation, out of the collector's walks; nothing else changes (frozen objects are still
freed by reference counting). At the end of the block everything frozen returns to the
oldest generation (``gc.unfreeze()``), so in-process callers (tests) do not keep cyclic
garbage for the rest of the process.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Callable, Iterator


@contextlib.contextmanager
def long_lived() -> Iterator[Callable[[], None]]:
    """Yield ``spare``: call it after building what lives until the block ends."""
    try:
        gc.freeze()
        yield gc.freeze
    finally:
        gc.unfreeze()
