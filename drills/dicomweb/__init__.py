"""DICOMweb (PS3.18) over the archive of one region: QIDO-RS, WADO-RS and STOW-RS.

``app.create_app(source, auth)`` is the ASGI application (Starlette); ``drkit dicomweb
serve`` runs it under uvicorn. Modules: ``source`` (index and archive bucket of a region),
``query`` (QIDO matching and paging), ``dicomjson`` (the PS3.18 JSON model), ``multipart``
(multipart/related out and in), ``retrieve`` (WADO-RS streaming with the SHA-256 check),
``store`` (STOW-RS through the ingest core), ``auth`` (bearer tokens), ``accesslog``.
"""
