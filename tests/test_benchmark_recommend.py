"""``benchmarks/recommend.py`` runs end to end on a tiny matrix (its figures come from full runs)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_recommend_benchmark_runs_and_reports_every_figure(tmp_path):
    out = tmp_path / "rec.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recommend.py"), "--users", "600", "--titles", "400",
                           "--plays", "8", "--batch", "250", "--latency-users", "5", "--repeat", "2",
                           "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    for key in ("fit_als_s", "fit_bpr_s", "implicit_users_per_s", "ours_pages_per_s", "ratio",
                "page_latency_ms_p50", "page_latency_ms_p99"):
        assert res[key] > 0, key
    assert len(res["implicit_runs"]) == len(res["ours_runs"]) == 2
    assert "ratio ours / implicit" in proc.stdout
