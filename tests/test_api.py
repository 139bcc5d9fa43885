"""The public Python API (recsys/api.py): names at the top level, frames in and out, bad input
as one InputError; the strategic catalog metrics a file names reach the JSON, the terminal and
the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import recsys
from recsys.core.errors import InputError
from recsys.report.experiment import render_job_report
from recsys.report.text import render_analysis

SMALL = dict(users=800, days=2, seed=3, world={"titles": 200})


def test_every_public_name_is_documented():
    for name in recsys.__all__:
        if name == "__version__":
            continue
        obj = getattr(recsys, name)
        assert (obj.__doc__ or "").strip(), name
    with pytest.raises(AttributeError):
        recsys.no_such_name


def test_interaction_matrix_reads_both_formats():
    offline = pd.DataFrame({"user": [0, 0, 2, 2], "item": [1, 1, 0, 3], "weight": [0.5, 0.25, 1.0, 0.1]})
    X = recsys.interaction_matrix(offline)
    assert X.shape == (3, 4) and X.dtype == np.float32
    assert X[0, 1] == pytest.approx(0.75) and X[2, 3] == pytest.approx(0.1)   # duplicates summed
    plays = pd.DataFrame({"user_id": [1, 1, 4], "title": [2, 2, 0], "minutes": [30.0, 5.0, 12.0]})
    Y = recsys.interaction_matrix(plays, n_users=6, n_items=5)
    assert Y.shape == (6, 5) and Y[1, 2] == 2 and Y[4, 0] == 1                  # a play counts 1


@pytest.mark.parametrize("frame,needle", [
    (pd.DataFrame({"who": [1], "item": [2]}), "no user column"),
    (pd.DataFrame({"user": ["a"], "item": [2]}), "non-negative integer ids"),
    (pd.DataFrame({"user": [-1], "item": [2]}), "non-negative integer ids"),
    (pd.DataFrame({"user": [0], "item": [2], "weight": [np.nan]}), "missing or infinite"),
])
def test_interaction_matrix_bad_input(frame, needle):
    with pytest.raises(InputError, match=needle):
        recsys.interaction_matrix(frame)


@pytest.mark.parametrize("arms,needle", [
    ("hybrid", "dict"),
    ({"a": "popularity", "b": "magic"}, "unknown policy 'magic'"),
    ({"a": "popularity", "b": ("hybrid", 3)}, "(policy, params)"),
    ({"a": "popularity", "b": object()}, "does not follow a contract"),
])
def test_run_experiment_bad_arms(arms, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        recsys.run_experiment(arms, **SMALL)


def test_names_strategic_metrics_and_reports_them():
    from recsys.models import ItemKNN

    exp = recsys.run_experiment({"popularity": "popularity", "knn": (ItemKNN(), {"diversity": 0.3})},
                                metrics={"primary": "ctr", "guardrails": {"churn_rate": 0.1},
                                         "strategic": ["coverage", "long_tail_share"]}, **SMALL)
    assert isinstance(exp.analysis, recsys.Analysis) and isinstance(exp.decision, recsys.Decision)
    frame = exp.analysis.to_frame()
    assert {"metric", "segment", "arm", "rel_lift", "p_value"} <= set(frame.columns)
    assert exp.decision.to_frame()["test"].iloc[0] == "sample ratio"
    strategic = {r["metric"]: r for r in exp.json["strategic"]}
    assert set(strategic) == {"coverage", "long_tail_share"}
    cov = exp.summary["coverage"]
    assert strategic["coverage"]["diff"] == pytest.approx(cov["knn"] - cov["popularity"])
    assert strategic["coverage"]["treatment"] > strategic["coverage"]["control"]   # kNN reaches past the head
    assert "Strategic catalog metrics" in render_analysis(exp.json)
    from recsys.jobs import gather_evidence

    html = render_job_report(exp, gather_evidence(exp.result, ["popularity", "knn"], offline=False))
    assert "id='strategic'" in html and "long_tail_share" in html
    # without strategic metrics in the file there is no block
    plain = recsys.run_experiment(["popularity", "random"], **SMALL)
    assert "strategic" not in plain.json and "Strategic" not in render_analysis(plain.json)


def test_analyze_and_report_any_table(tmp_path):
    from recsys.stats.synthetic import synthetic_table

    table = synthetic_table(4000, arms=("control", "treatment"), effects={"treatment": {"ctr": 1.05}}, seed=2)
    analysis = recsys.analyze(table, control="control")
    assert recsys.decide(analysis).verdict in ("ship", "no-ship", "investigate", "inconclusive")
    path = recsys.write_report(analysis, tmp_path / "r.html", title="mine")
    assert path.read_text().count("<section") >= 3
    with pytest.raises(InputError, match="experiment or an Analysis"):
        recsys.write_report({"not": "a result"}, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
