"""The content rules of the pack, in the order it reports them: identities and keys
(``iam_rules``), where PHI lives (``data_rules``), being told and able to recover (``ops_rules``).
Shared types and the rule factory are in ``content``; documents are parsed by ``documents``."""

from __future__ import annotations

if __package__:
    from . import data_rules, iam_rules, ops_rules
    from .content import PRODUCTION_ONLY
else:  # run by the Pulumi language host as `python policies/`
    import data_rules
    import iam_rules
    import ops_rules
    from content import PRODUCTION_ONLY

POLICIES = [*iam_rules.POLICIES, *data_rules.POLICIES, *ops_rules.POLICIES]

__all__ = ["POLICIES", "PRODUCTION_ONLY"]
