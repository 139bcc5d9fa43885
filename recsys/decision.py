"""Ship, no-ship or investigate: a verdict from analysed results and the metrics' roles.

The rules (issue 5): ``ship`` only when the primary metric improves significantly (in its good
direction, after the multiple-comparison correction) and no guardrail is breached; ``no-ship``
when the primary is significantly worse or a guardrail is breached; ``investigate`` otherwise,
and always when the sample-ratio test fires (then no comparison can be trusted).

A guardrail's tolerance is the worst acceptable relative change of the metric itself (e.g.
completion_rate -0.015: at most a 1.5% drop; churn_rate 0.0: no rise). It is breached when the
worst end of the relative lift's confidence interval crosses it: the lower end for a metric
where higher is better, the upper end where lower is better. This reads only the result rows
(which carry each metric's direction), so it works on any analysis JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from recsys.errors import InputError

VERDICTS = ("ship", "no-ship", "investigate")


@dataclass(frozen=True)
class Roles:
    """Which metric decides (primary), which are watched (secondary), which must not get worse
    than a tolerance (guardrails: {metric: worst acceptable relative change}), and which are
    long-term, reported only (strategic)."""

    primary: str = "ctr"
    secondary: tuple[str, ...] = ("watch_minutes", "completion_rate")
    guardrails: Mapping[str, float] = field(default_factory=lambda: {"churn_rate": 0.0, "completion_rate": -0.015})
    strategic: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, tol in self.guardrails.items():
            if not np.isfinite(tol):
                raise InputError(f"guardrail {name}: tolerance must be a number, got {tol}")

    def metrics(self) -> tuple[str, ...]:
        """The metrics the decision needs analysed: the primary and the guardrails."""
        return tuple(dict.fromkeys((self.primary, *self.guardrails)))

    def role(self, metric: str) -> str:
        if metric == self.primary:
            return "primary"
        if metric in self.guardrails:
            return "guardrail"
        if metric in self.secondary:
            return "secondary"
        if metric in self.strategic:
            return "strategic"
        return "other"

    def to_dict(self) -> dict:
        return {"primary": self.primary, "secondary": list(self.secondary), "guardrails": dict(self.guardrails),
                "strategic": list(self.strategic)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Roles":
        """From a [metrics] table (contracts section 5): primary, secondary, guardrails, strategic."""
        base = cls()
        return cls(primary=d.get("primary", base.primary),
                   secondary=tuple(d.get("secondary", base.secondary)),
                   guardrails={str(k): float(v) for k, v in d.get("guardrails", base.guardrails).items()},
                   strategic=tuple(d.get("strategic", base.strategic)))


@dataclass(frozen=True)
class ArmDecision:
    arm: str
    verdict: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Decision:
    verdict: str
    reasons: tuple[str, ...]
    arm: str | None                  # the arm to ship (ship only)
    arms: tuple[ArmDecision, ...]
    roles: Roles
    tradeoffs: pd.DataFrame

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reasons": list(self.reasons), "arm": self.arm,
                "per_arm": {d.arm: {"verdict": d.verdict, "reasons": list(d.reasons)} for d in self.arms},
                "roles": self.roles.to_dict(),
                "tradeoffs": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                              for r in self.tradeoffs.to_dict("records")]}


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+.1f}%"


def _num(x) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.4g}"


def _p(x) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.2g}" if x >= 1e-4 else f"{x:.1e}"


def _rows_for(result: Mapping, arm: str, segment: str) -> dict[str, dict]:
    return {r["metric"]: r for r in result["results"] if r["arm"] == arm and r["segment"] == segment}


def _effect(row: Mapping) -> str:
    """better / worse / no clear change, direction-aware and after correction."""
    if not row.get("significant"):
        return "no clear change"
    up = row["diff"] > 0
    return "better" if up != bool(row.get("lower_is_better")) else "worse"


def _guardrail_status(row: Mapping, tol: float) -> tuple[str, float]:
    """('ok' | 'breached' | 'unknown', the worst end of the relative CI)."""
    worst = row.get("rel_ci_high") if row.get("lower_is_better") else row.get("rel_ci_low")
    if worst is None or not np.isfinite(worst):
        return "unknown", float("nan")
    breached = worst > tol if row.get("lower_is_better") else worst < tol
    return ("breached" if breached else "ok"), float(worst)


def _change(row: Mapping, level: str) -> str:
    verb = "rose" if row["diff"] > 0 else "fell" if row["diff"] < 0 else "did not change"
    adjusted = "cuped" in str(row.get("method", ""))
    means = "raw means" if adjusted else "from"
    note = "; CUPED-adjusted" if adjusted else ""
    return (f"{row['metric']} {verb} {_pct(row['rel_lift'])} ({means} {_num(row['control'])} to {_num(row['treatment'])}"
            f"{note}; {level} CI {_pct(row['rel_ci_low'])} to {_pct(row['rel_ci_high'])})")


def _arm_decision(result: Mapping, roles: Roles, arm: str, level: str, correction: str) -> ArmDecision:
    rows = _rows_for(result, arm, "all")
    if roles.primary not in rows:
        raise InputError(f"primary metric {roles.primary} was not analysed")
    reasons: list[str] = []
    prim = rows[roles.primary]
    effect = _effect(prim)
    after = f"after {correction} correction" if correction != "none" else "uncorrected"
    if effect == "better":
        reasons.append(f"primary {_change(prim, level)}: a significant improvement ({after}, adjusted p = {_p(prim['p_adjusted'])})")
    elif effect == "worse":
        reasons.append(f"primary {_change(prim, level)}: significantly worse ({after}, adjusted p = {_p(prim['p_adjusted'])})")
    else:
        reasons.append(f"primary {_change(prim, level)}: not significant ({after}, adjusted p = {_p(prim['p_adjusted'])}), "
                       "so the experiment cannot tell it from noise")
    breached, unknown = False, False
    for g, tol in roles.guardrails.items():
        if g not in rows:
            raise InputError(f"guardrail metric {g} was not analysed")
        status, worst = _guardrail_status(rows[g], tol)
        end = "upper" if rows[g].get("lower_is_better") else "lower"
        if status == "breached":
            breached = True
            reasons.append(f"guardrail {g} breached: the {end} end of its {level} CI is {_pct(worst)}, "
                           f"beyond the worst acceptable change of {_pct(tol)} (lift {_pct(rows[g]['rel_lift'])})")
        elif status == "unknown":
            unknown = True
            reasons.append(f"guardrail {g} could not be checked: its relative change is undefined "
                           f"(control value {_num(rows[g]['control'])})")
        else:
            reasons.append(f"guardrail {g} holds: the {end} end of its {level} CI is {_pct(worst)}, "
                           f"within the worst acceptable change of {_pct(tol)}")
    for role, names in (("secondary", roles.secondary), ("strategic", roles.strategic)):
        for s in names:
            if s in rows and s != roles.primary and s not in roles.guardrails:
                eff = _effect(rows[s])
                what = "significant" if eff != "no clear change" else "not significant"
                # the CI shown is per metric; significance is after correction, so both are given
                reasons.append(f"{role} {_change(rows[s], level)}, {what} ({after}, adjusted p = "
                               f"{_p(rows[s]['p_adjusted'])}; {eff})")
    if effect == "worse" or breached:
        verdict = "no-ship"
    elif effect == "better" and not unknown:
        verdict = "ship"
    else:
        verdict = "investigate"
    return ArmDecision(arm, verdict, tuple(reasons))


def tradeoff_table(result: Mapping, roles: Roles | None = None, arm: str | None = None,
                   segment: str = "all") -> pd.DataFrame:
    """Each metric's relative lift with its interval and, for guardrails, the status: what the
    primary's win costs. One row per (arm, metric) for ``segment``, primary first."""
    roles = roles or Roles()
    order = {"primary": 0, "guardrail": 1, "secondary": 2, "strategic": 3, "other": 4}
    recs = []
    for r in result["results"]:
        if r["segment"] != segment or (arm is not None and r["arm"] != arm):
            continue
        role = roles.role(r["metric"])
        tol = roles.guardrails.get(r["metric"])
        status, worst = _guardrail_status(r, tol) if tol is not None else ("", float("nan"))
        recs.append({"arm": r["arm"], "metric": r["metric"], "role": role,
                     "good_direction": "lower" if r.get("lower_is_better") else "higher",
                     "control": r["control"], "treatment": r["treatment"], "rel_lift": r["rel_lift"],
                     "rel_ci_low": r["rel_ci_low"], "rel_ci_high": r["rel_ci_high"],
                     "p_adjusted": r["p_adjusted"], "significant": r["significant"], "effect": _effect(r),
                     "tolerance": float("nan") if tol is None else float(tol), "guardrail": status,
                     "_order": order[role]})
    df = pd.DataFrame(recs, columns=["arm", "metric", "role", "good_direction", "control", "treatment", "rel_lift",
                                     "rel_ci_low", "rel_ci_high", "p_adjusted", "significant", "effect", "tolerance",
                                     "guardrail", "_order"])
    df = df.sort_values(["arm", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return df


def decide(result: Mapping, roles: Roles | None = None) -> Decision:
    """The verdict over every treatment arm of an analysis (the dict of contracts section 3)."""
    roles = roles or Roles()
    alpha = float(result["alpha"])
    level = f"{100 * (1 - alpha):g}%"
    correction = result.get("correction", "holm")
    arms = [a for a in dict.fromkeys(r["arm"] for r in result["results"])]
    per_arm = tuple(_arm_decision(result, roles, a, level, correction) for a in arms)
    multi = len(per_arm) > 1
    reasons: list[str] = []
    srm = result.get("srm") or {}
    srm_fired = srm.get("ok") is False
    if srm_fired:
        counts = ", ".join(f"{a} {n}" for a, n in srm.get("counts", {}).items())
        reasons.append(f"sample ratio mismatch: arm counts {counts} do not fit the configured shares "
                       f"(chi-squared p = {_p(srm.get('p_value'))} < 0.001); fix assignment or logging "
                       "before trusting any comparison")
    for d in per_arm:
        reasons.extend(f"{d.arm}: {r}" if multi else r for r in d.reasons)
    reasons.extend(_heterogeneity_notes(result, roles.primary, multi))
    shipping = [d for d in per_arm if d.verdict == "ship"]
    chosen = None
    if srm_fired:
        verdict = "investigate"
    elif shipping:
        verdict = "ship"

        def gain(d: ArmDecision) -> float:
            row = _rows_for(result, d.arm, "all")[roles.primary]
            return -row["rel_lift"] if row.get("lower_is_better") else row["rel_lift"]

        chosen = max(shipping, key=gain).arm
        if multi:
            reasons.insert(0, f"ship {chosen}: the largest significant improvement of {roles.primary} "
                              "among arms that pass every guardrail")
    elif all(d.verdict == "no-ship" for d in per_arm):
        verdict = "no-ship"
    else:
        verdict = "investigate"
    return Decision(verdict, tuple(reasons), chosen, per_arm, roles, tradeoff_table(result, roles))


def _heterogeneity_notes(result: Mapping, primary: str, multi: bool) -> list[str]:
    """Whether the primary's lift differs across segments (Cochran's Q), so that a segment
    claim is read against the overall effect rather than as the best of several cuts."""
    notes = []
    for h in result.get("heterogeneity") or []:
        if h["metric"] != primary or h.get("p_value") is None or not np.isfinite(h["p_value"]):
            continue
        prefix = f"{h['arm']}: " if multi else ""
        if h["p_value"] < 0.05:
            notes.append(f"{prefix}{primary}'s lift differs across segments (Cochran's Q = {h['q']:.1f}, "
                         f"p = {_p(h['p_value'])}, I^2 = {100 * h['i2']:.0f}%): read the per-segment rows")
        else:
            notes.append(f"{prefix}no evidence that {primary}'s lift differs across {h['segments']} segments "
                         f"(Cochran's Q p = {_p(h['p_value'])}): treat per-segment differences as noise around "
                         "the overall lift")
    return notes


def parse_guardrails(items: Sequence[str]) -> dict[str, float]:
    """--guardrail METRIC=TOL items into {metric: tolerance}; InputError on a malformed item."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, tol = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--guardrail expects METRIC=TOLERANCE, got {item!r}")
        try:
            value = float(tol)
        except ValueError:
            raise InputError(f"--guardrail {name}: tolerance {tol!r} is not a number") from None
        if not np.isfinite(value):
            raise InputError(f"--guardrail {name}: tolerance must be finite")
        out[name.strip()] = value
    return out
