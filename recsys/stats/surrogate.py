"""The surrogate index (Athey, Chetty, Imbens and Kang 2019): a long-term effect from short-term metrics.

A bank of past experiments, each run to a long horizon, gives per-user rows of short-term
surrogates S (the first weeks' per-user table and the ``pre_*`` covariates) beside the
long-term outcome Y (``lt_*`` columns: minutes over the horizon, retained at its end). A
model f(S) ~ E[Y | S] is fitted on the pooled users of the bank; for a new experiment, the
surrogate index of each user is f(S), and the predicted long-term effect is the arms'
contrast of mean f(S), on the log scale: ``log(mean_t f / mean_c f)`` (a relative effect, so
experiments of different sizes and baselines are comparable).

The interval accounts for two errors:

* sampling: the delta-method variance of the log ratio of mean f(S) over the experiment's users;
* the model's error ("surrogacy" error): how far the predicted effects of the bank's own
  experiments fall from their measured long-term effects when each is held out of the fit
  (leave one experiment out). Its variance ``tau2`` is estimated by the method of moments,
  mean((truth - prediction)^2 - the sampling variance of that difference), floored at 0, as
  DerSimonian and Laird do for between-study variance.

The interval is ``exp(s +- z sqrt(v + tau2)) - 1``.

**Calibration** (on by default). The index assumes surrogacy: that the treatment reaches the
long term only through the surrogates. Where it does not, the index's effects miss the long-term
effects systematically; in this world, a frozen popularity control keeps wearing out after the
window, so every arm's long-term advantage over it exceeds what its first weeks predict. A
regression across the bank's held-out experiments of measured long-term effects on the index's
predicted ones (truth = a + b s) corrects that, as proxy metrics are calibrated on past
experiments; the interval then also carries the uncertainty of (a, b). It is valid for new
experiments like the bank's: against the same control policy.

:func:`validate` reports, over the held-out
experiments, how often the interval covers the measured long-term effect (with the variance of
the difference between the two, which share their users), the rank agreement (Kendall's tau)
of predicted and measured effects, and the same for the naive answer "the short-term effect is
the long-term effect". The model is a ridge regression on standardised features, with each
feature also interacted with "still subscribed at the end of the window" (a lapsed user's
future is flat), so it writes to JSON whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.errors import InputError

#: short-term per-user columns used as surrogates when present (plus every pre_* column)
SURROGATES = ("watch_minutes", "sessions", "active_days", "plays", "completions", "early_abandons", "clicks",
              "impressions", "churned", "days_observed", "recent_watch_minutes", "recent_sessions",
              # the window's dynamics (recsys.experiment.bank.window_dynamics): trend, recency, genre concentration
              "watch_minutes_slope", "sessions_slope", "last4_watch_minutes", "last4_sessions", "days_since_visit",
              "completion_rate", "abandon_rate", "top_genre_share", "genre_entropy", "recent_top_genre_share",
              "mean_repetition")
#: long-term outcomes a bank carries, and the short-term column the naive answer reads for each
OUTCOMES = {"lt_watch_minutes": "watch_minutes", "lt_retained": "retained", "lt_sessions": "sessions"}
#: fewest experiments (runs) a bank needs before a model's error can be estimated
MIN_EXPERIMENTS = 5


def _short_value(table: pd.DataFrame, col: str) -> np.ndarray:
    if col == "retained":
        return 1.0 - table["churned"].to_numpy(np.float64)
    return table[col].to_numpy(np.float64)


@dataclass
class SurrogateIndex:
    """A surrogate index for one long-term ``outcome`` (an ``lt_*`` column of the bank).

    Parameters: ``surrogates`` (None: :data:`SURROGATES` present in the bank, and its ``pre_*``
    columns), ``ridge`` (the penalty on standardised coefficients), ``alpha`` (interval level).
    ``fit`` takes a bank: a per-user DataFrame with ``experiment`` (the run it came from, the
    unit held out), ``arm``, the surrogate columns and the outcome, and ``controls`` {experiment:
    control arm}. Fitted state: ``features_``, ``mean_``, ``scale_``, ``coef_``, ``intercept_``,
    ``tau2_`` (the model-error variance of a predicted log effect), ``calibration_`` (the
    :class:`Calibration` of the index's effects, when ``calibrate``), ``holdout_`` (the
    leave-one-experiment-out predictions: :func:`validate`'s rows), ``window_``, ``horizon_``.
    """

    outcome: str = "lt_watch_minutes"
    surrogates: Sequence[str] | None = None
    ridge: float = 1.0
    alpha: float = 0.05
    calibrate: bool = True

    # --- features ---------------------------------------------------------------------------
    def _base_columns(self, columns) -> list[str]:
        if self.surrogates is not None:
            missing = [c for c in self.surrogates if c not in columns]
            if missing:
                raise InputError(f"surrogate column(s) {', '.join(missing)} not in the table")
            return list(self.surrogates)
        return [c for c in SURROGATES if c in columns] + sorted(c for c in columns if str(c).startswith("pre_"))

    @staticmethod
    def _design(table: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
        x = np.column_stack([np.nan_to_num(table[c].to_numpy(np.float64)) for c in cols])
        logs = np.log1p(np.clip(x, 0, None))
        alive = (1.0 - table["churned"].to_numpy(np.float64))[:, None] if "churned" in table.columns else \
            np.ones((len(table), 1))
        return np.hstack([x, logs, alive * x, alive * logs, alive])

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray):
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (x - mean) / scale
        y_mean = y.mean()
        a = z.T @ z + self.ridge * np.eye(z.shape[1])
        coef = np.linalg.solve(a, z.T @ (y - y_mean))
        return mean, scale, coef, float(y_mean)

    def _predict_arrays(self, x, mean, scale, coef, intercept) -> np.ndarray:
        return ((x - mean) / scale) @ coef + intercept

    # --- fit --------------------------------------------------------------------------------
    def fit(self, bank: pd.DataFrame, controls: Mapping[str, str], *, window: int | None = None,
            horizon: int | None = None) -> "SurrogateIndex":
        """Fit on every experiment of ``bank``; estimate the model's error by leaving each out."""
        for col in ("experiment", "arm", self.outcome):
            if col not in bank.columns:
                raise InputError(f"the bank lacks column {col!r}")
        if window is not None and horizon is not None and horizon <= window:
            raise InputError(f"the horizon ({horizon} days) must be longer than the surrogate window ({window} days)")
        exps = list(dict.fromkeys(bank["experiment"]))
        if len(exps) < MIN_EXPERIMENTS:
            raise InputError(f"a surrogate bank needs at least {MIN_EXPERIMENTS} experiments to estimate the model's "
                             f"error; this one has {len(exps)}")
        missing = [e for e in exps if e not in controls]
        if missing:
            raise InputError(f"no control arm given for experiment {missing[0]!r}")
        cols = self._base_columns(bank.columns)
        x = self._design(bank, cols)
        y = bank[self.outcome].to_numpy(np.float64)
        exp_col = bank["experiment"].to_numpy()
        rows = []
        for e in exps:   # leave one experiment out
            out = exp_col == e
            params = self._fit_arrays(x[~out], y[~out])
            pred = self._predict_arrays(x[out], *params)
            rows += _contrasts(bank[out], pred, y[out], controls[e], e, OUTCOMES.get(self.outcome))
        hold = pd.DataFrame(rows)
        hold["v_diff"] = (hold["v_yy"] + hold["v_ff"] - 2 * hold["c_yf"]).clip(lower=0)
        self.tau2_raw_ = _tau2(hold, "surrogate", "v_diff")
        # each held-out experiment's interval uses the model error (and calibration) estimated without it
        hold["tau2_raw"] = [_tau2(hold[hold["experiment"] != e], "surrogate", "v_diff") for e in hold["experiment"]]
        self.calibration_ = None
        if self.calibrate:
            for e in pd.unique(hold["experiment"]):
                cal = _calibration(hold[hold["experiment"] != e])
                at = hold["experiment"] == e
                hold.loc[at, "calibrated"] = cal.predict(hold.loc[at, "surrogate"])
                hold.loc[at, "v_coef"] = cal.coef_var(hold.loc[at, "surrogate"])
                hold.loc[at, "b"] = cal.b
            hold["v_diff_cal"] = (hold["v_yy"] + hold["b"] ** 2 * hold["v_ff"]
                                  - 2 * hold["b"] * hold["c_yf"]).clip(lower=0)
            hold["v_cal_total"] = hold["v_diff_cal"] + hold["v_coef"]
            hold["tau2"] = [_tau2(hold[hold["experiment"] != e], "calibrated", "v_cal_total")
                            for e in hold["experiment"]]
            self.calibration_ = _calibration(hold)
            self.tau2_ = _tau2(hold.assign(calibrated=self.calibration_.predict(hold["surrogate"])), "calibrated",
                               "v_cal_total")
        else:
            hold["tau2"] = hold["tau2_raw"]
            self.tau2_ = self.tau2_raw_
        self.holdout_ = hold
        self.features_ = cols
        self.mean_, self.scale_, self.coef_, self.intercept_ = self._fit_arrays(x, y)
        self.window_, self.horizon_ = window, horizon
        self.n_experiments_ = len(exps)
        self.n_users_ = int(len(bank))
        return self

    # --- predict ----------------------------------------------------------------------------
    def index(self, table: pd.DataFrame) -> np.ndarray:
        """Each user's surrogate index: the predicted long-term outcome."""
        missing = [c for c in self.features_ if c not in table.columns]
        if missing:
            raise InputError(f"the table lacks surrogate column(s) {', '.join(missing)}")
        return self._predict_arrays(self._design(table, self.features_), self.mean_, self.scale_, self.coef_,
                                    self.intercept_)

    def predict_effect(self, table: pd.DataFrame, control: str, *, days: int | None = None) -> list[dict]:
        """The predicted long-term effect of each arm against ``control`` with the interval
        (sampling and model error): records {arm, estimate (relative), ci_low, ci_high, log_effect,
        se_sampling, se_model, control_index, treatment_index, outcome, horizon}. ``days``: the
        experiment's length, which must cover the surrogate window."""
        if days is not None and self.window_ is not None and days < self.window_:
            raise InputError(f"the experiment ran {days} days, shorter than the surrogate window of {self.window_} "
                             "days the model was fitted on")
        f = self.index(table)
        arm = table["arm"].astype(str).to_numpy()
        if control not in set(arm):
            raise InputError(f"unknown control arm {control!r}")
        z = float(sps.norm.isf(self.alpha / 2))
        out = []
        for a in sorted(set(arm) - {control}):
            raw, v, fc, ft = _log_ratio(f[arm == control], f[arm == a])
            cal = self.calibration_
            s = float(cal.predict(raw)) if cal is not None else raw
            v_s = float(v * cal.b ** 2) if cal is not None else v
            v_model = self.tau2_ + (float(cal.coef_var(raw)) if cal is not None else 0.0)
            se = float(np.sqrt(v_s + v_model))
            out.append({"arm": a, "outcome": self.outcome, "horizon": self.horizon_, "estimate": float(np.expm1(s)),
                        "ci_low": float(np.expm1(s - z * se)), "ci_high": float(np.expm1(s + z * se)),
                        "log_effect": s, "se_sampling": float(np.sqrt(v_s)), "se_model": float(np.sqrt(v_model)),
                        "index_effect": float(np.expm1(raw)), "calibrated": cal is not None,
                        "control_index": fc, "treatment_index": ft})
        return out

    # --- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"model": "surrogate-index-ridge", "outcome": self.outcome, "ridge": self.ridge, "alpha": self.alpha,
                "features": list(self.features_), "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "coef": self.coef_.tolist(), "intercept": self.intercept_, "tau2": self.tau2_,
                "calibration": None if self.calibration_ is None else self.calibration_.to_dict(),
                "window": self.window_, "horizon": self.horizon_, "experiments": self.n_experiments_,
                "users": self.n_users_}

    @classmethod
    def from_dict(cls, d: Mapping) -> "SurrogateIndex":
        try:
            m = cls(outcome=d["outcome"], surrogates=list(d["features"]), ridge=float(d["ridge"]),
                    alpha=float(d["alpha"]))
            m.features_ = list(d["features"])
            m.mean_, m.scale_, m.coef_ = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
            m.intercept_, m.tau2_ = float(d["intercept"]), float(d["tau2"])
            m.calibration_ = None if d.get("calibration") is None else Calibration.from_dict(d["calibration"])
            m.calibrate = m.calibration_ is not None
            m.window_, m.horizon_ = d.get("window"), d.get("horizon")
            m.n_experiments_, m.n_users_ = int(d["experiments"]), int(d["users"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a surrogate model file: {exc}") from None
        if len(m.coef_) != 4 * len(m.features_) + 1:
            raise InputError("not a surrogate model file: coefficients do not match the features")
        return m

    @classmethod
    def load(cls, path: str | Path) -> "SurrogateIndex":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read surrogate model {path}: {exc}") from None


def _log_ratio(c: np.ndarray, t: np.ndarray) -> tuple[float, float, float, float]:
    """log(mean t / mean c) and its delta-method variance (independent arms)."""
    mc, mt = c.mean(), t.mean()
    with np.errstate(all="ignore"):
        v = c.var(ddof=1) / (len(c) * mc * mc) + t.var(ddof=1) / (len(t) * mt * mt)
        return float(np.log(mt / mc)), float(v), float(mc), float(mt)


def _paired_var(c_a, c_b, t_a, t_b) -> float:
    """Variance of [log(mean t_a / mean c_a) - log(mean t_b / mean c_b)] when a and b are
    measured on the same users (per-arm influence functions, arms independent)."""
    v_aa, v_bb, c_ab = _paired_parts(c_a, c_b, t_a, t_b)
    return max(v_aa + v_bb - 2 * c_ab, 0.0)        # >= 0 up to rounding


def _paired_parts(c_a, c_b, t_a, t_b) -> tuple[float, float, float]:
    """The variances of the two log ratios and their covariance (same users, arms independent),
    so that the variance of log-ratio(a) - k log-ratio(b) is v_aa + k^2 v_bb - 2 k c_ab."""
    out = np.zeros(3)
    with np.errstate(all="ignore"):
        for a, b in ((c_a, c_b), (t_a, t_b)):
            ia, ib = (a - a.mean()) / a.mean(), (b - b.mean()) / b.mean()
            n = len(a)
            out += [ia.var(ddof=1) / n, ib.var(ddof=1) / n, np.cov(ia, ib)[0, 1] / n]
    return float(out[0]), float(out[1]), float(out[2])


@dataclass(frozen=True)
class Calibration:
    """truth = a + b x (the index's predicted log effect), by least squares across the bank's
    held-out comparisons, with the coefficients' covariance."""

    a: float
    b: float
    cov: tuple[tuple[float, float], tuple[float, float]]

    def predict(self, x):
        return self.a + self.b * np.asarray(x, dtype=np.float64)

    def coef_var(self, x):
        x = np.asarray(x, dtype=np.float64)
        (caa, cab), (_, cbb) = self.cov
        return caa + 2 * x * cab + x * x * cbb

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "cov": [list(r) for r in self.cov]}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        cov = np.asarray(d["cov"], dtype=np.float64)
        return cls(float(d["a"]), float(d["b"]), ((cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])))


def _calibration(rows: pd.DataFrame) -> Calibration:
    x = rows["surrogate"].to_numpy(np.float64)
    y = rows["truth"].to_numpy(np.float64)
    X = np.column_stack([np.ones(len(x)), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    dof = max(len(y) - 2, 1)
    cov = (resid @ resid / dof) * np.linalg.pinv(X.T @ X)
    return Calibration(float(coef[0]), float(coef[1]), ((cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])))


def _contrasts(table: pd.DataFrame, pred: np.ndarray, y: np.ndarray, control: str, experiment,
               short: str | None) -> list[dict]:
    """Per treatment arm of one held-out experiment: the measured long-term log effect, the
    surrogate's and the naive short-term one, and the variances the coverage checks need."""
    arm = table["arm"].astype(str).to_numpy()
    c = arm == control
    x = _short_value(table, short) if short else None
    out = []
    for a in sorted(set(arm) - {control}):
        t = arm == a
        truth, v_truth, yc, _ = _log_ratio(y[c], y[t])
        s, v_s, _, _ = _log_ratio(pred[c], pred[t])
        v_yy, v_ff, c_yf = _paired_parts(y[c], pred[c], y[t], pred[t])
        rec = {"experiment": experiment, "arm": a, "control": control, "n_control": int(c.sum()),
               "n_treatment": int(t.sum()), "truth": truth, "v_truth": v_truth, "surrogate": s, "v_surrogate": v_s,
               "v_yy": v_yy, "v_ff": v_ff, "c_yf": c_yf, "control_outcome": yc}
        if x is not None:
            n, v_n, _, _ = _log_ratio(x[c], x[t])
            rec.update({"naive": n, "v_naive": v_n, "v_naive_diff": _paired_var(y[c], x[c], y[t], x[t])})
        out.append(rec)
    return out


def _tau2(hold: pd.DataFrame, pred: str, var: str) -> float:
    """Method-of-moments variance of the model error of a predicted log effect: the mean squared
    miss beyond the variance ``var`` it has anyway (floored at 0)."""
    if hold.empty:
        return 0.0
    r = (hold["truth"] - hold[pred]).to_numpy()
    return float(max(0.0, np.mean(r * r - hold[var].to_numpy())))


def validate(model: SurrogateIndex) -> dict:
    """Leave-one-experiment-out check of a fitted model: per held-out comparison the measured
    long-term effect, the surrogate's prediction and interval, the naive short-term effect and
    interval, whether each covers; the coverage rates and each estimate's Kendall's tau with
    the measured effects (over comparisons), and the mean absolute errors (relative scale)."""
    h = model.holdout_.copy()
    z = float(sps.norm.isf(model.alpha / 2))
    h["index"] = h["surrogate"]
    h["index_covered"] = np.abs(h["truth"] - h["index"]) <= z * np.sqrt(h["v_diff"] + h["tau2_raw"])
    if model.calibrate:     # the model's answer: the calibrated index
        h["surrogate"] = h["calibrated"]
        h["covered"] = np.abs(h["truth"] - h["surrogate"]) <= z * np.sqrt(h["v_cal_total"] + h["tau2"])
        half = z * np.sqrt(h["b"] ** 2 * h["v_surrogate"] + h["v_coef"] + h["tau2"])
    else:
        h["covered"] = h["index_covered"]
        half = z * np.sqrt(h["v_surrogate"] + h["tau2"])
    h["surrogate_ci_low"] = np.expm1(h["surrogate"] - half)
    h["surrogate_ci_high"] = np.expm1(h["surrogate"] + half)
    out = {"outcome": model.outcome, "horizon": model.horizon_, "window": model.window_,
           "experiments": int(h["experiment"].nunique()), "comparisons": int(len(h)), "alpha": model.alpha,
           "tau2": model.tau2_, "calibrated": bool(model.calibrate),
           "calibration": None if model.calibration_ is None else model.calibration_.to_dict()}

    def score(col: str, covered: str) -> dict:
        tau = sps.kendalltau(h["truth"], h[col]).statistic if len(h) > 1 else float("nan")
        return {"coverage": float(h[covered].mean()), "kendall_tau": float(tau),
                "mean_abs_error": float(np.mean(np.abs(np.expm1(h[col]) - np.expm1(h["truth"]))))}

    out["surrogate"] = score("surrogate", "covered")
    if model.calibrate:
        out["index"] = score("index", "index_covered")
    if "naive" in h.columns:
        h["naive_covered"] = np.abs(h["truth"] - h["naive"]) <= z * np.sqrt(h["v_naive_diff"])
        tau_n = sps.kendalltau(h["truth"], h["naive"]).statistic if len(h) > 1 else float("nan")
        out["naive"] = {"coverage": float(h["naive_covered"].mean()), "kendall_tau": float(tau_n),
                        "mean_abs_error": float(np.mean(np.abs(np.expm1(h["naive"]) - np.expm1(h["truth"]))))}
    for col in ("truth", "surrogate", "naive"):
        if col in h.columns:
            h[f"{col}_rel"] = np.expm1(h[col])
    # the policy ranking: each arm label's effects averaged over the experiments it ran in
    cols = [c for c in ("truth", "surrogate", "index", "naive") if c in h.columns]
    pol = h.groupby("arm")[cols].mean()
    if len(pol) > 2:
        out["policies"] = {"count": int(len(pol)), "experiments_per_policy": float(h.groupby("arm").size().mean()),
                           "surrogate_kendall_tau": float(sps.kendalltau(pol["truth"], pol["surrogate"]).statistic),
                           "index_kendall_tau": float(sps.kendalltau(pol["truth"], pol["index"]).statistic)}
        if "naive" in pol:
            out["policies"]["naive_kendall_tau"] = float(sps.kendalltau(pol["truth"], pol["naive"]).statistic)
        out["policies"]["table"] = pol.reset_index().to_dict(orient="records")
    out["rows"] = h.to_dict(orient="records")
    return out


@dataclass(frozen=True)
class Bank:
    """A bank of long experiments: per-user rows (``experiment``, ``arm``, short-term columns,
    ``lt_*`` outcomes) and each experiment's control arm and description."""

    table: pd.DataFrame
    controls: Mapping[str, str]
    meta: Mapping[str, dict] = field(default_factory=dict)
    window: int | None = None
    horizon: int | None = None
