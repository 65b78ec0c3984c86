"""report.html: one self-contained page that parses, escapes every text, loads nothing, holds
every table and figure given, says where caps bind, and opens in a real browser (headless
Chromium) without console errors, every image decoded."""

import base64
import dataclasses
import hashlib
import re
import shlex
import shutil
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from pkmodel import report, study
from pkmodel.io import provenance
from pkmodel.population.cerebral_palsy import GMFCS_MIX
from pkmodel.drugs.baclofen import BACLOFEN_TARGET_MG_L
from pkmodel.report import ReportFigure, ReportTable, model_assumptions, render_html

# caps per dose only: 2 mg/kg/day capped at 20 mg/dose binds above 30 kg TID, 40 kg QID
TEXTS = {
    "TID": "2 mg/kg/day TID for 3 days, max 20 mg/dose",
    "QID": "2 mg/kg/day QID for 3 days, max 20 mg/dose",
}
CAP_FROM_KG = {"TID": 30.0, "QID": 40.0}
TRICKY = "<b>Q&A</b> \"double\" 'single' &amp; </td>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Page(HTMLParser):
    """The parsed page: tags in order, text, open-tag stack errors, tables and images."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.starts, self.text = [], [], [], []
        self.doctype = None
        self.tables, self.images, self._cell = [], [], None
        self.feed(text)
        self.close()

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.starts.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "table":
            self.tables.append({"class": attrs.get("class"), "head": [], "rows": [], "in": None})
        if tag in ("thead", "tbody"):
            self.tables[-1]["in"] = tag
        if tag == "tr" and self.tables and self.tables[-1]["in"] == "tbody":
            self.tables[-1]["rows"].append([])
        if tag in ("th", "td"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("th", "td") and self._cell is not None:
            table, cell = self.tables[-1], "".join(self._cell)
            (table["head"] if table["in"] == "thead" else table["rows"][-1]).append(cell)
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _record(model, seed, n, times, ends):
    """The command line's provenance record (pkmodel.cli._study)."""
    return provenance.provenance(
        model,
        seed,
        TEXTS,
        command=shlex.join(["pkmodel", "compare", "--n", str(n)]),
        cohort={
            "n": n,
            "age_years": [2, 17],
            "gmfcs": "registry",
            "from": "Cohort.from_growth_charts (CDC 2000)",
            "curves": 20,
        },
        times_h={"step": 0.5, "end": float(times[-1])},
        exposure_window_h={label: [ends[label] - 24, ends[label]] for label in TEXTS},
        target_range_mg_l=list(BACLOFEN_TARGET_MG_L),
    )


@pytest.fixture(scope="module")
def finished():
    """A finished study: 150 children, TID and QID, the curves of the first 20."""
    model = pk.load_model("baclofen_cp_card")
    regimens = {label: pk.Regimen.parse(text) for label, text in TEXTS.items()}
    cohort = pk.Cohort.from_growth_charts(150, age_years=(2, 17), seed=4, gmfcs=GMFCS_MIX)
    times, ends = study.study_times(regimens, 0.5)
    outcome = study.run(model, cohort, regimens, times, ends, seed=4, curves=20)
    record = _record(model, 4, len(cohort), times, ends)
    return record, outcome, report.study_html(record, outcome)


@pytest.fixture(scope="module")
def synthetic():
    """A page of tricky text: markup, ampersands and quotes everywhere a text goes."""
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("time (h)")
    png = _png_bytes()
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
        b'<rect width="40" height="20" fill="teal"/></svg>'
    )
    frame = pd.DataFrame({TRICKY: [TRICKY, "x"], "dose (mg/kg/day)": [1.23456, np.nan]})
    tables = [ReportTable(f"table {TRICKY}", frame, f"caption <script>alert('&')</script> {TRICKY}")]
    figures = [
        ReportFigure(f"figure {TRICKY}", fig, f"fig caption {TRICKY}"),
        ReportFigure("png", png, "PNG bytes"),
        ReportFigure("svg", svg, "SVG bytes"),
    ]
    record = {"command": f"pkmodel compare --regimen {TRICKY}", "cohort": {TRICKY: [1.5, 2]}}
    text = render_html(
        f"title {TRICKY}",
        record,
        tables,
        figures,
        assumptions=[f"assumed {TRICKY}"],
        notes=[f"note {TRICKY}"],
    )
    plt.close(fig)
    return text, tables, figures


def _png_bytes() -> bytes:
    from io import BytesIO

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.bar([0, 1], [1, 2])
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    plt.close(fig)
    return buffer.getvalue()


def _decoded(src: str) -> tuple[str, bytes]:
    match = re.fullmatch(r"data:(image/png|image/svg\+xml);base64,([A-Za-z0-9+/=]+)", src)
    assert match, src[:80]
    return match.group(1), base64.b64decode(match.group(2), validate=True)


def test_page_is_html5_with_balanced_tags(finished, synthetic):
    for text in (finished[2], synthetic[0]):
        page = Page(text)
        assert page.doctype == "DOCTYPE html"
        assert page.problems == [] and page.stack == []
        assert page.starts[:3] == ["html", "head", "meta"]  # charset first
        assert all(t["head"] for t in page.tables if t["class"] != "record")  # every table a <thead>


def test_every_table_and_figure_given_is_in_the_page(synthetic):
    text, tables, figures = synthetic
    page = Page(text)
    shown = [t for t in page.tables if t["class"] != "record"]
    assert len(shown) == len(tables) and len(page.images) == len(figures)
    assert shown[0]["head"] == list(tables[0].frame.columns)
    assert shown[0]["rows"] == [[TRICKY, "1.23"], ["x", ""]]  # 3 significant digits; NaN blank
    kinds = [_decoded(img["src"]) for img in page.images]
    assert [mime for mime, _ in kinds] == ["image/svg+xml", "image/png", "image/svg+xml"]
    assert kinds[1][1] == figures[1].image and kinds[2][1] == figures[2].image  # bytes as given
    assert b"<svg" in kinds[0][1] and [img["alt"] for img in page.images] == [f.title for f in figures]


def test_every_text_is_escaped(synthetic):
    text = synthetic[0]
    page = Page(text)
    assert "script" not in page.starts and "b" not in page.starts  # no markup came through
    words = "".join(page.text)
    for shown in (
        f"title {TRICKY}",
        f"table {TRICKY}",
        "caption <script>alert('&')</script>",
        f"assumed {TRICKY}",
        f"note {TRICKY}",
        f"pkmodel compare --regimen {TRICKY}",
    ):
        assert shown in words  # read back exactly as given
    assert "&lt;b&gt;Q&amp;A&lt;/b&gt; &quot;double&quot; &#x27;single&#x27; &amp;amp;" in text


def test_page_loads_nothing(finished, synthetic):
    for text in (finished[2], synthetic[0]):
        assert "http://" not in text and "https://" not in text
        page = Page(text)
        assert not {"script", "link", "iframe", "object"} & set(page.starts)
        for img in page.images:
            mime, data = _decoded(img["src"])
            if mime == "image/svg+xml":  # inside an SVG only namespace names may be addresses
                assert not re.search(
                    rb"(href|src)\s*=\s*[\"']?\s*(https?:|//)|url\(\s*[\"']?(https?:|//)"
                    rb"|@import",
                    data,
                )


def test_disclaimer_comes_first(finished):
    text = finished[2]
    assert text.index(report.DISCLAIMER) < text.index("<h2>")
    assert "A research tool, not clinical dosing advice" in report.DISCLAIMER


def test_study_page_has_its_tables_figures_provenance_and_assumptions(finished):
    record, outcome, text = finished
    page = Page(text)
    words = " ".join(page.text)
    shown = [t for t in page.tables if t["class"] != "record"]
    assert len(shown) == 3 and len(page.images) == len(study.FIGURES)
    for title in (
        "Exposure by age band",
        "Target attainment by weight band",
        "Children held by a cap",
        *(t for t, _ in study.FIGURES.values()),
    ):
        assert title in words
    for t in shown:  # units in every header but the regimen's label
        assert all(h == "regimen" or re.search(r"\(.+\)", h) for h in t["head"]), t["head"]
    for value in (record["model_sha256"], record["command"], *TEXTS.values(), record["created_utc"]):
        assert value in words
    for assumed in model_assumptions(outcome.curves["TID"].model):
        assert assumed in words


def test_study_page_numbers_are_the_study_s(finished):
    record, outcome, text = finished
    summary, pta, caps = [t for t in Page(text).tables if t["class"] != "record"]
    assert [row[3:] for row in summary["rows"]] == study.wide(outcome.table).iloc[:, 3:].values.tolist()
    expected = [f"{v:.3g}" for v in np.round(100 * outcome.attainment["pta"].to_numpy())]
    assert [row[-1] for row in pta["rows"]] == expected


def test_caps_bind_where_the_dose_per_kg_reaches_the_cap(finished):
    record, outcome, text = finished
    caps, lightest = outcome.caps, outcome.lightest_capped
    exposures = outcome.exposures
    for label, kg in CAP_FROM_KG.items():
        # closed form: 2 mg/kg/day / doses a day * weight > 20 mg/dose  <=>  weight > kg
        rows = exposures[exposures["regimen"] == label]
        heavy = rows[rows["weight_kg"] > kg]
        assert caps.loc[caps["regimen"] == label, "n_capped"].sum() == len(heavy)
        by_band = heavy.groupby("weight_band", observed=True).size()
        shown = caps[(caps["regimen"] == label) & (caps["n_capped"] > 0)]
        assert dict(zip(shown["weight_band"], shown["n_capped"])) == by_band.to_dict()
        assert lightest[label] == heavy["weight_kg"].min()
        assert (
            f"{label} from {heavy['weight_kg'].min():.1f} kg ({len(heavy):,} of {len(rows):,} children)"
        ) in text
    cohort = pk.Cohort.from_growth_charts(150, age_years=(2, 17), seed=4, gmfcs=GMFCS_MIX)
    regimens = {label: pk.Regimen.parse(t) for label, t in TEXTS.items()}
    chunked, by_chunk = study.capped(exposures, cohort, regimens, chunk=7)  # chunks: the same
    pd.testing.assert_frame_equal(chunked, caps)
    assert by_chunk == lightest


def test_assumptions_of_a_model_file_are_its_assumed_and_borrowed_numbers():
    card = model_assumptions(pk.load_model("baclofen_cp_card"))
    assert (
        "V (IIV): borrowed: He 2014 IIV on Vss/F (43.9 %); the paper gives no IIV "
        "for this one-compartment volume"
    ) in card
    assert any(a.startswith("CL covariate egfr_ml_min_1_73m2: assumed: fe = 0.8") for a in card)
    assert any(a.startswith("ka: ka = 1/MTT is borrowed") for a in card)
    assert (
        "residual error: adult value used for children: no pediatric residual error is "
        "published with this model" in card
    )
    assert not any("apparent clearance" in a for a in card)  # CL's source is not assumed
    he = model_assumptions(pk.load_model("baclofen_cp_he2014"))
    for name in ("V1", "V2", "Q", "ka", "tlag"):
        assert any(a.startswith(f"{name}: ") for a in he), name
    assert any(a.startswith("CL covariate abcc9_rs11046232: assumed: the genotype") for a in he)


def test_assumptions_of_a_model_in_memory_come_from_its_sources():
    model = dataclasses.replace(pk.load_model("baclofen_cp_card"), path=None)
    found = model_assumptions(model)
    # the `assumed` fields live only in the file; the sources marked assumed are kept by Model
    assert found == [
        f"valid range of {r.quantity}: {r.source}" for r in model.validity if r.source.startswith("assumed")
    ]


def test_large_svg_is_embedded_as_png(monkeypatch):
    fig, ax = plt.subplots()
    ax.plot(np.arange(10), np.arange(10))
    monkeypatch.setattr(report, "SVG_MAX_BYTES", 100)
    mime, data = _decoded(Page(render_html("t", {}, [], [ReportFigure("f", fig, "c")])).images[0]["src"])
    plt.close(fig)
    assert mime == "image/png" and data.startswith(b"\x89PNG")


def test_bad_table_or_figure_is_refused_naming_it():
    with pytest.raises(TypeError, match=r"ReportTable 'summary': frame is dict; expected a pandas DataFrame"):
        ReportTable("summary", {"a": [1]}, "c")
    with pytest.raises(
        ValueError, match=r"ReportFigure 'cavg': image is 4 bytes that are neither PNG nor SVG"
    ):
        ReportFigure("cavg", b"GIF8", "c")
    with pytest.raises(TypeError, match=r"ReportFigure 'cavg': image is str; expected a matplotlib Figure"):
        ReportFigure("cavg", "cavg.png", "c")


def test_write_html_returns_the_hash_of_the_bytes_written(finished, tmp_path):
    record, outcome, _ = finished
    path = tmp_path / "report.html"
    digest = report.write_html(path, record, outcome)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert Page(path.read_text(encoding="utf-8")).problems == []
    with pytest.raises(FileExistsError):  # a run's files are new files
        report.write_html(path, record, outcome)


# --- a real browser -----------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).is_file()), None
    )
    if found is None:
        pytest.skip(
            "Chromium not found (no `chromium` on PATH, no /usr/bin/chromium) and it could "
            "not be installed: `make test` installs Debian's package chromium with apt-get "
            "only as root where apt-get exists (see its output); the browser check of "
            "report.html needs it"
        )
    return found


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    from playwright.sync_api import sync_playwright  # a test extra; never `playwright install`

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser, path: Path, width: int, height: int):
    """The page at `path` in a fresh tab; what went wrong while it loaded."""
    page = browser.new_page(viewport={"width": width, "height": height})
    wrong = []
    page.on("console", lambda m: m.type == "error" and wrong.append(f"console: {m.text}"))
    page.on("pageerror", lambda err: wrong.append(f"page error: {err}"))
    page.on("requestfailed", lambda r: wrong.append(f"failed: {r.url[:80]}"))

    def request(r):
        if r.url != path.as_uri() and not r.url.startswith("data:"):
            wrong.append(f"request: {r.url[:80]}")

    page.on("request", request)
    page.goto(path.as_uri(), wait_until="load")
    return page, wrong


_IMAGES = """async () => Promise.all([...document.images].map(async img => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    const box = img.getBoundingClientRect();
    return {alt: img.alt, decoded, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
            shown: [box.width, box.height], right: box.right};
}))"""
_SVGS = "() => [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)"


@pytest.mark.parametrize("viewport", [(1200, 900), (390, 844)], ids=["desktop", "phone"])
def test_report_opens_in_chromium_without_errors_every_image_decoded(
    browser, finished, synthetic, tmp_path, viewport
):
    width, height = viewport
    pages = {"report": ("pkmodel: TID vs QID", finished[2]), "tricky": (f"title {TRICKY}", synthetic[0])}
    for name, (title, text) in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        page, wrong = _open(browser, path, width, height)
        images = page.evaluate(_IMAGES)
        assert wrong == [], name
        assert len(images) == len(Page(text).images) >= 3
        for img in images:
            assert img["decoded"] and img["complete"], img["alt"]
            assert min(img["natural"]) > 0 and min(img["shown"]) > 0, img
            assert img["right"] <= width + 0.5, img  # no figure wider than the screen
        assert all(w > 0 for w in page.evaluate(_SVGS))  # inline SVG (none here) has a size
        # the page itself never scrolls sideways (a wide table scrolls in its own box)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.title() == title
        shot = tmp_path / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
        page.close()


def test_the_browser_check_sees_a_broken_image_and_a_request(browser, tmp_path):
    # the check above is not vacuous: a PNG that does not decode and an address the page would
    # fetch (loopback, refused) are both caught
    broken = render_html("broken", {}, [], [ReportFigure("broken", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "c")])
    path = tmp_path / "broken.html"
    path.write_text(
        broken.replace("</main>", '<img alt="far" src="http://127.0.0.1:9/x.png"></main>'), encoding="utf-8"
    )
    page, wrong = _open(browser, path, 800, 600)
    images = page.evaluate(_IMAGES)
    page.close()
    assert [img["decoded"] for img in images] == [False, False]
    assert any(w.startswith("request: http://127.0.0.1:9/") for w in wrong)
