"""drkit Pulumi program: read the ``drkit:`` config once, build the platform, export its outputs.

Deploy with ``pulumi up`` (see docs/stack-reference.md); tests and ``drkit up`` run it under mocks.
"""

import pulumi

from components.config import load
from components.outputs import export_outputs, stack_outputs
from components.platform import ImagingPlatform, ImagingPlatformArgs

config = load()
platform = ImagingPlatform(f"drkit-{pulumi.get_stack().lower()}", ImagingPlatformArgs(config=config))
export_outputs(stack_outputs(platform, config))
