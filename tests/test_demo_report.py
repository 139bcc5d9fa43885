"""The `recsys demo` HTML report: sections in order, every chart present and decodable, no
external resources, numbers taken from the analysis, and a headless Chromium render."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

import recsys.jobs
from recsys.cli import main
from recsys.report.demo import render_demo_report, report_data

SECTIONS = ["verdict", "tradeoffs", "lifts", "daily", "sequential", "samples", "offline", "exposure", "methods"]
#: the charts the report promises: forest plots (metrics, segments), daily curves, sequential, exposure
CHARTS = {"forest-metrics", "forest-segments", "daily", "sequential", "exposure"}
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
    # the demo shows one active user's homepage per segment of the treatment arm
    preview = page[page.index("<section id='preview'>"):page.index("<section id='methods'>")]
    table = demo["job"].result.table
    segments = set(table.loc[(table["arm"] == "hybrid") & (table["churned"] == 0) & (table["sessions"] > 0), "segment"])
    assert preview.count('class="rp-home"') == len(segments) >= 3


def test_verdict_and_reasons_come_from_the_decision(demo):
    dec = demo["analysis"]["decision"]
    v = _section(demo["html"], "verdict")
    assert f"class='verdict {dec['verdict']}'" in v
    assert dec["verdict"].upper() in v
    for reason in dec["reasons"]:
        assert html.escape(reason) in v


def test_tradeoff_table_has_every_metric_and_guardrail_tolerance(demo):
    a = demo["analysis"]
    t = _section(demo["html"], "tradeoffs")
    rows = t.count("<tr>") - 1
    assert rows == len([r for r in a["results"] if r["segment"] == "all"])
    for r in a["results"]:
        if r["segment"] == "all":
            assert f"<td>{r['metric']}<span" in t
    guards = a["decision"]["roles"]["guardrails"]
    assert guards and t.count("tolerance:") == len(guards)
    statuses = {x["metric"]: x["guardrail"] for x in a["decision"]["tradeoffs"] if x["guardrail"]}
    for status in statuses.values():
        assert f"b-{status}'>{status}<" in t
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
    metrics = {roles["primary"], *roles["guardrails"]}
    assert {s["metric"] for s in seq} == metrics
    assert sorted({s["day"] for s in seq}) == list(range(4))
    for s in seq:
        assert {"day", "arm", "metric", "estimate", "ci_low", "ci_high", "p_value", "reject"} <= set(s)
    sec = _section(demo["html"], "sequential")
    assert sec.count("<tr><td>") == 4 + len(metrics)   # primary by day, then one row per monitored metric


def test_samples_offline_exposure(demo):
    a, job = demo["analysis"], demo["job"]
    s = _section(demo["html"], "samples")
    for arm, n in a["srm"]["counts"].items():
        assert f"{n:,}" in s
    for seg, n in job.result.table["segment"].value_counts().items():
        assert f"<td class='l'>{seg}</td>" in s and f"{n:,}" in s
    off = _section(demo["html"], "offline")
    assert "NDCG@10" in off and all(f"<td class='l'>{arm}</td>" in off for arm in a["arms"])
    ex = _section(demo["html"], "exposure")
    assert "long-tail share" in ex and all(f"<td class='l'>{arm}</td>" in ex for arm in a["arms"])


def test_methods_name_what_was_run(demo):
    a = demo["analysis"]
    m = _section(demo["html"], "methods")
    for word in ("Welch", "delta method", "CUPED", "Holm", "chi-squared", "Cochran", "always-valid", "bootstrap"):
        assert word in m, word
    for r in a["results"]:
        if r["segment"] == "all" and r.get("variance_reduction") is not None:
            assert f"{100 * r['variance_reduction']:.1f}%" in m


def test_preview_section_when_given(demo):
    job = demo["job"]
    offline = pd.DataFrame({"arm": job.analysis["arms"], "ndcg": 0.1, "precision": 0.1, "recall": 0.1, "map": 0.1,
                            "coverage": 0.1, "ild": 0.1, "novelty": 0.1, "longtail": 0.1})
    frag = {"new": "<div class='homepage'>row for a new user</div>", "power": "<div class='homepage'>power row</div>"}
    page = render_demo_report(job, frag, data=report_data(job, offline))
    sec = _section(page, "preview")
    assert all(f in sec for f in frag.values()) and "What users see" in sec
    assert page.index("<section id='preview'>") < page.index("<section id='methods'>")
    assert page.index("<section id='exposure'>") < page.index("<section id='preview'>")


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


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
