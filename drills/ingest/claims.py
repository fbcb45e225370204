"""The claims table's completeness marker: may ingest trust the claims table?

A stack upgraded to a version with a claims table starts with an empty one, and an index
restored into new tables likewise: UIDs archived before are not claimed, so a claim check
alone would accept a reused UID. The marker (drills.contracts CLAIMS_COMPLETE_MARKER, an
item whose key cannot be a SOP Instance UID) says every index item's UID is claimed.
``claims_mode`` decides once (per Ingestor, per Lambda cold start):

- marker present → the claims path (the group commit settles UIDs; no GSI Query);
- marker absent, index and claims table both empty (Scan Limit=1 each) → a new stack: the
  marker is written (conditional Put, ``attribute_not_exists``: of two ingesters starting
  at once one writes it, the other finds it) and the claims path is used;
- otherwise → the GSI path for the check, one warning naming ``drkit claims backfill``. The
  group commit still *writes* claims in its transaction (drills.ingest.index), so a backfill
  running beside ingest misses no UID ingest archives meanwhile.

A denied or failing look-up falls back to the GSI path (correct, only slower) with a warning.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Mapping

from drills.contracts import (CLAIMS_COMPLETE_MARKER, CLAIMS_MARKER_WRITTEN_AT, CLAIMS_MARKER_WRITTEN_BY,
                              CLAIMS_PARTITION_KEY)
from drills.errors import InfraError
from drills.ingest.failures import AWS_ERRORS, error_code, infra_error
from drills.times import utc_timestamp

log = logging.getLogger(__name__)

BACKFILL_COMMAND = "drkit claims backfill --outputs FILE"
MARKER_KEY = {CLAIMS_PARTITION_KEY: {"S": CLAIMS_COMPLETE_MARKER}}


def is_marker(raw: Mapping[str, Any]) -> bool:
    """Is this raw (low-level) claims item the completeness marker rather than a claim?"""
    value = raw.get(CLAIMS_PARTITION_KEY)
    return (value.get("S") if isinstance(value, Mapping) else value) == CLAIMS_COMPLETE_MARKER


def marker_present(ddb: Any, claims_table: str) -> bool:
    """Does the claims table hold the completeness marker (consistent GetItem)?"""
    try:
        response = ddb.get_item(TableName=claims_table, Key=MARKER_KEY, ConsistentRead=True)
    except AWS_ERRORS as exc:
        raise infra_error(exc, f"read the completeness marker of {claims_table}") from exc
    return "Item" in response


def table_empty(ddb: Any, table: str) -> bool:
    """Is ``table`` empty? One consistent Scan with Limit=1 (reads at most one item)."""
    try:
        page = ddb.scan(TableName=table, Limit=1, ConsistentRead=True)
    except AWS_ERRORS as exc:
        raise infra_error(exc, f"look into {table}") from exc
    return not page.get("Items") and not page.get("LastEvaluatedKey")


def write_marker(ddb: Any, claims_table: str, written_by: str, now: datetime) -> bool:
    """Write the marker unless it exists (conditional Put); True if this call wrote it."""
    try:
        ddb.put_item(TableName=claims_table,
                     Item={**MARKER_KEY, CLAIMS_MARKER_WRITTEN_AT: {"S": utc_timestamp(now)},
                           CLAIMS_MARKER_WRITTEN_BY: {"S": written_by}},
                     ConditionExpression="attribute_not_exists(#u)",
                     ExpressionAttributeNames={"#u": CLAIMS_PARTITION_KEY})
    except AWS_ERRORS as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise infra_error(exc, f"write the completeness marker of {claims_table}") from exc
    return True


def claims_mode(ddb: Any, index_table: str, claims_table: str, now: datetime) -> bool:
    """True: the claims table is complete (or was just marked so, the stack being new) and
    ingest may rely on it; False: check UIDs through the index's GSI (module docstring)."""
    try:
        if marker_present(ddb, claims_table):
            return True
        if table_empty(ddb, index_table) and table_empty(ddb, claims_table):
            if write_marker(ddb, claims_table, "ingest: empty index", now):
                log.info("claims table %s: marked complete (new stack, empty index)", claims_table)
            return True
    except InfraError as exc:
        log.warning("claims table %s: cannot tell whether it is complete (%s); SOP Instance UIDs are checked "
                    "through the index's GSI", claims_table, exc)
        return False
    log.warning("claims table %s has no completeness marker while the index %s holds items (a stack upgraded "
                "from a version without claims, or a restored index): SOP Instance UIDs are checked through the "
                "index's GSI until `%s` fills the claims", claims_table, index_table, BACKFILL_COMMAND)
    return False
