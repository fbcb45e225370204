"""How the ransomware drill counts an attempt: every call, its outcome and the AWS error code
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from drills.actions.ransomware import _Tally


def _refuse(code: str):
    def call() -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "DeleteObject")
    return call


def test_every_call_is_counted_and_mixed_results_are_partial() -> None:
    tally = _Tally()
    tally.call("delete-versions", "bucket", _refuse("AccessDenied"))
    tally.call("delete-versions", "bucket", _refuse("AccessDenied"))
    tally.call("overwrite", "bucket", lambda: None)
    tally.call("delete-vaults", "v1", lambda: None)
    tally.call("delete-vaults", "v2", _refuse("InvalidRequestException"))
    assert tally.outcome("delete-versions") == ("denied", "AccessDenied", 2)
    assert tally.outcome("overwrite") == ("succeeded", None, 1)
    assert tally.outcome("delete-vaults") == ("partial", "InvalidRequestException", 2)
    assert tally.outcome("drop-index") == ("not_attempted", None, 0)
    assert tally.resources["delete-vaults"] == {"v1"}          # only what the attacker reached
