"""Serve the drkit-imaging policy pack to the Pulumi engine.

The Pulumi language host runs this folder as ``python policies/``; ``PolicyPack`` then
starts a gRPC server and blocks, so it is built only when run as a program.
"""

from __future__ import annotations

from pulumi_policy import PolicyPack

if __package__:
    from .rules import ENFORCEMENT_LEVEL, PACK_NAME, POLICIES
else:
    from rules import ENFORCEMENT_LEVEL, PACK_NAME, POLICIES


def main() -> None:
    PolicyPack(name=PACK_NAME, enforcement_level=ENFORCEMENT_LEVEL, policies=POLICIES,
               description="Guardrails for drkit's two-region, immutable medical-imaging archive")


if __name__ == "__main__":
    main()
