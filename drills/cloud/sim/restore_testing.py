"""AWS Backup restore testing, run in virtual time (moto has no restore-testing API).

Following the AWS Backup developer guide ("Restore testing", "Restore testing validation",
"Restore testing inferred metadata") and API reference:

- Plans and selections: Create / Get / List / Update / Delete RestoreTestingPlan and
  RestoreTestingSelection. Names are 1-50 letters, digits or underscores
  (``AlreadyExistsException`` on a duplicate); a plan with selections cannot be deleted
  (``InvalidRequestException``). ``ScheduleExpression`` is an AWS cron expression in
  ``ScheduleExpressionTimezone`` (default UTC); ``StartWindowHours`` 1-168 (default 24);
  ``SelectionWindowDays`` 1-365 (default 30); ``ValidationWindowHours`` 0-168 (default 24).
- At every scheduled time (virtual clock) each selection of the plan picks, for each
  protected resource (``ProtectedResourceArns``; ``*`` = one resource of the type, drawn
  with the simulation's seed), a recovery point of that resource created within
  ``SelectionWindowDays`` in the plan's ``IncludeVaults`` (ARNs or ``*``) minus
  ``ExcludeVaults`` and of an allowed ``RecoveryPointTypes`` (SNAPSHOT; continuous
  backups are not simulated): the latest (``LATEST_WITHIN_WINDOW``) or a seeded random one
  (``RANDOM_WITHIN_WINDOW``). It starts a restore job at once (inside the start window)
  with inferred metadata — a new bucket / table named ``awsbackup-restore-test-…`` —
  overridden by ``RestoreMetadataOverrides``. The job reports ``CreatedBy.RestoreTestingPlanArn``
  (``ListRestoreJobs(ByRestoreTestingPlanArn=…)`` finds it). A resource without a
  recovery point in the window gets no job (reported in ``status()["skipped"]``).
- ``PutRestoreValidationResult`` (SUCCESSFUL / FAILED / TIMED_OUT / VALIDATING) on a
  completed restore-testing job sets ``ValidationStatus`` / ``ValidationStatusMessage``;
  other jobs are refused (``InvalidRequestException``).
- The restored resource is deleted ``ValidationWindowHours`` after the job completed
  (``DeletionStatus`` DELETING -> SUCCESSFUL, or FAILED with its reason).

Not emulated: EventBridge "Restore Job State Change" events (a validation Lambda cannot
run here; drills call PutRestoreValidationResult themselves), resource types other than
S3 and DynamoDB, ``ProtectedResourceConditions``. Control action ``run`` {plan} runs a
plan now (simulation only; AWS has no such API). Every time is virtual.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error
from drills import aws_cron
from drills.cloud.sim.backup_model import conform, new_id, paginate

_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_TYPES = ("S3", "DynamoDB")
_ALGORITHMS = ("LATEST_WITHIN_WINDOW", "RANDOM_WITHIN_WINDOW")
_VALIDATION = ("FAILED", "SUCCESSFUL", "TIMED_OUT", "VALIDATING")


@dataclass
class _Selection:
    name: str
    resource_type: str
    role: str
    arns: list[str]
    overrides: dict[str, str]
    validation_hours: int
    created: datetime
    creator: str | None = None

    def document(self, plan: str) -> dict[str, Any]:
        return {"RestoreTestingSelectionName": self.name, "RestoreTestingPlanName": plan,
                "ProtectedResourceType": self.resource_type, "IamRoleArn": self.role,
                "ProtectedResourceArns": self.arns, "RestoreMetadataOverrides": self.overrides or None,
                "ValidationWindowHours": self.validation_hours, "CreationTime": self.created,
                "CreatorRequestId": self.creator}


@dataclass
class _Plan:
    name: str
    arn: str
    region: str
    spec: dict[str, Any]
    created: datetime
    creator: str | None = None
    updated: datetime | None = None
    last_run: datetime | None = None
    selections: dict[str, _Selection] = field(default_factory=dict)
    task: ScheduledTask | None = None

    def document(self) -> dict[str, Any]:
        return {"RestoreTestingPlanName": self.name, "RestoreTestingPlanArn": self.arn, **self.spec,
                "CreationTime": self.created, "CreatorRequestId": self.creator,
                "LastUpdateTime": self.updated, "LastExecutionTime": self.last_run}


class RestoreTesting(Interceptor):
    """Restore testing plans and selections, run on their schedule in virtual time."""

    name = "restore_testing"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        self._rng = random.Random(f"{sim.settings.seed}:restore-testing")
        self._handlers = {
            "CreateRestoreTestingPlan": self._create_plan, "GetRestoreTestingPlan": self._get_plan,
            "ListRestoreTestingPlans": self._list_plans, "UpdateRestoreTestingPlan": self._update_plan,
            "DeleteRestoreTestingPlan": self._delete_plan,
            "CreateRestoreTestingSelection": self._create_selection,
            "GetRestoreTestingSelection": self._get_selection, "ListRestoreTestingSelections": self._list_selections,
            "DeleteRestoreTestingSelection": self._delete_selection,
            "PutRestoreValidationResult": self._put_validation,
        }
        self._init_state()

    def _init_state(self) -> None:
        self._plans: dict[tuple[str, str], _Plan] = {}
        self.runs: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self._lock:
            for plan in self._plans.values():
                if plan.task is not None:
                    plan.task.cancel()
            self._init_state()

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "backup":
            return None
        handler = self._handlers.get(req.operation or "")
        if handler is None:
            return None
        try:
            return handler(req)
        except ValueError as exc:
            return aws_error(req, 400, "InvalidParameterValueException", str(exc))

    # ------------------------------------------------------------------ plans
    def _create_plan(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        spec = body.get("RestoreTestingPlan") or {}
        name = spec.get("RestoreTestingPlanName") or ""
        if not _NAME.match(name):
            raise ValueError("RestoreTestingPlanName must be 1-50 letters, digits or underscores")
        clean = _plan_spec(spec)
        region = req.region or ""
        now = self.sim.clock.now()
        with self._lock:
            if (region, name) in self._plans:
                return aws_error(req, 400, "AlreadyExistsException", f"Restore testing plan {name} already exists")
            arn = f"arn:aws:backup:{region}:{self.sim.account_id}:restore-testing-plan:{name}-{new_id()[:6].lower()}"
            plan = _Plan(name, arn, region, clean, now, body.get("CreatorRequestId"))
            self._plans[(region, name)] = plan
            self._schedule(plan)
        return self._ok("CreateRestoreTestingPlan", {"CreationTime": now, "RestoreTestingPlanArn": arn,
                                                     "RestoreTestingPlanName": name}, 201)

    def _plan(self, req: AwsRequest) -> _Plan | AwsResponse:
        name = req.params.get("RestoreTestingPlanName", "")
        with self._lock:
            plan = self._plans.get((req.region or "", name))
        if plan is None:
            return aws_error(req, 404, "ResourceNotFoundException", f"Restore testing plan {name} not found")
        return plan

    def _get_plan(self, req: AwsRequest) -> AwsResponse:
        plan = self._plan(req)
        if isinstance(plan, AwsResponse):
            return plan
        return self._ok("GetRestoreTestingPlan", {"RestoreTestingPlan": plan.document()})

    def _list_plans(self, req: AwsRequest) -> AwsResponse:
        with self._lock:
            plans = sorted((p for p in self._plans.values() if p.region == req.region), key=lambda p: p.created)
        q = {k: v[0] for k, v in req.query.items() if v}
        page, token = paginate(plans, q.get("MaxResults"), q.get("NextToken"))
        return self._ok("ListRestoreTestingPlans", {"RestoreTestingPlans": [p.document() for p in page],
                                                    "NextToken": token})

    def _update_plan(self, req: AwsRequest) -> AwsResponse:
        plan = self._plan(req)
        if isinstance(plan, AwsResponse):
            return plan
        update = req.json().get("RestoreTestingPlan") or {}
        merged = dict(plan.spec)
        for key in ("ScheduleExpression", "ScheduleExpressionTimezone", "StartWindowHours"):
            if key in update:
                merged[key] = update[key]
        if "RecoveryPointSelection" in update:
            merged["RecoveryPointSelection"] = {**merged["RecoveryPointSelection"], **update["RecoveryPointSelection"]}
        clean = _plan_spec(merged)
        now = self.sim.clock.now()
        with self._lock:
            plan.spec, plan.updated = clean, now
            self._schedule(plan)
        return self._ok("UpdateRestoreTestingPlan", {"CreationTime": plan.created, "RestoreTestingPlanArn": plan.arn,
                                                     "RestoreTestingPlanName": plan.name, "UpdateTime": now})

    def _delete_plan(self, req: AwsRequest) -> AwsResponse:
        plan = self._plan(req)
        if isinstance(plan, AwsResponse):
            return plan
        with self._lock:
            if plan.selections:
                return aws_error(req, 400, "InvalidRequestException",
                                 f"Restore testing plan {plan.name} has selections; delete them first")
            if plan.task is not None:
                plan.task.cancel()
            self._plans.pop((plan.region, plan.name), None)
        return AwsResponse(204, Headers({"x-amzn-RequestId": new_id()}))

    # ------------------------------------------------------------------ selections
    def _create_selection(self, req: AwsRequest) -> AwsResponse:
        plan = self._plan(req)
        if isinstance(plan, AwsResponse):
            return plan
        body = req.json()
        spec = body.get("RestoreTestingSelection") or {}
        name = spec.get("RestoreTestingSelectionName") or ""
        if not _NAME.match(name):
            raise ValueError("RestoreTestingSelectionName must be 1-50 letters, digits or underscores")
        kind = spec.get("ProtectedResourceType")
        if kind not in _TYPES:
            raise ValueError(f"ProtectedResourceType {kind!r}: only {', '.join(_TYPES)} are emulated")
        if not spec.get("IamRoleArn"):
            raise ValueError("IamRoleArn is required")
        arns = spec.get("ProtectedResourceArns") or []
        if spec.get("ProtectedResourceConditions"):
            raise ValueError("ProtectedResourceConditions are not emulated; list ProtectedResourceArns")
        if not arns or not all(isinstance(a, str) for a in arns):
            raise ValueError("ProtectedResourceArns must list resource ARNs (or '*')")
        hours = _bounded(spec.get("ValidationWindowHours"), 24, 0, 168, "ValidationWindowHours")
        now = self.sim.clock.now()
        with self._lock:
            if name in plan.selections:
                return aws_error(req, 400, "AlreadyExistsException", f"Restore testing selection {name} already exists")
            plan.selections[name] = _Selection(name, kind, spec["IamRoleArn"], list(arns),
                                               {str(k): str(v) for k, v in (spec.get("RestoreMetadataOverrides")
                                                                            or {}).items()},
                                               hours, now, body.get("CreatorRequestId"))
        return self._ok("CreateRestoreTestingSelection", {
            "CreationTime": now, "RestoreTestingPlanArn": plan.arn, "RestoreTestingPlanName": plan.name,
            "RestoreTestingSelectionName": name}, 201)

    def _selection(self, req: AwsRequest) -> tuple[_Plan, _Selection] | AwsResponse:
        plan = self._plan(req)
        if isinstance(plan, AwsResponse):
            return plan
        name = req.params.get("RestoreTestingSelectionName", "")
        selection = plan.selections.get(name)
        if selection is None:
            return aws_error(req, 404, "ResourceNotFoundException", f"Restore testing selection {name} not found")
        return plan, selection

    def _get_selection(self, req: AwsRequest) -> AwsResponse:
        found = self._selection(req)
        if isinstance(found, AwsResponse):
            return found
        plan, selection = found
        return self._ok("GetRestoreTestingSelection", {"RestoreTestingSelection": selection.document(plan.name)})

    def _list_selections(self, req: AwsRequest) -> AwsResponse:
        plan = self._plan(req)
        if isinstance(plan, AwsResponse):
            return plan
        selections = sorted(plan.selections.values(), key=lambda s: s.created)
        return self._ok("ListRestoreTestingSelections",
                        {"RestoreTestingSelections": [s.document(plan.name) for s in selections]})

    def _delete_selection(self, req: AwsRequest) -> AwsResponse:
        found = self._selection(req)
        if isinstance(found, AwsResponse):
            return found
        plan, selection = found
        with self._lock:
            plan.selections.pop(selection.name, None)
        return AwsResponse(204, Headers({"x-amzn-RequestId": new_id()}))

    # ------------------------------------------------------------------ validation
    def _put_validation(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        status = body.get("ValidationStatus")
        if status not in _VALIDATION:
            raise ValueError(f"ValidationStatus must be one of {', '.join(_VALIDATION)}")
        job = self._backup().restore_job(req.params.get("restoreJobId", ""))
        if job is None or job.region != req.region:
            return aws_error(req, 404, "ResourceNotFoundException", "Restore job not found")
        if not (job.fields.get("CreatedBy") or {}).get("RestoreTestingPlanArn"):
            return aws_error(req, 400, "InvalidRequestException",
                             "Validation results can only be put for restore jobs started by restore testing")
        if job.state != "COMPLETED":
            return aws_error(req, 400, "InvalidRequestException", f"Restore job is {job.state}, not COMPLETED")
        job.fields["ValidationStatus"] = status
        job.fields["ValidationStatusMessage"] = body.get("ValidationStatusMessage")
        return AwsResponse(204, Headers({"x-amzn-RequestId": new_id()}))

    # ------------------------------------------------------------------ running
    def _schedule(self, plan: _Plan) -> None:
        if plan.task is not None:
            plan.task.cancel()
        cron = aws_cron.parse(plan.spec["ScheduleExpression"], plan.spec.get("ScheduleExpressionTimezone"))
        due = cron.next_after(self.sim.clock.now())
        plan.task = None if due is None else self.sim.clock.schedule_at(
            due, lambda: self._scheduled(plan), f"restore testing plan {plan.name}")

    def _scheduled(self, plan: _Plan) -> None:
        with self._lock:
            if self._plans.get((plan.region, plan.name)) is not plan:
                return
        self.run(plan)
        with self._lock:
            self._schedule(plan)

    def run(self, plan: _Plan) -> list[str]:
        """Run every selection of ``plan`` now; return the restore job ids started."""
        now = self.sim.clock.now()
        backup = self._backup()
        started = []
        with self._lock:
            plan.last_run = now
            selections = list(plan.selections.values())
        for selection in selections:
            for resource in self._resources(plan, selection, backup):
                point = self._pick(plan, resource, backup, now)
                if point is None:
                    self.skipped.append({"plan": plan.name, "selection": selection.name, "resourceArn": resource,
                                         "at": now.isoformat(), "reason": "no recovery point within the window"})
                    continue
                metadata = {**self._inferred(selection.resource_type), **selection.overrides}
                try:
                    job = backup.start_restore(plan.region, point.arn, metadata, selection.role,
                                               on_done=lambda j, s=selection: self._completed(j, s),
                                               CreatedBy={"RestoreTestingPlanArn": plan.arn})
                except (LookupError, ValueError) as exc:
                    self.skipped.append({"plan": plan.name, "selection": selection.name, "resourceArn": resource,
                                         "at": now.isoformat(), "reason": str(exc)})
                    continue
                started.append(job.job_id)
        self.runs.append({"plan": plan.name, "at": now.isoformat(), "restoreJobs": started, "label": SIMULATED})
        return started

    def _resources(self, plan: _Plan, selection: _Selection, backup: Any) -> list[str]:
        if selection.arns != ["*"]:
            return list(selection.arns)
        candidates = sorted({p.resource_arn for p in backup.recovery_points()
                             if p.region == plan.region and p.resource_type == selection.resource_type})
        return [self._rng.choice(candidates)] if candidates else []

    def _pick(self, plan: _Plan, resource: str, backup: Any, now: datetime) -> Any | None:
        choice = plan.spec["RecoveryPointSelection"]
        if "SNAPSHOT" not in choice["RecoveryPointTypes"]:
            return None                                    # continuous backups are not simulated
        include, exclude = choice["IncludeVaults"], choice.get("ExcludeVaults") or []
        oldest = now - timedelta(days=choice["SelectionWindowDays"])
        points = sorted((p for p in backup.recovery_points()
                         if p.region == plan.region and p.resource_arn == resource and p.created >= oldest
                         and ("*" in include or p.vault_arn in include) and p.vault_arn not in exclude),
                        key=lambda p: p.created)
        if not points:
            return None
        return points[-1] if choice["Algorithm"] == "LATEST_WITHIN_WINDOW" else self._rng.choice(points)

    def _inferred(self, resource_type: str) -> dict[str, str]:
        suffix = new_id().replace("-", "")[:12].lower()
        if resource_type == "S3":
            return {"DestinationBucketName": f"awsbackup-restore-test-{suffix}", "NewBucket": "true"}
        return {"targetTableName": f"awsbackup-restore-test-{suffix}"}

    def _completed(self, job: Any, selection: _Selection) -> None:
        if job.state != "COMPLETED" or not job.fields.get("CreatedResourceArn"):
            return
        delete_at = (job.completed or self.sim.clock.now()) + timedelta(hours=selection.validation_hours)
        job.tasks.append(self.sim.clock.schedule_at(delete_at, lambda: self._delete(job),
                                                    "restore testing: delete the restored resource"))

    def _delete(self, job: Any) -> None:
        job.fields["DeletionStatus"] = "DELETING"
        failure = self._backup().delete_restored(job)
        job.fields["DeletionStatus"] = "FAILED" if failure else "SUCCESSFUL"
        job.fields["DeletionStatusMessage"] = failure

    # ------------------------------------------------------------------ helpers
    def _backup(self) -> Any:
        return self.sim["backup"]

    @staticmethod
    def _ok(operation: str, document: dict[str, Any], status: int = 200) -> AwsResponse:
        return AwsResponse.json_body(conform(operation, document), status=status)

    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "run":
            name, region = params.get("plan"), params.get("region")
            with self._lock:
                plans = [p for p in self._plans.values() if p.name == name and region in (None, p.region)]
            if not plans:
                raise ValueError(f"no restore testing plan named {name!r}")
            return {"restoreJobs": self.run(plans[0]), "label": SIMULATED}
        raise KeyError(action)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"plans": {f"{p.region}/{p.name}": {
                        "selections": sorted(p.selections), "lastRun": p.last_run.isoformat() if p.last_run else None,
                        "nextRun": p.task.due.isoformat() if p.task is not None else None}
                        for p in self._plans.values()},
                    "runs": list(self.runs[-20:]), "skipped": list(self.skipped[-20:]), "label": SIMULATED}


def _bounded(value: Any, default: int, low: int, high: int, name: str) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return value


def _plan_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A plan's settings, validated, with AWS's defaults filled in."""
    schedule = spec.get("ScheduleExpression")
    aws_cron.parse(schedule or "", spec.get("ScheduleExpressionTimezone"))
    choice = spec.get("RecoveryPointSelection")
    if not isinstance(choice, dict):
        raise ValueError("RecoveryPointSelection is required")
    if choice.get("Algorithm") not in _ALGORITHMS:
        raise ValueError(f"RecoveryPointSelection.Algorithm must be one of {', '.join(_ALGORITHMS)}")
    include = choice.get("IncludeVaults") or []
    types = choice.get("RecoveryPointTypes") or []
    if not include or not types or any(t not in ("CONTINUOUS", "SNAPSHOT") for t in types):
        raise ValueError("RecoveryPointSelection needs IncludeVaults and RecoveryPointTypes (CONTINUOUS, SNAPSHOT)")
    return {"ScheduleExpression": schedule,
            "ScheduleExpressionTimezone": spec.get("ScheduleExpressionTimezone") or "Etc/UTC",
            "StartWindowHours": _bounded(spec.get("StartWindowHours"), 24, 1, 168, "StartWindowHours"),
            "RecoveryPointSelection": {
                "Algorithm": choice["Algorithm"], "IncludeVaults": list(include),
                "ExcludeVaults": list(choice.get("ExcludeVaults") or []), "RecoveryPointTypes": list(types),
                "SelectionWindowDays": _bounded(choice.get("SelectionWindowDays"), 30, 1, 365, "SelectionWindowDays")}}
