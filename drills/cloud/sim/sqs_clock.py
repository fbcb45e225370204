"""SQS message times on the virtual clock.

moto 5.2 times a message's visibility timeout, delay and SentTimestamp /
ApproximateFirstReceiveTimestamp with wall time, so a received message reappears after
the timeout of *real* seconds whatever the virtual clock says. AWS (sqs-visibility-
timeout.html): a received message stays invisible for the visibility timeout and then
becomes visible again; DelaySeconds hides a new message for that long. On the embedded
cloud "that long" is virtual: while the cloud runs, moto's SQS message clock reads the
simulation's clock (``install``). Long polling (WaitTimeSeconds) keeps waiting in real
time — a client really waits for it — and so do queue timestamps and purge limits. A
message whose visibility ends at the current (standing) virtual instant is visible: a
visibility timeout of 0 makes it visible at once, as on AWS.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

_originals: dict[str, Any] = {}


def install(now: Callable[[], datetime]) -> None:
    import moto.sqs.models as sqs_models

    uninstall()

    def unix_time_millis(value: datetime | None = None) -> float:
        return (value or now()).timestamp() * 1000.0

    def visible(self: Any) -> bool:        # moto: strictly after; a standing clock needs "at or after"
        return unix_time_millis() >= self.visible_at

    _originals["unix_time_millis"] = sqs_models.unix_time_millis
    _originals["visible"] = sqs_models.Message.visible
    sqs_models.unix_time_millis = unix_time_millis
    sqs_models.Message.visible = property(visible)


def uninstall() -> None:
    import moto.sqs.models as sqs_models

    if "unix_time_millis" in _originals:
        sqs_models.unix_time_millis = _originals.pop("unix_time_millis")
        sqs_models.Message.visible = _originals.pop("visible")
