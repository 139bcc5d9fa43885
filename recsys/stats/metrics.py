"""The metric registry (docs/contracts.md section 2): what each metric is, computed at the user level.

A metric names the per-user columns it is built from, its kind (which decides the test), which
direction is good, and the ``pre_*`` covariates CUPED may use for it (the first candidate whose
columns are all in the table wins). Everything downstream reads metrics from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recsys.core.errors import InputError

KINDS = ("mean", "ratio", "proportion", "composite", "quantile", "survival")


@dataclass(frozen=True)
class Metric:
    """One metric.

    ``numerator`` is the per-user column of a mean or proportion, or the numerator of a ratio;
    ``denominator`` is set for ratios only. ``subset`` means the mean is over users with a
    value (an empty cell means "not applicable", e.g. no play, not zero). ``covariates`` lists
    candidate CUPED covariates: a 1-tuple is a per-user mean, a 2-tuple a ratio of sums.
    A composite has no columns of its own: it is a formula of other metrics (see bootstrap).
    """

    name: str
    kind: str
    numerator: str | None = None
    denominator: str | None = None
    lower_is_better: bool = False
    subset: bool = False
    covariates: tuple[tuple[str, ...], ...] = ()
    description: str = ""
    q: float | None = None          # quantile metrics: the level in (0, 1)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.name}: unknown kind {self.kind!r}")
        if (self.kind == "ratio") != (self.denominator is not None):
            raise ValueError(f"metric {self.name}: a ratio needs a denominator, other kinds none")

    @property
    def columns(self) -> tuple[str, ...]:
        """The per-user columns this metric reads."""
        if self.kind == "composite":
            return COMPOSITE_COLUMNS.get(self.name, ())
        if self.kind == "survival":
            return SURVIVAL_COLUMNS
        return tuple(c for c in (self.numerator, self.denominator) if c is not None)

    def covariate(self, columns) -> tuple[str, ...] | None:
        """The first covariate candidate whose columns are all present, or None."""
        present = set(columns)
        for cand in self.covariates:
            if all(c in present for c in cand):
                return cand
        return None


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("ctr", "ratio", "clicks", "impressions",
           covariates=(("pre_clicks", "pre_impressions"),),
           description="clicks per impression"),
    Metric("play_rate", "ratio", "plays", "sessions",
           covariates=(("pre_plays", "pre_sessions"),),
           description="plays per session"),
    Metric("watch_minutes", "mean", "watch_minutes",
           covariates=(("pre_watch_minutes",),),
           description="minutes watched per user"),
    Metric("watch_minutes_per_session", "ratio", "watch_minutes", "sessions",
           covariates=(("pre_watch_minutes", "pre_sessions"),),
           description="minutes watched per session"),
    Metric("completion_rate", "ratio", "completions", "plays",
           covariates=(("pre_completions", "pre_plays"),),
           description="completed plays per play"),
    Metric("regret_ratio", "ratio", "early_abandons", "plays", lower_is_better=True,
           covariates=(("pre_early_abandons", "pre_plays"), ("pre_completions", "pre_plays")),
           description="plays abandoned within 2 minutes per play"),
    Metric("sessions", "mean", "sessions",
           covariates=(("pre_sessions",), ("pre_active_days",)),
           description="visits per user"),
    Metric("churn_rate", "proportion", "churned", lower_is_better=True,
           covariates=(("pre_churned",), ("pre_active_days",), ("pre_sessions",)),
           description="share of users churned by the end"),
    Metric("time_to_first_play", "mean", "time_to_first_play_s", lower_is_better=True, subset=True,
           covariates=(("pre_time_to_first_play_s",),),
           description="seconds to the first play, over users with a play"),
    Metric("churn_hazard", "survival", "days_observed", lower_is_better=True,
           description="hazard of churn over the days observed (Cox hazard ratio; log-rank test)"),
    Metric("engagement_efficiency", "composite",
           description="play_rate x completion_rate / time_to_first_play (bootstrap)"),
    Metric("watch_minutes_p50", "quantile", "watch_minutes", q=0.5, description="median minutes watched per user"),
    Metric("watch_minutes_p90", "quantile", "watch_minutes", q=0.9, description="90th percentile of minutes per user"),
    Metric("time_to_first_play_p50", "quantile", "time_to_first_play_s", q=0.5, lower_is_better=True, subset=True,
           description="median seconds to the first play, over users with a play"),
    Metric("time_to_first_play_p90", "quantile", "time_to_first_play_s", q=0.9, lower_is_better=True, subset=True,
           description="90th percentile of seconds to the first play, over users with a play"),
)}

#: columns each composite is built from
COMPOSITE_COLUMNS = {"engagement_efficiency": ("plays", "sessions", "completions", "time_to_first_play_s")}

#: the columns of a survival metric: time observed (days) and the event (recsys.stats.survival)
SURVIVAL_COLUMNS = ("days_observed", "churned")

#: the columns every per-user table has (docs/contracts.md section 1); metric columns come from METRICS
ID_COLUMNS = ("user_id", "arm", "segment")
COUNT_COLUMNS = ("impressions", "clicks", "plays", "completions", "early_abandons", "sessions",
                 "active_days")
NONNEGATIVE_COLUMNS = COUNT_COLUMNS + ("watch_minutes", "time_to_first_play_s", "days_observed")
BINARY_COLUMNS = ("churned",)
#: columns that may be empty: "no value" rather than zero
NULLABLE_COLUMNS = ("time_to_first_play_s",)
#: every metric of the registry but the quantiles (which are asked for by name)
DEFAULT_METRICS = tuple(m for m, spec in METRICS.items() if spec.kind != "quantile")


_QUANTILE = re.compile(r"^(?P<base>.+)_p(?P<level>\d+(?:\.\d+)?)$")


def get_metric(name: str, table_columns=None) -> Metric:
    """Look up a metric by name; a numeric column of the table also works as an ad-hoc mean, and
    ``<metric or column>_pNN`` is the NN-th percentile of its per-user values (``_p50``: median).

    Raises InputError naming the known metrics when the name is none of these.
    """
    if name in METRICS:
        return METRICS[name]
    match = _QUANTILE.match(name)
    if match and (match["base"] in METRICS or (table_columns is not None and match["base"] in table_columns)):
        q = float(match["level"]) / 100
        if not 0 < q < 1:
            raise InputError(f"metric {name}: a quantile must be in (0, 1): use _p1 to _p99, got _p{match['level']}")
        base = METRICS.get(match["base"])
        if base is not None and base.kind not in ("mean", "proportion"):
            raise InputError(f"metric {name}: quantiles are of per-user values; {base.name} is a {base.kind}")
        col = base.numerator if base is not None else match["base"]
        return Metric(name, "quantile", col, q=q, lower_is_better=bool(base and base.lower_is_better),
                      subset=bool(base and base.subset), description=f"{q:.0%} quantile of {col} per user")
    if table_columns is not None and name in table_columns and name not in ID_COLUMNS:
        return Metric(name, "mean", name, covariates=((f"pre_{name}",),),
                      description=f"mean of column {name} per user")
    raise InputError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")


def required_columns(metrics) -> tuple[str, ...]:
    """The table columns the given metrics need, in contract order."""
    cols: list[str] = []
    for m in metrics:
        for c in m.columns:
            if c not in cols:
                cols.append(c)
    return tuple(cols)
