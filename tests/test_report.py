"""The HTML report of `recsys demo`, `recsys ab --report` and `recsys analyze --report`: sections
in order (those whose data exists), every chart present and decodable, no external resources,
numbers and words taken from the analysis, and headless Chromium renders."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess

import pytest

import recsys.jobs
from recsys.cli import main
from recsys.jobs import gather_evidence
from recsys.report.experiment import render_job_report
from recsys.report.reasons import reason_text, verdict_text

SECTIONS = ["verdict", "tradeoffs", "lifts", "survival", "decay", "daily", "sequential", "samples", "offline",
            "exposure", "methods"]
#: the charts the report promises: forest plots (metrics, segments), survival curves, daily curves, sequential,
#: exposure (the 4-day demo is too short for the decay chart: its section says so)
CHARTS = {"forest-metrics", "forest-segments", "survival", "daily", "sequential", "exposure"}
IMG = re.compile(r"<img class=['\"]chart['\"] src=['\"]data:image/png;base64,([A-Za-z0-9+/=]+)['\"]")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    seen = {}
    run_job = recsys.jobs.run_job

    def spy(*args, **kwargs):
        seen["job"] = run_job(*args, **kwargs)
        return seen["job"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recsys.jobs, "run_job", spy)
        assert main(["demo", "--users", "3000", "--days", "4", "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    analysis = json.loads((out / "analysis.json").read_text())
    return {"out": out, "html": page, "analysis": analysis, "job": seen["job"]}


def _section(page: str, name: str) -> str:
    start = page.index(f"<section id='{name}'>")
    return page[start:page.index("</section>", start)]


def test_sections_in_order(demo):
    page = demo["html"]
    pos = [page.find(f"<section id='{s}'>") for s in SECTIONS]
    assert all(p >= 0 for p in pos), dict(zip(SECTIONS, pos))
    assert pos == sorted(pos)
    # the demo shows one active user's homepage per segment of every arm
    preview = page[page.index("<section id='preview'>"):page.index("<section id='methods'>")]
    table = demo["job"].result.table
    active = table[(table["churned"] == 0) & (table["sessions"] > 0)]
    expected = active.groupby("arm")["segment"].nunique().sum()
    assert preview.count('class="rp-home"') == expected >= 6


def test_verdict_and_reasons_come_from_the_decision(demo):
    """The same words in the report as in the JSON and the terminal: the verdict, and every
    reason record worded by the one renderer."""
    dec = demo["analysis"]["decision"]
    v = _section(demo["html"], "verdict")
    assert f"class='verdict {dec['verdict']}'" in v
    assert html.escape(verdict_text(dec)) in v
    for reason in dec["reasons"]:
        assert html.escape(reason_text(reason, alpha=demo["analysis"]["alpha"])) in v


def test_tradeoff_table_has_every_metric_and_guardrail_margin(demo):
    a = demo["analysis"]
    t = _section(demo["html"], "tradeoffs")
    rows = t.count("<tr>") - 1
    assert rows == len([r for r in a["results"] if r["segment"] == "all"])
    for r in a["results"]:
        if r["segment"] == "all":
            assert f"<td>{r['metric']}<span" in t
    guards = a["decision"]["roles"]["guardrails"]
    assert guards and t.count("<span class='role'>margin ") == len(guards)
    statuses = {x["metric"]: x["guardrail"] for x in a["decision"]["tradeoffs"] if x["guardrail"]}
    assert set(statuses.values()) <= {"non-inferior", "inconclusive", "harmed"}
    for status in statuses.values():
        assert f"b-{status}'>{status}<" in t
    assert "across every metric, segment and arm" not in t            # the old, wrong caption
    prim = next(r for r in a["results"] if r["segment"] == "all" and r["metric"] == a["decision"]["roles"]["primary"])
    assert f"{100 * prim['rel_lift']:+.1f}%" in t


def test_every_chart_is_an_inline_png(demo):
    page = demo["html"]
    ids = set(re.findall(r"<figure id='fig-([a-z-]+)'>", page))
    assert ids == CHARTS
    pngs = IMG.findall(page)
    assert len(pngs) == len(CHARTS)
    for data in pngs:
        raw = base64.b64decode(data)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 5000


def test_self_contained(demo):
    page = demo["html"]
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page)
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)           # only in-page references (SVG gradients)


def test_sequential_json_and_section(demo):
    a = demo["analysis"]
    seq = a["sequential"]
    roles = a["decision"]["roles"]
    metrics = {*roles["success"], *roles["guardrails"]}
    assert {s["metric"] for s in seq} == metrics
    assert sorted({s["day"] for s in seq}) == list(range(4))
    for s in seq:
        assert {"day", "arm", "metric", "role", "estimate", "ci_low", "ci_high", "p_value", "status"} <= set(s)
    assert [v["day"] for v in a["sequential_decision"]] == list(range(4))
    sec = _section(demo["html"], "sequential")
    assert sec.count("<tr><td>") == 4                   # one row per day, the verdict of that day last


def test_samples_offline_exposure(demo):
    a, job = demo["analysis"], demo["job"]
    s = _section(demo["html"], "samples")
    for arm, n in a["srm"]["counts"].items():
        assert f"{n:,}" in s
    for seg, n in job.result.table["segment"].value_counts().items():
        assert f"<td class='l'>{seg}</td>" in s and f"{n:,}" in s
    assert "Pre-period balance" in s
    off = _section(demo["html"], "offline")
    assert "NDCG@10" in off and all(f"<td class='l'>{arm}</td>" in off for arm in a["arms"])
    ex = _section(demo["html"], "exposure")
    assert "long-tail share" in ex and all(f"<td class='l'>{arm}</td>" in ex for arm in a["arms"])


def test_methods_name_what_was_run(demo):
    a = demo["analysis"]
    m = _section(demo["html"], "methods")
    for word in ("Welch", "delta method", "CUPED", "Holm", "chi-squared", "Cochran", "always-valid", "bootstrap",
                 "Fieller", "non-inferiority", "Wald", "Schultzberg"):
        assert word in m, word
    assert not re.search(r"\bpooled standard error", m)
    for r in a["results"]:
        if r["segment"] == "all" and r.get("variance_reduction") is not None:
            assert f"{100 * r['variance_reduction']:.1f}%" in m


def test_header_counts_match_the_tiles(demo):
    a, job = demo["analysis"], demo["job"]
    page = demo["html"]
    sub = page[page.index("<p class='sub'>"):page.index("</p>", page.index("<p class='sub'>"))]
    assert f"{a['n_users']:,} users assigned" in sub and f"of {job.result.config.users:,} in the world" in sub
    assert f"<div class='k'>users assigned</div><div class='v'>{a['n_users']:,}</div>" in page


def test_preview_section_shows_every_arm_only_when_asked(demo):
    """The caption says "as each arm builds it": one active user per segment in every arm."""
    job = demo["job"]
    ev = gather_evidence(job.result, list(job.json["arms"]), offline=False, homepages=True)
    page = render_job_report(job, ev)
    sec = page[page.index("<section id='preview'>"):page.index("<section id='methods'>")]   # fragments nest sections
    assert "What users see" in sec
    arms = {h.arm for h in ev.homepages}
    assert arms == set(job.json["arms"])
    for h in ev.homepages:
        for u in h.users:
            assert f"<h3>{u['segment']} \u00b7 {h.arm}</h3>" in sec
    assert page.index("<section id='exposure'>") < page.index("<section id='preview'>") < page.index(
        "<section id='methods'>")
    plain = render_job_report(job, gather_evidence(job.result, list(job.json["arms"]), offline=False))
    assert "<section id='preview'>" not in plain


@pytest.fixture(scope="module")
def other_reports(tmp_path_factory):
    """`recsys ab --report` on an experiment file and `recsys analyze --report` on a table."""
    from recsys.stats.synthetic import synthetic_table

    d = tmp_path_factory.mktemp("reports")
    assert main(["ab", "experiments/hybrid_vs_popularity.toml", "--out", str(d / "ab"), "--users", "2000",
                 "--days", "3", "--report", "--quiet"]) == 0
    table = d / "users.parquet"
    synthetic_table(4000, ("control", "treatment"), seed=3, effects={"treatment": {"ctr": 1.1}}).to_parquet(table)
    assert main(["analyze", str(table), "--control", "control", "--segments", "--report", str(d / "an" / "r.html"),
                 "--json", str(d / "an" / "a.json")]) == 0
    return {"ab": d / "ab" / "report.html", "analyze": d / "an" / "r.html",
            "analysis": json.loads((d / "an" / "a.json").read_text())}


def test_ab_writes_a_report_with_every_section(other_reports):
    page = other_reports["ab"].read_text(encoding="utf-8")
    for s in SECTIONS:
        assert f"<section id='{s}'>" in page, s
    assert set(re.findall(r"<figure id='fig-([a-z-]+)'>", page)) == CHARTS


def test_analyze_writes_a_report_from_the_table_alone(other_reports):
    """Sections appear when their data exists: no logs, so no daily curves, offline metrics or
    exposure; the verdict, trade-offs, lifts, sample sizes and methods are there."""
    page = other_reports["analyze"].read_text(encoding="utf-8")
    for s in ("verdict", "tradeoffs", "lifts", "samples", "methods"):
        assert f"<section id='{s}'>" in page, s
    for s in ("daily", "sequential", "offline", "exposure", "preview"):
        assert f"<section id='{s}'>" not in page and f"href='#{s}'" not in page, s
    a = other_reports["analysis"]
    assert html.escape(verdict_text(a["decision"])) in page
    assert set(re.findall(r"<figure id='fig-([a-z-]+)'>", page)) == {"forest-metrics", "forest-segments"}


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.browser
@pytest.mark.parametrize("which,charts", [("ab", len(CHARTS)), ("analyze", 2)])
def test_ab_and_analyze_reports_render_in_headless_chromium(other_reports, tmp_path, which, charts):
    exe = _chromium()
    if exe is None:
        print("skipped: no chromium, chromium-browser or google-chrome binary on PATH")
        pytest.skip("no chromium, chromium-browser or google-chrome binary on PATH")
    probe = ("<script>addEventListener('load',()=>{const im=[...document.querySelectorAll('img.chart')];"
             "document.body.setAttribute('data-decoded',im.filter(i=>i.complete&&i.naturalWidth>0).length)})</script>")
    page = tmp_path / "probe.html"
    page.write_text(other_reports[which].read_text(encoding="utf-8").replace("</body>", probe + "</body>"),
                    encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    dom = subprocess.run([exe, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert f'data-decoded="{charts}"' in dom
    assert "class=\"verdict " in dom


@pytest.mark.browser
def test_renders_in_headless_chromium(demo, tmp_path):
    exe = _chromium()
    if exe is None:
        print("skipped: no chromium, chromium-browser or google-chrome binary on PATH")
        pytest.skip("no chromium, chromium-browser or google-chrome binary on PATH")
    # a copy with a probe that counts the charts the browser actually decoded
    probe = ("<script>addEventListener('load',()=>{const im=[...document.querySelectorAll('img.chart')];"
             "document.body.setAttribute('data-decoded',im.filter(i=>i.complete&&i.naturalWidth>0).length)})</script>")
    page = tmp_path / "probe.html"
    page.write_text(demo["html"].replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu"]
    dom = subprocess.run([exe, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('<img class="chart"') == len(CHARTS)
    assert f'data-decoded="{len(CHARTS)}"' in dom
    assert len(re.findall(r'<figure id="fig-', dom)) == len(CHARTS)
    shot = tmp_path / "report.png"
    report = demo["out"] / "report.html"
    subprocess.run([exe, *flags, f"--screenshot={shot}", "--window-size=1280,4000", report.as_uri()],
                   capture_output=True, timeout=120)
    raw = shot.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 50_000
