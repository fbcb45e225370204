"""AWS cron expressions: the one parser lives in ``drills.aws_cron`` (drills read plan schedules
with it too); the simulation's restore-testing behaviour imports it from here."""

from drills.aws_cron import Cron, parse

__all__ = ["Cron", "parse"]
