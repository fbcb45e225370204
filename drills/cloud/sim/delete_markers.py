"""Deleting a delete marker answers as S3 does (moto leaves the marker flag out).

S3 API reference, DeleteObject: "x-amz-delete-marker — Indicates whether the specified
object version that was permanently deleted was (true) or was not (false) a delete
marker before deletion." DeleteObjects reports the same per entry (``DeleteMarker`` and
``DeleteMarkerVersionId`` in ``Deleted``). So removing a marker by version id answers
``x-amz-delete-marker: true``, and the object's previous version is current again.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from typing import Any

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor
from drills.cloud.sim import replication_copy as copier



class DeleteMarkerResponses(Interceptor):
    name = "delete_markers"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self._pending: dict[int, set[tuple[str, str]]] = {}

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or not req.bucket:
            return None
        if req.operation == "DeleteObject" and req.key and req.version_id:
            targets = [(req.key, req.version_id)]
        elif req.operation == "DeleteObjects":
            targets = _versioned_entries(req.body)
        else:
            return None
        s3 = self.sim.s3_backend()
        markers = {(key, vid) for key, vid in targets
                   if _is_marker(copier.find_version(s3, req.bucket, key, vid))}
        if markers:
            with self._lock:
                self._pending[id(req)] = markers
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        with self._lock:
            markers = self._pending.pop(id(req), None)
        if not markers or not resp.ok:
            return resp
        if req.operation == "DeleteObject":
            resp.headers["x-amz-delete-marker"] = "true"
            return resp
        try:
            root = ET.fromstring(resp.body)
        except ET.ParseError:
            return resp
        prefix = root.tag[:-len("DeleteResult")] if root.tag.endswith("DeleteResult") else ""
        for deleted in root.iter(f"{prefix}Deleted"):
            key, vid = deleted.findtext(f"{prefix}Key"), deleted.findtext(f"{prefix}VersionId")
            if (key, vid) in markers and deleted.find(f"{prefix}DeleteMarker") is None:
                ET.SubElement(deleted, f"{prefix}DeleteMarker").text = "true"
                ET.SubElement(deleted, f"{prefix}DeleteMarkerVersionId").text = vid
        if prefix:
            ET.register_namespace("", prefix.strip("{}"))
        resp.body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return resp


def _is_marker(version: Any) -> bool:
    return version is not None and not hasattr(version, "storage_class")


def _versioned_entries(body: bytes) -> list[tuple[str, str]]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    found = []
    for entry in root.iter():
        if entry.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in entry}
        if fields.get("Key") and fields.get("VersionId"):
            found.append((fields["Key"], fields["VersionId"]))
    return found
