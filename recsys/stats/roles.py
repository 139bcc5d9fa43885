"""Metric roles and test levels: which test each metric gets in an A/B decision.

The decision rule of Schultzberg, Ankargren and Frånberg (2024), "Risk-aware product decisions
in A/B tests with multiple metrics" (the rule Spotify's Confidence implements):

* **success** metrics (the primary first) are tested for superiority, two-sided at ``alpha``,
  with the correction (Holm by default) over success metrics and treatment arms only;
* **guardrails** are tested for non-inferiority against a margin, one-sided at
  ``guardrail_alpha`` and not corrected: the decision needs every guardrail to pass (an
  intersection-union test), so their level does not dilute the success metrics';
* every success metric and guardrail is also tested for **deterioration**, a significant move
  in the harmful direction (one-sided at ``deterioration_alpha``);
* **secondary** and **strategic** metrics are estimated and reported with Benjamini-Hochberg
  q-values, labelled descriptive: they never decide;
* **quality** checks (the sample ratio, and the balance of the ``pre_*`` covariates between
  arms) run at ``quality_alpha``.

A guardrail's margin is the worst acceptable change, signed in the metric's harmful
direction: +0.10 for churn (lower is better: a rise of up to 10% is tolerated), -0.02 for
completion (a fall of up to 2%). It is relative by default, absolute when asked. The roles
live here, with the statistics, because the analysis needs them to run the right test on each
metric; :mod:`recsys.decision` turns the results into words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from recsys.core.errors import InputError
from recsys.stats.corrections import CORRECTIONS
from recsys.stats.metrics import get_metric

ROLES = ("success", "guardrail", "secondary", "strategic")
#: keys of an experiment file's [metrics] table
METRICS_KEYS = ("primary", "success", "guardrails", "secondary", "strategic")


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not get worse than ``margin`` (relative unless ``relative`` is False)."""

    metric: str
    margin: float
    relative: bool = True

    @property
    def scale(self) -> str:
        return "relative" if self.relative else "absolute"

    def to_dict(self) -> dict:
        return {"margin": self.margin, "scale": self.scale}


@dataclass(frozen=True)
class Levels:
    """The levels the decision's tests run at (see the module docstring)."""

    alpha: float = 0.05
    guardrail_alpha: float = 0.05
    deterioration_alpha: float = 0.025
    quality_alpha: float = 0.001
    correction: str = "holm"

    def validate(self) -> "Levels":
        for name in ("alpha", "guardrail_alpha", "deterioration_alpha", "quality_alpha"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
                raise InputError(f"{name} must be a number in (0, 1), got {v!r}")
        if self.correction not in CORRECTIONS:
            raise InputError(f"unknown correction {self.correction!r} (choose from {', '.join(CORRECTIONS)})")
        return self

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "guardrail_alpha": self.guardrail_alpha,
                "deterioration_alpha": self.deterioration_alpha, "quality_alpha": self.quality_alpha,
                "correction": self.correction}


DEFAULT_GUARDRAILS = (Guardrail("churn_rate", 0.10), Guardrail("regret_ratio", 0.10))


@dataclass(frozen=True)
class Roles:
    """What each metric does. ``success[0]`` is the primary. ``secondary`` None means every
    other metric whose columns the table has (reported, never deciding)."""

    success: tuple[str, ...] = ("ctr",)
    guardrails: tuple[Guardrail, ...] = DEFAULT_GUARDRAILS
    secondary: tuple[str, ...] | None = None
    strategic: tuple[str, ...] = field(default_factory=tuple)

    @property
    def primary(self) -> str:
        return self.success[0]

    @property
    def margins(self) -> dict[str, Guardrail]:
        return {g.metric: g for g in self.guardrails}

    def deciding(self) -> tuple[str, ...]:
        """The metrics the verdict reads: success metrics, then guardrails."""
        return (*self.success, *(g.metric for g in self.guardrails))

    def role(self, metric: str) -> str:
        if metric in self.success:
            return "success"
        if metric in self.margins:
            return "guardrail"
        if metric in self.strategic:
            return "strategic"
        return "secondary"

    def validate(self, columns: Iterable[str] | None = None) -> "Roles":
        """Check the roles against the metric registry (and a table's ``columns``, for ad-hoc
        metrics): at least one success metric, no metric in two roles, margins of the right sign.
        Raises InputError with one line."""
        if not self.success:
            raise InputError("no success metric: name a primary metric")
        seen: dict[str, str] = {}
        named = [("success", m) for m in self.success] + [("guardrail", g.metric) for g in self.guardrails]
        named += [("secondary", m) for m in (self.secondary or ())] + [("strategic", m) for m in self.strategic]
        for role, metric in named:
            if metric in seen:
                what = f"twice as {role}" if seen[metric] == role else f"in two roles ({seen[metric]} and {role})"
                raise InputError(f"metric {metric} is {what}")
            seen[metric] = role
        for role, metric in named:
            if role == "strategic" and metric in STRATEGIC_EXPOSURE:
                continue
            m = get_metric(metric, columns)
            if role in ("success", "guardrail") and m.kind == "composite":
                raise InputError(f"{metric} is a composite (bootstrap) metric; it can be secondary but not {role}")
        for g in self.guardrails:
            m = get_metric(g.metric, columns)
            check_margin(g.metric, g.margin, g.relative, m.lower_is_better)
            if m.kind == "survival" and not g.relative:
                raise InputError(f"guardrail {g.metric}: a survival metric's margin is relative (on the hazard "
                                 f"ratio, e.g. 0.10 for HR <= 1.10), not absolute")
        return self

    def to_dict(self) -> dict:
        return {"primary": self.primary, "success": list(self.success),
                "guardrails": {g.metric: g.to_dict() for g in self.guardrails},
                "secondary": None if self.secondary is None else list(self.secondary),
                "strategic": list(self.strategic)}

    def to_table(self) -> dict:
        """The [metrics] table of an experiment file (TOML-writable)."""
        out: dict[str, Any] = {"primary": self.primary}
        if len(self.success) > 1:
            out["success"] = list(self.success[1:])
        if self.secondary is not None:
            out["secondary"] = list(self.secondary)
        if self.strategic:
            out["strategic"] = list(self.strategic)
        out["guardrails"] = {g.metric: (g.margin if g.relative else {"margin": g.margin, "scale": "absolute"})
                             for g in self.guardrails}
        return out

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "metrics") -> "Roles":
        """From an experiment file's [metrics] table: ``primary``, ``success`` (more success
        metrics), ``guardrails`` ({metric = margin} or {metric = {margin = .., scale = "absolute"}}),
        ``secondary``, ``strategic``. Unchecked against the registry (see :meth:`validate`)."""
        if not isinstance(table, Mapping):
            raise InputError(f"[{where}] must be a table")
        unknown = sorted(set(table) - set(METRICS_KEYS))
        if unknown:
            raise InputError(f"unknown role {where}.{unknown[0]} (known: {', '.join(METRICS_KEYS)})")
        base = cls()
        primary = table.get("primary", base.primary)
        if not isinstance(primary, str):
            raise InputError(f"{where}.primary must be a metric name, got {primary!r}")
        more = _names(table.get("success", []), f"{where}.success")
        success = (primary, *[m for m in more if m != primary])
        guard_raw = table.get("guardrails", None)
        guardrails = base.guardrails if guard_raw is None else tuple(
            _guardrail(k, v, f"{where}.guardrails.{k}") for k, v in _table(guard_raw, f"{where}.guardrails").items())
        secondary = table.get("secondary", None)
        secondary = None if secondary is None else _names(secondary, f"{where}.secondary")
        strategic = _names(table.get("strategic", []), f"{where}.strategic")
        return cls(success=success, guardrails=guardrails, secondary=secondary, strategic=strategic)


#: strategic metrics measured on the catalog rather than per user (reported from the exposure table)
STRATEGIC_EXPOSURE = ("coverage", "long_tail_share", "homogenization")


def check_margin(metric: str, margin: float, relative: bool, lower_is_better: bool) -> None:
    """A margin must be a finite, non-zero number on the metric's harmful side."""
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not np.isfinite(margin):
        raise InputError(f"guardrail {metric}: the margin must be a number, got {margin!r}")
    if margin == 0:
        raise InputError(f"guardrail {metric}: a margin of 0 cannot be ruled out; give the worst acceptable "
                         f"change (e.g. {'+0.10' if lower_is_better else '-0.02'}) or make it a success metric")
    harm = "a rise" if lower_is_better else "a fall"
    if (margin > 0) != lower_is_better:
        sign = "positive" if lower_is_better else "negative"
        raise InputError(f"guardrail {metric}: margin {margin:+g} has the wrong sign; lower is "
                         f"{'better' if lower_is_better else 'worse'} for {metric}, so harm is {harm} "
                         f"and the margin must be {sign}")
    if relative and margin <= -1:
        raise InputError(f"guardrail {metric}: a relative margin must be above -1 (-100%), got {margin:g}")


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where} must be a list of metric names")
    return tuple(value)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be a table of metric = margin")
    return value


def _guardrail(metric: str, value: Any, where: str) -> Guardrail:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"margin", "scale"})
        if unknown:
            raise InputError(f"unknown key {where}.{unknown[0]} (known: margin, scale)")
        if "margin" not in value:
            raise InputError(f"{where} needs a margin")
        scale = value.get("scale", "relative")
        if scale not in ("relative", "absolute"):
            raise InputError(f"{where}.scale must be relative or absolute, got {scale!r}")
        margin, relative = value["margin"], scale == "relative"
    else:
        margin, relative = value, True
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise InputError(f"{where} must be a number (the worst acceptable change), got {margin!r}")
    return Guardrail(str(metric), float(margin), relative)


def parse_guardrail(item: str) -> Guardrail:
    """``METRIC=MARGIN`` (relative) or ``METRIC=MARGIN:absolute`` from the command line."""
    name, sep, rest = item.partition("=")
    value, _, scale = rest.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise InputError(f"--guardrail expects METRIC=MARGIN[:absolute], got {item!r}")
    scale = scale.strip() or "relative"
    if scale not in ("relative", "absolute"):
        raise InputError(f"--guardrail {name}: scale must be relative or absolute, got {scale!r}")
    text = value.strip()
    try:
        margin = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise InputError(f"--guardrail {name}: margin {value!r} is not a number") from None
    return Guardrail(name.strip(), margin, scale == "relative")
