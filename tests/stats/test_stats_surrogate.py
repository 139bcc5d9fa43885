"""The surrogate index: fit on a bank, leave-one-experiment-out validation against a known
surrogacy error, prediction intervals, persistence, bad input, the bank's machinery on a tiny
simulated run and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.cli import main
from recsys.core.errors import InputError
from recsys.core.io import write_json, write_table
from recsys.experiment.bank import (MENU, bank_configs, bank_rows, genre_concentration, long_term_prediction,
                                   window_dynamics, window_table)
from recsys.experiment.runner import run_experiment
from recsys.stats.surrogate import SurrogateIndex, validate
from recsys.stats.synthetic import synthetic_bank


@pytest.fixture(scope="module")
def fitted():
    bank, controls = synthetic_bank(20, 3000, seed=1, tau=0.03)
    return SurrogateIndex().fit(bank, controls, window=14, horizon=60), bank, controls


def test_validation_against_a_known_surrogacy_error(fitted):
    model, _, _ = fitted
    v = validate(model)
    assert v["experiments"] == 20 and v["comparisons"] == 60 and len(v["rows"]) == 60
    # the long-term effect carries an extra N(0, 0.03) on 3/4 of the outcome: tau ~ 0.02-0.03
    assert 0.01 < np.sqrt(model.tau2_) < 0.045
    assert v["surrogate"]["coverage"] >= 0.85
    assert v["naive"]["coverage"] < v["surrogate"]["coverage"]     # the naive interval ignores the model error
    assert v["surrogate"]["kendall_tau"] > 0.4 and v["index"]["coverage"] >= 0.85
    cal = v["calibration"]                              # no systematic surrogacy error here: a ~ 0, b ~ 1
    assert abs(cal["a"]) < 0.02 and 0.6 < cal["b"] < 1.4
    raw = SurrogateIndex(calibrate=False).fit(*fitted[1:], window=14, horizon=60)
    assert raw.calibration_ is None and "index" not in validate(raw)
    row = v["rows"][0]
    assert row["surrogate_ci_low"] < np.expm1(row["surrogate"]) < row["surrogate_ci_high"]
    assert set(model.features_) == {"watch_minutes", "sessions", "churned", "pre_watch_minutes"}


def test_a_new_experiment_is_predicted_with_both_errors(fitted):
    model, _, _ = fitted
    new, _ = synthetic_bank(1, 30_000, seed=77, tau=0.03)
    preds = model.predict_effect(new, "control")
    assert [p["arm"] for p in preds] == ["t0", "t1", "t2"]
    for p in preds:
        assert p["ci_low"] < p["estimate"] < p["ci_high"]
        coef_var = model.calibration_.coef_var(np.log1p(p["index_effect"]))
        assert p["se_model"] == pytest.approx(np.sqrt(model.tau2_ + coef_var)) and p["se_sampling"] > 0
        assert p["calibrated"] and p["log_effect"] == pytest.approx(model.calibration_.predict(np.log1p(p["index_effect"])))
        half = np.log1p(p["ci_high"]) - p["log_effect"]
        assert half == pytest.approx(1.959964 * np.hypot(p["se_model"], p["se_sampling"]), rel=1e-5)
        arm = new["arm"] == p["arm"]
        c = new["arm"] == "control"
        truth = new.loc[arm, "lt_watch_minutes"].mean() / new.loc[c, "lt_watch_minutes"].mean() - 1
        assert p["ci_low"] < truth < p["ci_high"]


def test_model_round_trips_through_json(fitted, tmp_path):
    model, bank, _ = fitted
    path = tmp_path / "model.json"
    write_json(path, model.to_dict())
    again = SurrogateIndex.load(path)
    part = bank[bank["experiment"] == "exp03"]
    np.testing.assert_allclose(again.index(part), model.index(part))
    assert again.predict_effect(part, "control") == model.predict_effect(part, "control")
    path.write_text(json.dumps({"outcome": "x"}))
    with pytest.raises(InputError, match="not a surrogate model file"):
        SurrogateIndex.load(path)


def test_surrogate_bad_input():
    bank, controls = synthetic_bank(4, 500, seed=2)
    with pytest.raises(InputError, match="at least 5 experiments"):
        SurrogateIndex().fit(bank, controls)
    bank, controls = synthetic_bank(5, 500, seed=2)
    with pytest.raises(InputError, match="horizon .10 days. must be longer than the surrogate window .14 days"):
        SurrogateIndex().fit(bank, controls, window=14, horizon=10)
    with pytest.raises(InputError, match="no control arm"):
        SurrogateIndex().fit(bank, {"exp00": "control"})
    with pytest.raises(InputError, match="lacks column"):
        SurrogateIndex(outcome="lt_nothing").fit(bank, controls)
    model = SurrogateIndex().fit(bank, controls, window=14, horizon=60)
    with pytest.raises(InputError, match="shorter than the surrogate window"):
        model.predict_effect(bank, "control", days=7)
    with pytest.raises(InputError, match="lacks surrogate column"):
        model.index(bank.drop(columns="sessions"))


def test_bank_configs_cycle_the_menu():
    cfgs = bank_configs(6, users=500, horizon=30, window=14, seed=3)
    assert [c.seed for c in cfgs] == [3, 4, 5, 6, 7, 8] and all(c.days == 30 for c in cfgs)
    names = [a.name for c in cfgs for a in c.arms[1:]]
    assert all(c.arms[0].name == "popularity" and abs(sum(a.share for a in c.arms) - 1) < 1e-9 for c in cfgs)
    assert all(len({a.name for a in c.arms}) == 4 for c in cfgs)
    assert len(set(names)) >= len(MENU) - 1            # 18 draws cover the 9 items
    with pytest.raises(InputError, match="at least 5 experiments"):
        bank_configs(4, users=500, horizon=30, window=14)
    with pytest.raises(InputError, match="longer than the surrogate window"):
        bank_configs(6, users=500, horizon=14, window=14)


def test_bank_rows_and_prediction_on_a_tiny_run():
    cfg = bank_configs(5, users=300, horizon=6, window=3, seed=1, warmup_days=7, arms_per_run=1)[0]
    result = run_experiment(cfg, keep_impressions=False)
    rows = bank_rows(result, 3)
    full = result.table
    assert {"watch_minutes_slope", "days_since_visit", "top_genre_share", "pre_top_genre_share"} <= set(rows.columns)
    assert rows["days_since_visit"].between(0, 3).all() and rows["top_genre_share"].between(0, 1).all()
    assert len(rows) == len(full) and (rows["days_observed"] <= 3).all()
    assert (rows["lt_watch_minutes"].to_numpy() >= rows["watch_minutes"].to_numpy() - 1e-6).all()
    assert (rows["lt_retained"] <= 1 - rows["churned"]).all()          # churned early: not retained
    assert (rows["sessions"] <= full["sessions"]).all() and rows["sessions"].sum() < full["sessions"].sum()
    with pytest.raises(InputError, match="shorter than the surrogate window"):
        window_table(result, 7)
    # a model fitted on five copies of this run's rows (as five experiments) predicts for it
    import pandas as pd

    bank = pd.concat([rows.assign(experiment=f"e{i}") for i in range(5)], ignore_index=True)
    model = SurrogateIndex(outcome="lt_sessions").fit(bank, {f"e{i}": "popularity" for i in range(5)}, window=3,
                                                      horizon=6)
    pred = long_term_prediction(model, result)
    assert pred["window"] == 3 and pred["predictions"][0]["arm"] == cfg.arms[1].name


def test_cli_bad_input_one_line_exit_2(tmp_path, capsys):
    for args, msg in ((["--runs", "3"], "at least 5 experiments"),
                      (["--horizon", "10", "--window", "14"], "must be longer than the surrogate window"),
                      (["--from", str(tmp_path / "nothing")], "no bank.json")):
        out = tmp_path / "o"
        assert main(["surrogate-bank", "--out", str(out), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1
        assert not out.exists()


def test_cli_refits_a_saved_bank(tmp_path, capsys):
    bank, controls = synthetic_bank(6, 1500, seed=4)
    src = tmp_path / "src"
    src.mkdir()
    write_table(src / "bank.parquet", bank)
    write_json(src / "bank.json", {"controls": controls, "runs": {}, "window": 14, "horizon": 60})
    out = tmp_path / "out"
    assert main(["surrogate-bank", "--from", str(src), "--out", str(out), "--json", str(tmp_path / "v.json")]) == 0
    text = capsys.readouterr().out
    assert "lt_watch_minutes: 18 held-out comparisons" in text and "naive" in text
    assert {p.name for p in out.iterdir()} == {"bank.parquet", "bank.json", "model_lt_watch_minutes.json",
                                               "model_lt_retained.json", "validation.json"}
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["runs"] == 6 and set(v["outcomes"]) == {"lt_watch_minutes", "lt_retained"}
    model = SurrogateIndex.load(out / "model_lt_watch_minutes.json")
    assert model.window_ == 14 and model.horizon_ == 60 and model.n_experiments_ == 6


def test_calibration_corrects_a_systematic_surrogacy_failure():
    bank, controls = synthetic_bank(16, 3000, seed=6, tau=0.01, drift=0.08)
    cal = validate(SurrogateIndex().fit(bank, controls, window=14, horizon=60))
    raw = validate(SurrogateIndex(calibrate=False).fit(bank, controls, window=14, horizon=60))
    assert cal["calibration"]["a"] > 0.03                      # the drift the short term cannot see
    assert cal["surrogate"]["mean_abs_error"] < 0.7 * raw["surrogate"]["mean_abs_error"]
    assert cal["surrogate"]["coverage"] >= 0.85


def test_window_dynamics_on_hand_made_logs():
    import pandas as pd
    import scipy.sparse as sp

    from recsys.core.logs import Logs

    # titles: 0 in genre 0; 1 in genres 0 and 1; 2 in genre 2
    genres = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], np.float32))
    plays = pd.DataFrame({"user_id": [5, 5, 5, 9], "day": [0, 3, 5, 1], "title": [0, 1, 2, 0],
                          "minutes": [60.0, 40.0, 20.0, 10.0], "completed": [True, False, False, True],
                          "abandoned_early": [False, False, True, False]})
    sessions = pd.DataFrame({"user_id": [5, 5, 5, 9], "day": [0, 3, 5, 1],
                             "repetition": [np.nan, 0.5, 0.3, np.nan]})
    out = window_dynamics(Logs(plays=plays, sessions=sessions, impressions=None), np.array([9, 5, 7]), 6, genres)
    # user 5: minutes 60, 40, 20 on days 0, 3, 5 (centre 2.5, sum of squares 17.5)
    assert out["watch_minutes_slope"][1] == pytest.approx((60 * -2.5 + 40 * 0.5 + 20 * 2.5) / 17.5)
    assert out["sessions_slope"][1] == pytest.approx((-2.5 + 0.5 + 2.5) / 17.5)
    assert out["last4_watch_minutes"].tolist() == [0.0, 60.0, 0.0] and out["last4_sessions"].tolist() == [0, 2, 0]
    assert out["days_since_visit"].tolist() == [4, 0, 6]          # user 7 never came: the window's length
    assert out["completion_rate"].tolist() == pytest.approx([1, 1 / 3, 0])
    assert out["abandon_rate"].tolist() == pytest.approx([0, 1 / 3, 0])
    # user 5's minutes by genre: 60 + 20, 20, 20 of 120
    share = np.array([80, 20, 20]) / 120
    assert out["top_genre_share"].tolist() == pytest.approx([1.0, 80 / 120, 0.0])
    assert out["genre_entropy"][1] == pytest.approx(-(share * np.log(share)).sum()) and out["genre_entropy"][0] == 0
    assert out["recent_top_genre_share"][1] == pytest.approx(1 / 3)   # days 3-5: 20, 20, 20 minutes by genre
    assert out["mean_repetition"].tolist() == pytest.approx([0.0, 0.4, 0.0])
    top, entropy = genre_concentration(plays[plays["user_id"] == 9], np.array([9, 5]), genres)
    assert top.tolist() == [1.0, 0.0] and entropy.tolist() == [0.0, 0.0]
