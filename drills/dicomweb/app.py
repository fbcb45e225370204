"""The DICOMweb ASGI application (Starlette): routes, content negotiation, status codes.

``create_app(source, auth)`` serves one region's archive (see ``source``). Everything is
behind the bearer-token gate (``gate``). Blocking work (boto3, pydicom) runs in Starlette's
thread pool; WADO-RS bodies stream from S3 chunk by chunk (``retrieve``).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import defaultdict
from typing import Any, Iterable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from drills.contracts import IndexItem
from drills.dicomweb import dicomjson, multipart, query, retrieve, stow
from drills.dicomweb.auth import TokenAuth
from drills.dicomweb.gate import Gate
from drills.dicomweb.source import ArchiveSource
from drills.errors import DrkitError, InfraError
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.reader import quiet_pydicom

DICOM_JSON = "application/dicom+json"
AGENT = "drkit-dicomweb"
MAX_STOW_BYTES = 4 * 1024 ** 3
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
log = logging.getLogger("drkit.dicomweb")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def warning(text: str) -> str:
    """A Warning header value (RFC 7234 §5.5, as PS3.18 §8.6 uses it)."""
    return f'299 {AGENT} "{text.replace(chr(34), chr(39))}"'


def _headers(warnings: Iterable[str], **extra: str) -> list[tuple[str, str]]:
    return [("Warning", warning(w)) for w in warnings] + list(extra.items())


def _response(status: int, body: bytes | None, media: str | None, warnings: Iterable[str] = ()) -> Response:
    resp = Response(body or b"", status_code=status, media_type=media)
    for w in warnings:
        resp.headers.append("Warning", warning(w))
    return resp


def _accept_entries(header: str | None) -> list[tuple[str, dict[str, str]]]:
    if not header or not header.strip():
        return [("*/*", {})]
    entries, current, quoted = [], "", False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            entries.append(current)
            current = ""
        else:
            current += ch
    entries.append(current)
    return [multipart.parse_content_type(e) for e in entries if e.strip()]


def _wants_json(request: Request) -> None:
    for media, _ in _accept_entries(request.headers.get("accept")):
        if media in (DICOM_JSON, "application/json", "*/*", "application/*"):
            return
    raise HttpError(406, f"this resource is available as {DICOM_JSON} only")


def _wants_dicom(request: Request, items: list[IndexItem]) -> None:
    """Accept must allow multipart/related; type="application/dicom" in the stored transfer
    syntaxes (no transcoding)."""
    stored = {i.transfer_syntax_uid for i in items}
    for media, params in _accept_entries(request.headers.get("accept")):
        if media in ("*/*", "multipart/*"):
            return
        if media == "multipart/related" and _type_ok(params, "application/dicom"):
            syntax = params.get("transfer-syntax", "*")
            if syntax == "*" or stored <= {syntax}:
                return
    raise HttpError(406, 'instances are available as multipart/related; type="application/dicom" '
                         f"in their stored transfer syntax ({', '.join(sorted(stored))}); no transcoding")


def _type_ok(params: dict[str, str], offered: str) -> bool:
    """Does a multipart Accept entry's ``type`` parameter admit ``offered`` (absent = yes)?"""
    wanted = params.get("type", offered).lower()
    return wanted in (offered, "*/*", offered.split("/")[0] + "/*")


def _base(request: Request) -> str:
    """The service's own URL for RetrieveURL/BulkDataURI: ``public_url`` when configured,
    else from the Host header — with the listening port when the Host header omits it
    (dicomweb-client sends the host name alone) and the port is not the scheme's default."""
    configured = request.scope.get("drkit_public_url")
    if configured:
        return configured
    url = request.base_url
    server = request.scope.get("server")
    if url.port is None and server and server[1] not in (None, 80, 443):
        url = url.replace(port=server[1])
    return str(url).rstrip("/")


class DicomWeb:
    def __init__(self, source: ArchiveSource) -> None:
        self.source = source
        self._hasher = None
        self._ingestor: Ingestor | None = None

    def hash_patient(self, value: str) -> str:
        if self._hasher is None:
            self._hasher = self.source.pseudonymizer()
        return self._hasher.hash(value)

    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            dest = IngestDestination(self.source.target, self.source.region, self.source.bucket, self.source.table,
                                     claims_table=self.source.claims_table)
            self._ingestor = Ingestor(dest, self.source.pseudonymizer())
        return self._ingestor

    # -- lookups
    def _items(self, study: str | None, q: query.Query | None = None) -> list[IndexItem]:
        studies = {study} if study else (q.uids.get("StudyInstanceUID") if q else None)
        if studies is not None:
            items = [i for s in sorted(studies) for i in self.source.study_items(s)]
        else:
            items = list(self.source.all_items())
        return [i for i in items if q is None or q.matches(i)]

    def _target(self, study: str, series: str | None = None, sop: str | None = None) -> list[IndexItem]:
        items = [i for i in self.source.study_items(study)
                 if (series is None or i.series_instance_uid == series)
                 and (sop is None or i.sop_instance_uid == sop)]
        if not items:
            what = "instance" if sop else "series" if series else "study"
            raise HttpError(404, f"no such {what} in the {self.source.role} region's index")
        return sorted(items, key=lambda i: (i.series_instance_uid, i.sop_instance_uid))

    # -- QIDO-RS
    async def search(self, request: Request) -> Response:
        level = request.scope["endpoint_level"]
        _wants_json(request)
        p = request.path_params
        try:
            q = query.parse(request.query_params.multi_items(), self.hash_patient)
        except query.BadQuery as exc:
            raise HttpError(400, str(exc)) from exc
        for key in ("StudyInstanceUID", "SeriesInstanceUID"):
            path_value = p.get({"StudyInstanceUID": "study", "SeriesInstanceUID": "series"}[key])
            if path_value:
                q.uids[key] = q.uids.get(key, {path_value}) & {path_value}
        items = await run_in_threadpool(self._items, None, q)
        results = _group(items, level, q, _base(request))
        page = results[q.offset:q.offset + q.limit]
        warnings = list(q.warnings)
        if len(results) > q.offset + q.limit:
            warnings.append("There are additional results that can be requested")
        if not page:
            return _response(204, None, None, warnings)
        return _response(200, json.dumps(page).encode(), DICOM_JSON, warnings)

    # -- WADO-RS
    async def retrieve(self, request: Request) -> Response:
        p = request.path_params
        items = await run_in_threadpool(self._target, p["study"], p.get("series"), p.get("sop"))
        _wants_dicom(request, items)
        found = await run_in_threadpool(retrieve.available, self.source, items)
        warnings = found.warnings(self.source.role)
        if not found.ready:
            status = 404 if found.absent and not found.corrupt else 500
            raise HttpError(status, "; ".join(warnings))
        boundary = multipart.new_boundary()
        resp = StreamingResponse(retrieve.stream_instances(self.source, found.ready, boundary, _base(request)),
                                 media_type=multipart.content_type(boundary, "application/dicom"))
        for w in warnings:
            resp.headers.append("Warning", warning(w))
        return resp

    async def metadata(self, request: Request) -> Response:
        _wants_json(request)
        p = request.path_params
        items = await run_in_threadpool(self._target, p["study"], p.get("series"), p.get("sop"))
        documents, warnings = await run_in_threadpool(self._metadata, items, _base(request))
        if not documents:
            raise HttpError(404 if not any("integrity" in w for w in warnings) else 500, "; ".join(warnings))
        return _response(200, json.dumps(documents).encode(), DICOM_JSON, warnings)

    def _metadata(self, items: list[IndexItem], base: str) -> tuple[list[dict], list[str]]:
        found = retrieve.available(self.source, items)
        documents = []
        invalid: set[str] = set()
        for item in found.ready:
            url = (f"{base}/studies/{item.study_instance_uid}/series/{item.series_instance_uid}"
                   f"/instances/{item.sop_instance_uid}/bulkdata/")
            try:
                with retrieve.verified_copy(self.source, item) as copy:
                    document, left_out = dicomjson.instance_metadata(copy, lambda tag: url + tag)
            except retrieve.IntegrityError:
                found.failed_on_read += 1
                continue
            documents.append(document)
            invalid.update(left_out)
        warnings = found.warnings(self.source.role)
        if invalid:
            warnings.append("elements whose stored value is invalid for their VR were left out: "
                            + ", ".join(sorted(invalid)))
        return documents, warnings

    async def bulkdata(self, request: Request) -> Response:
        p = request.path_params
        items = await run_in_threadpool(self._target, p["study"], p["series"], p["sop"])
        tag = p["tag"].upper()
        if len(tag) != 8 or any(c not in "0123456789ABCDEF" for c in tag):
            raise HttpError(400, "bulk data is addressed by one 8-hex-digit tag")
        value = await run_in_threadpool(self._bulk_value, items[0], int(tag, 16))
        for media, params in _accept_entries(request.headers.get("accept")):
            if media in ("*/*", "multipart/*") or (media == "multipart/related"
                                                   and _type_ok(params, "application/octet-stream")):
                break
        else:
            raise HttpError(406, 'bulk data is available as multipart/related; type="application/octet-stream"')
        boundary = multipart.new_boundary()
        body = (multipart.part_head(boundary, "application/octet-stream") + value + multipart.part_tail()
                + multipart.closing(boundary))
        return Response(body, media_type=multipart.content_type(boundary, "application/octet-stream"))

    def _bulk_value(self, item: IndexItem, tag: int) -> bytes:
        import pydicom
        found = retrieve.available(self.source, [item])
        if not found.ready:
            raise HttpError(404 if found.absent else 500, "; ".join(found.warnings(self.source.role)))
        with retrieve.verified_copy(self.source, item) as copy:
            ds = pydicom.dcmread(copy)
            if tag not in ds:
                raise HttpError(404, f"the instance has no element {tag:08X}")
            value = ds[tag].value
        if not isinstance(value, (bytes, bytearray)):
            raise HttpError(404, f"element {tag:08X} holds no bulk data")
        return bytes(value)

    async def frames(self, request: Request) -> Response:
        """Frames of an uncompressed instance, as stored (PS3.18 §9.4.1.1.5 frame list)."""
        p = request.path_params
        try:
            numbers = [int(n) for n in p["frames"].split(",")]
        except ValueError:
            raise HttpError(400, "a frame list is comma-separated frame numbers (1-based)") from None
        if not numbers or min(numbers) < 1:
            raise HttpError(400, "frame numbers start at 1")
        items = await run_in_threadpool(self._target, p["study"], p["series"], p["sop"])
        syntax = items[0].transfer_syntax_uid
        if syntax not in UNCOMPRESSED:
            raise HttpError(406, f"frames of {syntax} instances are not served (uncompressed instances only)")
        for media, params in _accept_entries(request.headers.get("accept")):
            if media in ("*/*", "multipart/*"):
                break
            if media == "multipart/related" and _type_ok(params, "application/octet-stream") \
                    and params.get("transfer-syntax", "*") in ("*", syntax):
                break
        else:
            raise HttpError(406, f'frames are available as multipart/related; type="application/octet-stream"; '
                                 f"transfer-syntax={syntax}")
        frames = await run_in_threadpool(self._frames, items[0], numbers)
        boundary = multipart.new_boundary()
        part = f"application/octet-stream; transfer-syntax={syntax}"
        body = b"".join(multipart.part_head(boundary, part) + f + multipart.part_tail() for f in frames)
        return Response(body + multipart.closing(boundary),
                        media_type=multipart.content_type(boundary, "application/octet-stream"))

    def _frames(self, item: IndexItem, numbers: list[int]) -> list[bytes]:
        import pydicom
        found = retrieve.available(self.source, [item])
        if not found.ready:
            raise HttpError(404 if found.absent else 500, "; ".join(found.warnings(self.source.role)))
        with retrieve.verified_copy(self.source, item) as copy:
            ds = pydicom.dcmread(copy)
            if "PixelData" not in ds or ds.BitsAllocated % 8:
                raise HttpError(404, "the instance has no byte-aligned pixel data frames")
            size = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
            count = int(ds.get("NumberOfFrames", 1) or 1)
            if max(numbers) > count:
                raise HttpError(404, f"the instance has {count} frame(s)")
            data = ds.PixelData
            return [bytes(data[(n - 1) * size:n * size]) for n in numbers]

    # -- STOW-RS
    async def store(self, request: Request) -> Response:
        if not self.source.writable:
            raise HttpError(403, f"the {self.source.role} region is read-only until it is promoted "
                                 "(drkit dicomweb serve --promote)")
        media, params = multipart.parse_content_type(request.headers.get("content-type", ""))
        if media != "multipart/related" or params.get("type", "").lower() not in ("application/dicom", ""):
            raise HttpError(415, 'STOW-RS takes multipart/related; type="application/dicom"')
        if "boundary" not in params:
            raise HttpError(400, "the multipart Content-Type has no boundary")
        _wants_json(request)
        with tempfile.TemporaryFile() as spool:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > MAX_STOW_BYTES:
                    raise HttpError(413, f"a STOW-RS request may carry at most {MAX_STOW_BYTES} bytes")
                spool.write(chunk)
            try:
                buf, parts = multipart.split(spool, params["boundary"])
            except multipart.MultipartError as exc:
                raise HttpError(400, str(exc)) from exc
            study = request.path_params.get("study")
            try:
                result = await run_in_threadpool(stow.store, self.ingestor(), buf, parts, study, _base(request))
            finally:
                if hasattr(buf, "close"):
                    buf.close()
        url = f"{_base(request)}/studies/{study}" if study else None
        return _response(result.status, json.dumps(result.document(url)).encode(), DICOM_JSON, result.warnings)


def _group(items: list[IndexItem], level: str, q: query.Query, base: str) -> list[dict[str, Any]]:
    fields = q.fields(level)
    mods = q.modalities
    if level == "instance":
        chosen = sorted((i for i in items if not mods or i.modality.upper() in mods),
                        key=lambda i: (i.study_instance_uid, i.series_instance_uid, i.sop_instance_uid))
        return [dicomjson.instance_result(i, base, fields) for i in chosen]
    key = (lambda i: i.study_instance_uid) if level == "study" else (
        lambda i: (i.study_instance_uid, i.series_instance_uid))
    groups: dict[Any, list[IndexItem]] = defaultdict(list)
    for i in items:
        groups[key(i)].append(i)
    out = []
    for k in sorted(groups):
        group = groups[k]
        if mods and not mods & {i.modality.upper() for i in group}:
            continue
        out.append((dicomjson.study_result if level == "study" else dicomjson.series_result)(group, base, fields))
    return out


def create_app(source: ArchiveSource, auth: TokenAuth, public_url: str | None = None) -> Gate:
    """The app; ``public_url`` is the URL clients reach it by (behind a proxy or API Gateway).
    pydicom's value warnings are silenced process-wide (``drills.ingest.reader.quiet_pydicom``)."""
    quiet_pydicom()
    web = DicomWeb(source)

    def level(name: str, endpoint):
        async def handler(request: Request) -> Response:
            request.scope["endpoint_level"] = name
            return await endpoint(request)
        return handler

    routes = []
    for path, lvl in (("/studies", "study"), ("/series", "series"), ("/instances", "instance"),
                      ("/studies/{study}/series", "series"), ("/studies/{study}/instances", "instance"),
                      ("/studies/{study}/series/{series}/instances", "instance")):
        routes.append(Route(path, _guard(level(lvl, web.search)), methods=["GET"]))
    routes += [
        Route("/studies", _guard(web.store), methods=["POST"]),
        Route("/studies/{study}", _guard(web.store), methods=["POST"]),
        Route("/studies/{study}", _guard(web.retrieve), methods=["GET"]),
        Route("/studies/{study}/series/{series}", _guard(web.retrieve), methods=["GET"]),
        Route("/studies/{study}/series/{series}/instances/{sop}", _guard(web.retrieve), methods=["GET"]),
        Route("/studies/{study}/metadata", _guard(web.metadata), methods=["GET"]),
        Route("/studies/{study}/series/{series}/metadata", _guard(web.metadata), methods=["GET"]),
        Route("/studies/{study}/series/{series}/instances/{sop}/metadata", _guard(web.metadata), methods=["GET"]),
        Route("/studies/{study}/series/{series}/instances/{sop}/bulkdata/{tag}", _guard(web.bulkdata),
              methods=["GET"]),
        Route("/studies/{study}/series/{series}/instances/{sop}/frames/{frames}", _guard(web.frames),
              methods=["GET"]),
    ]
    return Gate(Starlette(routes=routes), auth, public_url.rstrip("/") if public_url else None)


def _guard(endpoint):
    """HttpError → its status with a JSON message and a Warning; InfraError → 503; any other
    DrkitError (the server's own configuration: no hash-key secret to hash a PatientID or
    ingest with) → 503 as well, logged without a traceback — nothing the client can fix."""
    async def handler(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HttpError as exc:
            return _error(exc.status, exc.message)
        except InfraError as exc:
            log.error("infrastructure error: %s", exc.message)
            return _error(503, f"the archive could not be read: {exc.message}")
        except DrkitError as exc:
            log.error("configuration error: %s", exc)
            return _error(503, f"the service is not configured to answer this: {exc.message}")
    return handler


def _error(status: int, message: str) -> Response:
    resp = Response(json.dumps({"error": message}).encode(), status_code=status, media_type="application/json")
    resp.headers.append("Warning", warning(message))
    return resp
