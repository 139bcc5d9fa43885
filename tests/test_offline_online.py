"""Offline against online: Kendall's tau per offline figure (against scipy, with its bootstrap
interval) and the scatter chart, on a frame of policies built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recsys.evaluate.offline_online import agreement, kendall_tau_b
from recsys.report.agreement import agreement_chart


@pytest.fixture
def policies():
    """Six policies: NDCG orders them as the CTR lift does; coverage in the reverse order; the
    off-policy CTR has one swapped pair and a tie."""
    lift = np.array([0.0, -0.05, 0.10, 0.20, 0.15, 0.30])
    return pd.DataFrame({
        "arm": [f"p{i}" for i in range(6)],
        "ctr_lift": lift, "ctr_lift_ci_low": lift - 0.05, "ctr_lift_ci_high": lift + 0.05,
        "watch_minutes_lift": -lift,
        "ndcg": 0.1 + lift, "coverage": 1.0 - lift,
        "ope_ctr": np.array([0.15, 0.14, 0.17, 0.17, 0.18, 0.19]),
        "ope_ctr_ci_low": np.full(6, 0.1), "ope_ctr_ci_high": np.full(6, 0.25),
        "ope_qualified": np.array([0.13, 0.12, 0.16, 0.15, 0.17, 0.18])})


def test_kendall_tau_per_offline_figure_matches_scipy(policies):
    taus = agreement(policies, offline=("ndcg", "coverage", "ope_ctr"), online=("ctr_lift", "watch_minutes_lift"),
                     n_boot=300).set_index(["offline", "online"])
    assert len(taus) == 6
    assert taus.loc[("ndcg", "ctr_lift"), "tau"] == pytest.approx(1.0)
    assert taus.loc[("coverage", "ctr_lift"), "tau"] == pytest.approx(-1.0)
    assert taus.loc[("ndcg", "watch_minutes_lift"), "tau"] == pytest.approx(-1.0)
    ref = stats.kendalltau(policies["ope_ctr"], policies["ctr_lift"])
    assert taus.loc[("ope_ctr", "ctr_lift"), "tau"] == pytest.approx(ref.statistic)
    assert taus.loc[("ope_ctr", "ctr_lift"), "p_value"] == pytest.approx(ref.pvalue)
    assert 0 < ref.statistic < 1                                # the swap and the tie cost something
    for _, r in taus.iterrows():
        assert r["ci_low"] <= r["tau"] + 1e-12 and r["tau"] - 1e-12 <= r["ci_high"]
        assert r["policies"] == 6
    # a perfect ranking stays perfect in every resample that has two distinct policies
    assert taus.loc[("ndcg", "ctr_lift"), "ci_low"] == pytest.approx(1.0)


def test_vectorised_tau_b_matches_scipy_on_resamples_with_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, (200, 7)).astype(float)        # many ties, some constant rows
    y = rng.normal(size=(200, 7)).round(1)
    got = kendall_tau_b(x, y)
    want = np.array([stats.kendalltau(a, b).statistic for a, b in zip(x, y)])
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(kendall_tau_b(np.ones(5), np.arange(5.0))[0])


def test_agreement_chart_renders_png_and_svg(policies):
    taus = agreement(policies, n_boot=50)
    png = agreement_chart(policies, taus, offline=("ndcg",), fmt="png")
    svg = agreement_chart(policies, taus, fmt="svg")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    text = svg.decode()
    assert "<svg" in text and "Kendall tau +1.00" in text and "p5" in text


@pytest.mark.slow       # about 6 s of CPU (a warm-up, three fits, an A/B and the estimates)
def test_one_command_writes_the_table_the_taus_and_the_chart(tmp_path):
    """experiments/offline_online.py, tiny: three policies in a small world."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "world.toml").write_text("[world]\ntitles = 300\ncast = 150\n")
    script = Path(__file__).resolve().parents[1] / "experiments" / "offline_online.py"
    proc = subprocess.run([sys.executable, str(script), "--config", "world.toml", "--users", "400", "--days", "1",
                           "--warmup-days", "7", "--window", "3", "--policies", "random,content", "--out", "oo"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "oo"
    df = pd.read_csv(out / "policies.csv")
    assert list(df["arm"]) == ["popularity", "random", "content"]
    assert df.loc[0, "ctr_lift"] == 0.0 and df[["ndcg", "coverage", "ope_ctr", "ope_ctr_truth"]].notna().all().all()
    taus = pd.read_csv(out / "taus.csv")
    assert len(taus) == 8 and (taus["policies"] == 3).all()
    written = pd.DataFrame(json.loads((out / "agreement.json").read_text())["taus"])
    np.testing.assert_allclose(written["tau"], taus["tau"])
    assert (out / "agreement.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (out / "agreement.svg").read_bytes()
