"""AWS cron expressions (drills.aws_cron): the schedule format of AWS Backup plans and
restore-testing plans (AWS Backup developer guide, "Cron expressions")."""

from __future__ import annotations

from datetime import datetime, timezone

from drills import aws_cron

WEEKLY = "cron(0 6 ? * 1 *)"          # Sundays 06:00 UTC, as the stack declares


def test_aws_cron_next_occurrence():
    sunday_six = aws_cron.parse(WEEKLY)
    start = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)            # a Monday
    assert sunday_six.next_after(start) == datetime(2026, 12, 6, 6, 0, tzinfo=timezone.utc)
    every_15 = aws_cron.parse("cron(0/15 * * * ? *)")
    assert every_15.next_after(start) == datetime(2026, 11, 30, 12, 15, tzinfo=timezone.utc)
    weekdays = aws_cron.parse("cron(30 9 ? * MON-FRI *)", "America/New_York")
    assert weekdays.next_after(start) == datetime(2026, 11, 30, 14, 30, tzinfo=timezone.utc)
