"""The metric registry (docs/contracts.md section 2): what each metric is, computed at the user level.

A metric names the per-user columns it is built from, its kind (which decides the test), which
direction is good, and the ``pre_*`` covariates CUPED may use for it (the first candidate whose
columns are all in the table wins). Everything downstream reads metrics from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys.errors import InputError

KINDS = ("mean", "ratio", "proportion", "composite")


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
    Metric("engagement_efficiency", "composite",
           description="play_rate x completion_rate / time_to_first_play (bootstrap)"),
)}

#: columns each composite is built from
COMPOSITE_COLUMNS = {"engagement_efficiency": ("plays", "sessions", "completions", "time_to_first_play_s")}

#: the columns every per-user table has (docs/contracts.md section 1); metric columns come from METRICS
ID_COLUMNS = ("user_id", "arm", "segment")
COUNT_COLUMNS = ("impressions", "clicks", "plays", "completions", "early_abandons", "sessions",
                 "active_days")
NONNEGATIVE_COLUMNS = COUNT_COLUMNS + ("watch_minutes", "time_to_first_play_s")
BINARY_COLUMNS = ("churned",)
#: columns that may be empty: "no value" rather than zero
NULLABLE_COLUMNS = ("time_to_first_play_s",)
DEFAULT_METRICS = tuple(METRICS)


def get_metric(name: str, table_columns=None) -> Metric:
    """Look up a metric by name; a numeric column of the table also works as an ad-hoc mean.

    Raises InputError naming the known metrics when the name is neither.
    """
    if name in METRICS:
        return METRICS[name]
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
