"""Report HTML → ``report.pdf``: PDF/A-3b (WeasyPrint) with report.json and the journal attached.

PDF/A-3 allows embedded files when each carries an ``AFRelationship`` and is listed in the
catalog's ``/AF`` array; WeasyPrint writes both for ``pdf_variant="pdf/a-3b"``, together with
the sRGB OutputIntent and the XMP ``pdfaid:part``/``pdfaid:conformance`` the standard requires.
Nothing is fetched: the URL fetcher allows only ``data:`` URIs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from drills.errors import InfraError

PDF_VARIANT = "pdf/a-3b"


def _dedupe_associated_files(document, pdf) -> None:
    """WeasyPrint lists each attachment twice in the catalog's /AF (once from the name tree,
    once from the file specifications); PDF/A-3 wants each associated file once."""
    import pydyf
    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def render_pdf(html: str, target: Path, attachments: list[tuple[str, bytes, str]]) -> Path:
    """Write ``target``; ``attachments`` are (file name, bytes, description), attached as Data."""
    try:
        import weasyprint
    except OSError as exc:  # pango/cairo missing: a tool error, with the package to install
        raise InfraError(f"WeasyPrint cannot load its system libraries ({exc})",
                         hint="apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b") from exc
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    now = datetime.now(timezone.utc)
    files = [weasyprint.Attachment(string=data, name=name, description=description, relationship="Data",
                                   created=now, modified=now)
             for name, data, description in attachments]
    # Only inline data: URIs may load — reports are self-contained, nothing is fetched.
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"})
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None).render()
    document.write_pdf(target, pdf_variant=PDF_VARIANT, attachments=files, uncompressed_pdf=False,
                       finisher=_dedupe_associated_files)
    return target
