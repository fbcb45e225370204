"""report.html: one self-contained file — every section, the journal's numbers, charts as
data: URIs, no external URL — and the embedded-cloud watermark."""

from __future__ import annotations

import copy
import html as html_module
import re
from html.parser import HTMLParser

import pytest

from drills.reports.html import show
from drills.reports.model import EMBEDDED_LABEL, SECTIONS
from drills.reports.render import render_run


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()
        self.imgs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src", "action", "poster", "data"):
            if attrs.get(name):
                self.refs.append(attrs[name])
        if tag == "img":
            self.imgs.append(attrs.get("src", ""))
        if attrs.get("id"):
            self.ids.add(attrs["id"])


def parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """report.html of the failing and of the passing journal, rendered once for the module."""
    from tests.drills.reports import journals
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRKIT_KEY_DIR", str(tmp_path_factory.mktemp("keys")))
        pages = {}
        for name, journal in (("failing", journals.failing_journal()), ("passing", journals.passing_journal())):
            run_dir = journals.write_run(tmp_path_factory.mktemp(name), journal)
            render_run(run_dir, ("json", "html"))
            pages[name] = (run_dir / "report.html").read_text()
    return pages


@pytest.fixture
def failing_html(rendered) -> str:
    return rendered["failing"]


@pytest.fixture
def passing_html(rendered) -> str:
    return rendered["passing"]


def test_every_section_numbered_and_linked_from_the_toc(failing_html):
    links = parse(failing_html)
    for number, _, title in SECTIONS:
        assert f'<span class="num">{number}</span>{title}' in failing_html or \
            (number == "A" and '<span class="num">A</span>Appendix' in failing_html), title
        assert f"s{number}" in links.ids
        assert f"#s{number}" in links.refs, f"TOC entry for section {number}"
    for sub in ("A.1 Evidence manifest", "A.2 Verification procedure", "A.3 Schema", "Plan of action",
                "Capacity, cost and restore-time plan", "Drift since the previous report"):
        assert sub in failing_html


def test_no_external_urls(failing_html, passing_html):
    for html in (failing_html, passing_html):
        links = parse(html)
        assert links.refs and all(r.startswith(("#", "data:")) for r in links.refs), links.refs
        assert not re.search(r"url\(\s*['\"]?(?!data:)", html), "CSS url() to something not inline"
        assert "@import" not in html
        assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", html.replace("http://127.0.0.1", ""))
        assert not re.search(r"<(script|link|iframe|object|embed)\b", html)


def test_charts_are_embedded_pngs(failing_html):
    imgs = parse(failing_html).imgs
    assert len(imgs) == 3      # lag, timeline, objectives (one run in the folder: no trend yet)
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    assert "Chart not drawn (Trend across runs): the journal has no data for it." in failing_html


def test_numbers_from_the_journal_appear(failing_html, failing):
    text = html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", failing_html)))
    # RPO of replication-pause: 1980 s against 900 s; restore 5.5 h against 12 h; scope totals
    for expected in ("1,980 seconds", "≤ 900 seconds", "5.5 hours", "≤ 12 hours", "12,345,678", "280",
                     "277 of 280 in-scope instances verified", "DeleteObjectVersion", "AccessDenied",
                     failing["run_id"], failing["scenarios"][0]["document_sha256"], failing["events"][-1]["hash"],
                     "inst-9f8e7d", "412.5", "1,834.2"):
        assert expected in text, expected
    for phase in failing["scenarios"][0]["phases"]:
        assert f"{phase['name']} {phase['start']} {phase['end']} {show(phase['duration_s'])} " \
               f"{show(phase['duration_s'] / 60)}" in text
    for activity in failing["scenarios"][1]["method"]:
        start, end = (activity[k].replace("T", " ") for k in ("start", "end"))       # date, line break, time
        assert f"{start} {end} insider-deletion · method action {activity['name']} " \
               f"{activity['actor']} passed {activity['event']}" in text


def test_embedded_watermark_and_aws_has_none(failing_html, write_run, passing):
    assert failing_html.count(EMBEDDED_LABEL) >= 3           # cover, banner, scope
    assert 'class="watermark"' in failing_html and "EMBEDDED —<br>every figure simulated" in failing_html
    journal = copy.deepcopy(passing)
    journal["target"] = {"kind": "aws", "endpoint": None, "simulated": False}
    journal["clock"] = "wall"
    from tests.drills.reports.journals import seal
    run_dir = write_run(seal(journal))
    render_run(run_dir, ("html",))
    html = (run_dir / "report.html").read_text()
    assert "Target: AWS" in html and "every figure simulated" not in html.split("</style>", 1)[1]
    assert 'class="watermark"' not in html


def test_not_verified_is_said_in_words(failing_html):
    assert "<b>Not verified</b> (never counted as a pass): rung 6 sample-reparse" in failing_html


@pytest.mark.parametrize("value, text", [(None, "—"), (True, "yes"), (12345678, "12,345,678"), (1380.0, "1,380"),
                                         (14.666, "14.67"), (0.5, "0.5"), ({"a": 1}, "a: 1"),
                                         (list(range(25)), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, "
                                                           "16, 17, 18, 19, … 5 more")])
def test_show(value, text):
    assert show(value) == text


def test_minimal_aborted_journal_still_renders(write_run):
    """A run aborted before any scenario: the report says what is missing instead of failing."""
    from tests.drills.reports.journals import seal
    journal = {"schema": "drkit-journal/1", "run_id": "20261130T120000Z-000000", "start": "2026-11-30T12:00:00Z",
               "status": "aborted", "target": {"kind": "aws", "endpoint": None, "simulated": False},
               "scenarios": [], "events": [{"seq": 0, "time": "2026-11-30T12:00:00Z", "type": "run-started",
                                            "scenario": None, "activity": None, "data": {}}]}
    run_dir = write_run(seal(journal))
    render_run(run_dir, ("html",))
    html = (run_dir / "report.html").read_text()
    for text in ("The run did not complete (status aborted)", "no scenario measured it",
                 "The journal records no configuration in force: not verified.",
                 "No verification rung reported a count of verified instances", "Not included: the journal carries "
                 "no plan section", "No findings in this run.", "No earlier run in this folder"):
        assert text in html, text
