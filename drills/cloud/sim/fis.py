"""AWS FIS for the one action drkit's drill template uses: ``aws:s3:bucket-pause-replication``.

moto has no FIS. This behaviour answers the FIS API (rest-json, signing name ``fis``) so a
drill makes the same boto3 calls as on AWS:

- CreateExperimentTemplate / GetExperimentTemplate / ListExperimentTemplates (the offline
  deploy creates the stack's template through this API);
- StartExperiment / GetExperiment / StopExperiment / ListExperiments.

Semantics (AWS FIS User Guide, "Experiment templates" > targets; "Experiment options";
FIS actions reference, ``aws:s3:bucket-pause-replication``):
- targets of resource type ``aws:s3:bucket`` are resolved when the experiment starts, by
  ``resourceArns`` or ``resourceTags`` (every tag must match), then ``selectionMode``
  ALL | COUNT(n) | PERCENT(n);
- ``experimentOptions.emptyTargetResolutionMode``: ``fail`` (the default) fails the
  experiment when a target resolves to no resource; ``skip`` skips the action;
- the action's parameters: ``duration`` (ISO-8601, PT1M..PT12H), ``region`` (of the
  destination buckets), optional ``destinationBuckets`` and ``prefixes`` (comma-separated).
  It pauses through the replication behaviour; the experiment completes when ``duration``
  has passed on the virtual clock; StopExperiment resumes replication at once.
Not emulated (reported in ``status()``): stop conditions (CloudWatch alarms are not
watched), other action types (an experiment using one fails with that reason), logging,
experiment reports, multi-account targeting.
"""

from __future__ import annotations

import secrets
import threading

from datetime import datetime
from typing import Any

from drills.cloud.clock import SIMULATED
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error

PAUSE_REPLICATION = "aws:s3:bucket-pause-replication"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
NOT_EMULATED = ["stop conditions are not evaluated", "only aws:s3:bucket-pause-replication actions run",
                "logConfiguration and experiment reports", "multi-account targeting"]


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(14))


class FaultInjection(Interceptor):
    """The FIS control plane for experiment templates and experiments."""

    name = "fis"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        self.templates: dict[str, dict[str, Any]] = {}
        self.experiments: dict[str, dict[str, Any]] = {}
        self._regions: dict[str, str] = {}

    # ------------------------------------------------------------------ dispatch
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "fis":
            return None
        handler = {
            "CreateExperimentTemplate": self._create_template, "GetExperimentTemplate": self._get_template,
            "ListExperimentTemplates": self._list_templates, "StartExperiment": self._start,
            "GetExperiment": self._get, "StopExperiment": self._stop, "ListExperiments": self._list,
        }.get(req.operation or "")
        if handler is None:
            return aws_error(req, 400, "ValidationException", f"FIS operation {req.operation} is not emulated")
        try:
            return handler(req)
        except _Refused as exc:
            return aws_error(req, exc.status, exc.code, exc.message)

    # ------------------------------------------------------------------ templates
    def _create_template(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        for name in ("actions", "roleArn", "stopConditions"):
            if name not in body:
                raise _Refused(400, "ValidationException", f"{name} is required")
        for name, action in body["actions"].items():
            for target in (action.get("targets") or {}).values():
                if target not in (body.get("targets") or {}):
                    raise _Refused(400, "ValidationException", f"action {name} names unknown target {target}")
        now = self._epoch()
        template_id = _new_id("EXT")
        template = {
            "id": template_id, "arn": f"arn:aws:fis:{req.region}:{self.sim.account_id}:experiment-template/{template_id}",
            "description": body.get("description", ""), "targets": body.get("targets", {}),
            "actions": body["actions"], "stopConditions": body["stopConditions"], "roleArn": body["roleArn"],
            "tags": body.get("tags", {}), "creationTime": now, "lastUpdateTime": now,
            "experimentOptions": {"accountTargeting": "single-account", "emptyTargetResolutionMode": "fail",
                                  **(body.get("experimentOptions") or {})},
        }
        with self._lock:
            self.templates[template_id] = template
            self._regions[template_id] = req.region or ""
        return AwsResponse.json_body({"experimentTemplate": template})

    def _template(self, template_id: str | None) -> dict[str, Any]:
        with self._lock:
            found = self.templates.get(template_id or "")
        if found is None:
            raise _Refused(404, "ResourceNotFoundException", f"Experiment template {template_id} not found")
        return found

    def _get_template(self, req: AwsRequest) -> AwsResponse:
        return AwsResponse.json_body({"experimentTemplate": self._template(req.params.get("id"))})

    def _list_templates(self, req: AwsRequest) -> AwsResponse:
        with self._lock:
            items = [{k: t[k] for k in ("id", "arn", "description", "creationTime", "lastUpdateTime", "tags")}
                     for tid, t in self.templates.items() if self._regions.get(tid) in (req.region, "")]
        return AwsResponse.json_body({"experimentTemplates": items})

    # ------------------------------------------------------------------ experiments
    def _start(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        template = self._template(body.get("experimentTemplateId"))
        options = dict(template["experimentOptions"])
        now_epoch = self._epoch()
        experiment_id = _new_id("EXP")
        experiment: dict[str, Any] = {
            "id": experiment_id, "arn": f"arn:aws:fis:{req.region}:{self.sim.account_id}:experiment/{experiment_id}",
            "experimentTemplateId": template["id"], "roleArn": template["roleArn"],
            "state": {"status": "running", "reason": "Experiment is running."},
            "targets": {}, "actions": {}, "stopConditions": template["stopConditions"],
            "creationTime": now_epoch, "startTime": now_epoch, "tags": body.get("tags", {}),
            "experimentOptions": options, "targetAccountConfigurationsCount": 0,
        }
        resolved: dict[str, list[str]] = {}
        for name, target in template["targets"].items():
            experiment["targets"][name] = dict(target)
            resolved[name] = self._resolve(target)
        with self._lock:
            self.experiments[experiment_id] = experiment
        empty = [name for name, arns in resolved.items() if not arns]
        if empty and options.get("emptyTargetResolutionMode", "fail") == "fail":
            self._finish(experiment, "failed", f"Target resolution failed: target {empty[0]} resolved to no resources.")
            for name, action in template["actions"].items():
                experiment["actions"][name] = self._action_entry(action, "cancelled", "Experiment failed.")
            return AwsResponse.json_body({"experiment": experiment})
        pending_ends: list[datetime] = []
        for name, action in template["actions"].items():
            entry = self._action_entry(action, "running", "")
            entry["startTime"] = now_epoch
            experiment["actions"][name] = entry
            targets = [arn for t in (action.get("targets") or {}).values() for arn in resolved.get(t, [])]
            if action.get("actionId") != PAUSE_REPLICATION:
                self._end_action(entry, "failed", f"action {action.get('actionId')} is not emulated by drkit")
                continue
            if not targets:
                self._end_action(entry, "skipped", "Action skipped: its targets resolved to no resources.")
                continue
            try:
                until = self._pause(action, targets)
            except ValueError as exc:
                self._end_action(entry, "failed", str(exc))
                continue
            if until is None:
                self._end_action(entry, "skipped", "No replication rule of the target buckets matched.")
                continue
            entry["resolvedTargets"] = len(targets)
            pending_ends.append(until)
            self.sim.clock.schedule_at(until, lambda e=experiment, n=name: self._action_done(e, n),
                                       f"fis experiment {experiment_id} action {name} ends")
        if not pending_ends:
            self._settle(experiment)
        return AwsResponse.json_body({"experiment": experiment})

    def _pause(self, action: dict[str, Any], bucket_arns: list[str]) -> datetime | None:
        params = dict(action.get("parameters") or {})
        if "duration" not in params:
            raise ValueError("parameter duration is required")
        pause: dict[str, Any] = {"buckets": bucket_arns, "duration": params["duration"]}
        if params.get("region"):
            pause["region"] = params["region"]
        for name in ("destinationBuckets", "prefixes"):
            if params.get(name):
                pause[name] = [p.strip() for p in str(params[name]).split(",") if p.strip()]
        result = self.sim["replication"].pause(pause)
        if not result.get("resolvedTargets"):
            return None
        return datetime.fromisoformat(result["until"])

    def _resolve(self, target: dict[str, Any]) -> list[str]:
        if target.get("resourceType") != "aws:s3:bucket":
            return []
        s3 = self.sim.s3_backend()
        buckets = list(s3.buckets.values())
        if target.get("resourceArns"):
            wanted = set(target["resourceArns"])
            chosen = [b.arn for b in buckets if b.arn in wanted]
        else:
            tags = target.get("resourceTags") or {}
            chosen = []
            for bucket in buckets:
                found = {t["Key"]: t["Value"] for t in s3.tagger.list_tags_for_resource(bucket.arn).get("Tags", [])}
                if tags and all(found.get(k) == v for k, v in tags.items()):
                    chosen.append(bucket.arn)
        mode = str(target.get("selectionMode", "ALL"))
        if mode.startswith("COUNT(") and mode.endswith(")"):
            chosen = sorted(chosen)[: int(mode[6:-1])]
        elif mode.startswith("PERCENT(") and mode.endswith(")"):
            chosen = sorted(chosen)[: int(len(chosen) * int(mode[8:-1]) / 100)]
        return sorted(chosen)

    def _get(self, req: AwsRequest) -> AwsResponse:
        return AwsResponse.json_body({"experiment": self._experiment(req.params.get("id"))})

    def _experiment(self, experiment_id: str | None) -> dict[str, Any]:
        with self._lock:
            found = self.experiments.get(experiment_id or "")
        if found is None:
            raise _Refused(404, "ResourceNotFoundException", f"Experiment {experiment_id} not found")
        return found

    def _stop(self, req: AwsRequest) -> AwsResponse:
        experiment = self._experiment(req.params.get("id"))
        with self._lock:
            if experiment["state"]["status"] not in ("running", "initiating", "pending"):
                return AwsResponse.json_body({"experiment": experiment})
            buckets = sorted({arn for t in experiment["targets"] for arn in self._resolve(experiment["targets"][t])})
            for entry in experiment["actions"].values():
                if entry["state"]["status"] == "running":
                    self._end_action(entry, "stopped", "Action stopped by user.")
        if buckets:
            self.sim["replication"].resume({"buckets": buckets})
        self._finish(experiment, "stopped", "Experiment stopped by user.")
        return AwsResponse.json_body({"experiment": experiment})

    def _list(self, req: AwsRequest) -> AwsResponse:
        wanted = (req.query.get("experimentTemplateId") or [None])[0]
        with self._lock:
            items = [{k: e[k] for k in ("id", "arn", "experimentTemplateId", "state", "creationTime", "tags")}
                     for e in self.experiments.values() if wanted in (None, e["experimentTemplateId"])]
        return AwsResponse.json_body({"experiments": items})

    # ------------------------------------------------------------------ state changes
    def _action_done(self, experiment: dict[str, Any], name: str) -> None:
        with self._lock:
            entry = experiment["actions"][name]
            if entry["state"]["status"] == "running":
                self._end_action(entry, "completed", "Action completed.")
        self._settle(experiment)

    def _settle(self, experiment: dict[str, Any]) -> None:
        with self._lock:
            states = {a["state"]["status"] for a in experiment["actions"].values()}
            if "running" in states or experiment["state"]["status"] != "running":
                return
        if "failed" in states:
            self._finish(experiment, "failed", "An action failed.")
        else:
            self._finish(experiment, "completed", "Experiment completed.")

    def _finish(self, experiment: dict[str, Any], status: str, reason: str) -> None:
        with self._lock:
            experiment["state"] = {"status": status, "reason": reason}
            experiment["endTime"] = self._epoch()

    def _end_action(self, entry: dict[str, Any], status: str, reason: str) -> None:
        entry["state"] = {"status": status, "reason": reason}
        entry["endTime"] = self._epoch()

    @staticmethod
    def _action_entry(action: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
        return {"actionId": action.get("actionId"), "description": action.get("description", ""),
                "parameters": action.get("parameters", {}), "targets": action.get("targets", {}),
                "startAfter": action.get("startAfter", []), "state": {"status": status, "reason": reason}}

    def _epoch(self) -> float:
        return self.sim.clock.now().timestamp()

    # ------------------------------------------------------------------ reporting
    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"templates": len(self.templates),
                    "experiments": [{"id": e["id"], "status": e["state"]["status"]} for e in self.experiments.values()],
                    "notEmulated": NOT_EMULATED, "label": SIMULATED}

    def reset(self) -> None:
        with self._lock:
            self.templates.clear()
            self.experiments.clear()
            self._regions.clear()


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message



