"""The decision rule: ship, no-ship, inconclusive or investigate, from an analysis.

The rule of Schultzberg, Ankargren and Frånberg (2024), as Spotify's Confidence applies it,
read from the tests :func:`recsys.stats.analysis.analyze` ran for each metric's role:

* ``investigate``: a quality check failed (sample ratio, or pre-period balance); no comparison
  can be trusted, so every arm's verdict says so too;
* ``no-ship``: something was harmed (a success metric or guardrail moved significantly the
  wrong way: the deterioration test) or a success metric is significantly worse;
* ``ship``: at least one success metric is significantly better, every guardrail is shown
  non-inferior (its margin ruled out), nothing is harmed and the quality checks pass;
* ``inconclusive``: not enough evidence either way; :attr:`ArmDecision.missing` names what is
  missing (a significant success metric, or which guardrails could not be shown safe).

A guardrail's status is one of :data:`GUARDRAIL_STATUSES`: ``non-inferior`` (the margin is
ruled out), ``inconclusive`` (it cannot be ruled out: not shown safe, which is not the same as
harmed) or ``harmed`` (a significant deterioration). Reasons are records
(:class:`Reason`), never sentences: :mod:`recsys.report` words them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Mapping

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.stats.analysis import ALL, Analysis
from recsys.stats.roles import Levels, Roles

VERDICTS = ("ship", "no-ship", "inconclusive", "investigate")
GUARDRAIL_STATUSES = ("non-inferior", "inconclusive", "harmed")


@dataclass(frozen=True)
class Reason:
    """One test behind a verdict.

    ``test`` is superiority, non-inferiority, deterioration, sample ratio, balance,
    heterogeneity or decay; ``status`` its outcome in the decision's words (better, worse, not
    significant, non-inferior, inconclusive, harmed, failed, differs, no evidence; for decay:
    decaying, growing, stable). Estimates and intervals are on ``scale`` (relative lifts, or
    absolute differences); ``p_value`` is the one the status was read from (adjusted for success
    metrics); ``level`` its threshold. ``detail`` carries what a test needs beyond one estimate
    (decay: the early and late windows' lifts; the estimate is the late, steady-state one).
    """

    arm: str | None
    metric: str | None
    role: str
    test: str
    status: str
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    scale: str = "relative"
    margin: float | None = None
    bound: float | None = None
    p_value: float | None = None
    level: float | None = None
    users_needed: float | None = None
    detail: dict | None = None

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ArmDecision:
    arm: str
    verdict: str
    reasons: tuple[Reason, ...]
    missing: tuple[Reason, ...] = ()   # for inconclusive: the tests that did not come out


@dataclass(frozen=True, eq=False)
class Decision:
    verdict: str
    arm: str | None                  # the arm to ship (ship only)
    arms: tuple[ArmDecision, ...]
    reasons: tuple[Reason, ...]      # quality checks, every arm's reasons, heterogeneity notes
    roles: Roles
    levels: Levels
    tradeoffs: pd.DataFrame

    @property
    def missing(self) -> tuple[Reason, ...]:
        return tuple(m for a in self.arms for m in a.missing)

    def to_frame(self) -> pd.DataFrame:
        """The reasons, one row per test (arm, metric, role, test, status, estimate, interval, p, ...);
        the trade-offs are :attr:`tradeoffs`."""
        return pd.DataFrame([asdict(r) for r in self.reasons],
                            columns=[f.name for f in fields(Reason)])

    def to_dict(self) -> dict:
        """The ``decision`` object of the analysis JSON (docs/contracts.md section 3)."""
        return {"verdict": self.verdict, "arm": self.arm,
                "reasons": [r.to_dict() for r in self.reasons],
                "missing": [r.to_dict() for r in self.missing],
                "per_arm": {d.arm: {"verdict": d.verdict, "reasons": [r.to_dict() for r in d.reasons],
                                    "missing": [r.to_dict() for r in d.missing]} for d in self.arms},
                "roles": self.roles.to_dict(), "levels": self.levels.to_dict(),
                "tradeoffs": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                              for r in self.tradeoffs.to_dict("records")]}


def _f(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def effect(row: Mapping) -> str:
    """better / worse / no clear change, direction-aware and after the row's correction."""
    if not row.get("significant"):
        return "no clear change"
    up = row["diff"] > 0
    return "better" if up != bool(row.get("lower_is_better")) else "worse"


def guardrail_status(row: Mapping) -> str:
    """non-inferior, inconclusive or harmed (a significant deterioration beats everything)."""
    if row.get("deteriorated"):
        return "harmed"
    return "non-inferior" if row.get("non_inferior") else "inconclusive"


def _relative(row: Mapping) -> tuple:
    return _f(row["rel_lift"]), _f(row["rel_ci_low"]), _f(row["rel_ci_high"])


def _guardrail_reason(arm: str, row: Mapping, levels: Levels) -> Reason:
    status = guardrail_status(row)
    relative = row.get("margin_scale", "relative") == "relative"
    est, lo, hi = _relative(row) if relative else (_f(row["diff"]), _f(row["ci_low"]), _f(row["ci_high"]))
    if status == "harmed":
        return Reason(arm, row["metric"], "guardrail", "deterioration", status, est, lo, hi,
                      "relative" if relative else "absolute", _f(row["margin"]), _f(row["ni_bound"]),
                      _f(row["deterioration_p_value"]), levels.deterioration_alpha)
    return Reason(arm, row["metric"], "guardrail", "non-inferiority", status, est, lo, hi,
                  "relative" if relative else "absolute", _f(row["margin"]), _f(row["ni_bound"]),
                  _f(row["ni_p_value"]), levels.guardrail_alpha,
                  None if status == "non-inferior" else _f(row.get("users_needed")))


def _arm_decision(analysis: Analysis, arm: str, quality_failed: bool) -> ArmDecision:
    roles, levels = analysis.roles, analysis.levels
    reasons: list[Reason] = []
    missing: list[Reason] = []
    better = harmed = worse = False
    decays = {t["metric"]: t for t in (analysis.decay or {}).get("tests", []) if t["arm"] == arm}
    for metric in roles.success:
        row = analysis.row(metric, arm)
        if row is None:
            raise InputError(f"success metric {metric} was not analysed")
        eff = effect(row)
        status = {"better": "better", "worse": "worse"}.get(eff, "not significant")
        est, lo, hi = _relative(row)
        reason = Reason(arm, metric, "success", "superiority", status, est, lo, hi, "relative",
                        p_value=_f(row["p_adjusted"]), level=levels.alpha)
        reasons.append(reason)
        if metric in decays:
            fading = _decay_reason(arm, decays[metric], bool(row.get("lower_is_better")))
            reasons.append(fading)
            if status == "better" and fading.status == "decaying" and not _late_better(fading, row):
                status = "not significant"      # the win does not last: it cannot carry a ship
                missing.append(fading)
        better |= status == "better"
        worse |= status == "worse"
        if row.get("deteriorated"):
            harmed = True
            reasons.append(Reason(arm, metric, "success", "deterioration", "harmed", est, lo, hi, "relative",
                                  p_value=_f(row["deterioration_p_value"]), level=levels.deterioration_alpha))
    all_safe = True
    for g in roles.guardrails:
        row = analysis.row(g.metric, arm)
        if row is None:
            raise InputError(f"guardrail metric {g.metric} was not analysed")
        reason = _guardrail_reason(arm, row, levels)
        reasons.append(reason)
        harmed |= reason.status == "harmed"
        if reason.status != "non-inferior":
            all_safe = False
            if reason.status == "inconclusive":
                missing.append(reason)
    if not better and not any(r.test == "decay" for r in missing):
        missing.insert(0, next(r for r in reasons if r.metric == roles.primary and r.test == "superiority"))
    verdict = rule(better=better, worse=worse, harmed=harmed, all_safe=all_safe, quality_failed=quality_failed)
    return ArmDecision(arm, verdict, tuple(reasons), tuple(missing) if verdict == "inconclusive" else ())


def _decay_reason(arm: str, t: Mapping, lower_is_better: bool) -> Reason:
    """The early-vs-late test of a success metric (recsys.stats.decay) as a record: estimate and
    interval are the late window's (steady-state) lift, ``detail`` the two windows."""
    late, early = t["late"], t["early"]
    detail = {"early_days": list(t["early_days"]), "late_days": list(t["late_days"]),
              "early": _f(early["rel_lift"]), "early_ci_low": _f(early["rel_ci_low"]),
              "early_ci_high": _f(early["rel_ci_high"]), "late": _f(late["rel_lift"]),
              "cohort_users": t.get("cohort_users"), "lower_is_better": lower_is_better}
    return Reason(arm, t["metric"], "success", "decay", t["status"], _f(late["rel_lift"]), _f(late["rel_ci_low"]),
                  _f(late["rel_ci_high"]), "relative", p_value=_f(t["p_value"]), level=_f(t.get("level")),
                  detail=detail)


def _late_better(r: Reason, row: Mapping) -> bool:
    """Whether the late window's interval lies wholly on the good side of zero."""
    if r.ci_low is None or r.ci_high is None:
        return False
    return r.ci_high < 0 if row.get("lower_is_better") else r.ci_low > 0


def rule(*, better: bool, worse: bool, harmed: bool, all_safe: bool, quality_failed: bool = False) -> str:
    """The verdict from the tests' outcomes: any success metric significantly better or worse,
    anything harmed, every guardrail non-inferior, a quality check failed."""
    if quality_failed:
        return "investigate"
    if harmed or worse:
        return "no-ship"
    if better and all_safe:
        return "ship"
    return "inconclusive"


def daily_verdicts(records: list[Mapping]) -> list[dict]:
    """The rule applied to each look of the always-valid daily monitor
    (:func:`recsys.stats.analysis.monitor` records): one {day, arm, verdict} per look and arm.
    A daily reader may act on it: every test behind it is always valid."""
    out = []
    keys = dict.fromkeys((r["day"], r["arm"]) for r in records)
    by = {}
    for r in records:
        by.setdefault((r["day"], r["arm"]), []).append(r)
    for day, arm in keys:
        rs = by[(day, arm)]
        success = [r["status"] for r in rs if r["role"] == "success"]
        guards = [r["status"] for r in rs if r["role"] == "guardrail"]
        out.append({"day": day, "arm": arm, "verdict": rule(
            better="better" in success, worse="worse" in success, harmed="harmed" in success + guards,
            all_safe=all(g == "non-inferior" for g in guards))})
    return out


def _quality_reasons(analysis: Analysis) -> list[Reason]:
    levels = analysis.levels
    srm = analysis.srm
    out = [Reason(None, None, "quality", "sample ratio", "passed" if srm.ok else "failed",
                  p_value=_f(srm.p_value), level=levels.quality_alpha)]
    for b in analysis.balance:
        if not b["ok"]:
            out.append(Reason(b["arm"], b["column"], "quality", "balance", "failed", _f(b["diff"]), scale="absolute",
                              p_value=_f(b["p_adjusted"]), level=levels.quality_alpha))
    return out


def _heterogeneity_reasons(analysis: Analysis) -> list[Reason]:
    """Whether the primary's lift differs across segments (Cochran's Q), so that a segment claim
    is read against the overall effect rather than as the best of several cuts."""
    out = []
    for h in analysis.heterogeneity:
        if h["metric"] != analysis.roles.primary or h.get("p_value") is None or not np.isfinite(h["p_value"]):
            continue
        status = "differs" if h["p_value"] < analysis.levels.alpha else "no evidence"
        out.append(Reason(h["arm"], h["metric"], "segments", "heterogeneity", status, _f(h["q"]), scale="Q",
                          p_value=_f(h["p_value"]), level=analysis.levels.alpha))
    return out


def tradeoff_table(analysis: Analysis, arm: str | None = None, segment: str = ALL) -> pd.DataFrame:
    """Each metric's change with its interval, and for guardrails the margin, the one-sided
    bound and the status: what a win costs. One row per (arm, metric), success metrics first."""
    order = {"success": 0, "guardrail": 1, "secondary": 2, "strategic": 3}
    recs = []
    for r in analysis.results:
        if r["segment"] != segment or (arm is not None and r["arm"] != arm):
            continue
        role = r.get("role", "secondary")
        guard = role == "guardrail"
        recs.append({"arm": r["arm"], "metric": r["metric"], "role": role,
                     "good_direction": "lower" if r.get("lower_is_better") else "higher",
                     "control": r["control"], "treatment": r["treatment"], "diff": r["diff"],
                     "ci_low": r["ci_low"], "ci_high": r["ci_high"], "rel_lift": r["rel_lift"],
                     "rel_ci_low": r["rel_ci_low"], "rel_ci_high": r["rel_ci_high"],
                     "p_adjusted": r["p_adjusted"], "significant": r["significant"], "effect": effect(r),
                     "margin": r["margin"] if guard else float("nan"),
                     "margin_scale": r.get("margin_scale") if guard else None,
                     "bound": r["ni_bound"] if guard else float("nan"),
                     "guardrail": guardrail_status(r) if guard else None,
                     "users_needed": (r.get("users_needed") if guard and guardrail_status(r) == "inconclusive"
                                      else None),
                     "_order": order.get(role, 4)})
    cols = ["arm", "metric", "role", "good_direction", "control", "treatment", "diff", "ci_low", "ci_high",
            "rel_lift", "rel_ci_low", "rel_ci_high", "p_adjusted", "significant", "effect", "margin",
            "margin_scale", "bound", "guardrail", "users_needed", "_order"]
    df = pd.DataFrame(recs, columns=cols)
    return df.sort_values(["arm", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)


def decide(analysis: Analysis) -> Decision:
    """The verdict over every treatment arm of ``analysis``, with its reasons as records."""
    quality = _quality_reasons(analysis)
    failed = any(r.status == "failed" for r in quality)
    per_arm = tuple(_arm_decision(analysis, a, failed) for a in analysis.treatments)
    reasons = quality + [r for d in per_arm for r in d.reasons] + _heterogeneity_reasons(analysis)
    shipping = [d for d in per_arm if d.verdict == "ship"]
    chosen = None
    if failed:
        verdict = "investigate"
    elif shipping:
        verdict = "ship"
        primary = analysis.roles.primary

        def gain(d: ArmDecision) -> float:
            row = analysis.row(primary, d.arm)
            return -row["rel_lift"] if row.get("lower_is_better") else row["rel_lift"]

        chosen = max(shipping, key=gain).arm
    elif all(d.verdict == "no-ship" for d in per_arm):
        verdict = "no-ship"
    else:
        verdict = "inconclusive"
    return Decision(verdict, chosen, per_arm, tuple(reasons), analysis.roles, analysis.levels,
                    tradeoff_table(analysis))
