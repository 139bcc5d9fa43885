"""Experiment files (TOML, docs/contracts.md section 5) as frozen dataclasses, validated once."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping

from recsys.core.config import dump_toml, from_mapping, load_file, to_mapping
from recsys.core.errors import InputError
from recsys.stats.metrics import METRICS
from recsys.stats.options import AnalysisOptions
from recsys.stats.roles import STRATEGIC_EXPOSURE, Levels, Roles
from recsys.world.config import WorldConfig
from recsys.world.segments import SEGMENTS

CORRECTIONS = ("holm", "bh", "none")
#: days between refits on the arm's own logs when neither the arm nor the experiment sets
#: ``retrain_every``, as in production: popularity counts refreshed daily (a bincount of the
#: plays, milliseconds), model-based policies weekly (a fit of the default hybrid on 20,000 users'
#: logs takes about 3 s, and between fits their pages already follow each user's latest plays);
#: random and the oracle learn nothing from logs (0: never). Any other policy (the other registry
#: models, plugins and objects) refits on :data:`MODEL_REFIT_DAYS`
REFIT_DEFAULTS = {"random": 0, "popularity": 1, "cf": 7, "content": 7, "hybrid": 7, "oracle": 0}
MODEL_REFIT_DAYS = 7
#: how the warm-up logger draws an explored slot's title (recsys.policies.reference.GenreRowsPolicy)
EXPLORE_DRAWS = ("unseen", "uniform")


@dataclass(frozen=True)
class ArmConfig:
    name: str
    policy: str
    share: float
    params: dict = field(default_factory=dict)
    retrain_every: int | None = None     # days between refits on the arm's own logs; 0 = frozen; None: the experiment's


@dataclass(frozen=True)
class DecisionConfig:
    """The [decision] table: the levels of the tests beside the success metrics' alpha
    (``[experiment] alpha``; see :class:`recsys.stats.roles.Levels`)."""

    guardrail_alpha: float = 0.05
    deterioration_alpha: float = 0.025
    quality_alpha: float = 0.001


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    seed: int = 7
    users: int = 20_000
    days: int = 14
    warmup_days: int = 28
    warmup_explore: float = 0.25           # share of the warm-up logger's slots shown at random (1 = a random start-up)
    warmup_explore_draw: str = "unseen"    # how an explored slot's title is drawn: unseen | uniform (exact propensities)
    control: str = "popularity"
    alpha: float = 0.05
    correction: str = "holm"
    retrain_every: int | None = None       # days between refits on each arm's own logs (0: frozen); None:
                                           # each policy's production schedule (REFIT_DEFAULTS); an arm may override
    target_segments: tuple[str, ...] = ()  # only these segments enter the experiment (empty: all)
    cuped: bool = True
    world: WorldConfig = field(default_factory=WorldConfig)
    arms: tuple[ArmConfig, ...] = (
        ArmConfig("popularity", "popularity", 0.5),
        ArmConfig("hybrid", "hybrid", 0.5, {"diversity": 0.3, "artwork": "bandit-play"}),
    )
    metrics: Roles = field(default_factory=Roles)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)

    @property
    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms]

    def refit_every(self, arm: ArmConfig) -> int:
        """Days between refits of ``arm``'s policy on its own logs (0: never): the arm's
        ``retrain_every``, else the experiment's, else the policy's schedule (:data:`REFIT_DEFAULTS`)."""
        for every in (arm.retrain_every, self.retrain_every):
            if every is not None:
                return int(every)
        return REFIT_DEFAULTS.get(arm.policy, MODEL_REFIT_DAYS)

    @property
    def roles(self) -> Roles:
        """The metrics' roles (the [metrics] table)."""
        return self.metrics

    @property
    def levels(self) -> Levels:
        """The levels of the decision's tests ([experiment] alpha and correction, [decision])."""
        d = self.decision
        return Levels(alpha=self.alpha, guardrail_alpha=d.guardrail_alpha, deterioration_alpha=d.deterioration_alpha,
                      quality_alpha=d.quality_alpha, correction=self.correction)

    def validate(self, objects: Collection[str] = ()) -> "ExperimentConfig":
        """Check every field (InputError naming the first bad one). ``objects``: the arms whose
        policy is given as a Python object (:func:`recsys.api.run_experiment`), whose policy
        names are only a record and whose parameters the object's wrapper checks."""
        if self.users < 2:
            raise InputError(f"experiment.users must be at least 2, got {self.users}")
        if self.days < 1:
            raise InputError(f"experiment.days must be at least 1, got {self.days}")
        if self.warmup_days < 7:
            raise InputError(f"experiment.warmup_days must be at least 7, got {self.warmup_days}")
        if not 0.0 <= self.warmup_explore <= 1.0:
            raise InputError(f"experiment.warmup_explore must be in [0, 1], got {self.warmup_explore}")
        if self.warmup_explore_draw not in EXPLORE_DRAWS:
            raise InputError(f"experiment.warmup_explore_draw must be one of {', '.join(EXPLORE_DRAWS)}, "
                             f"got {self.warmup_explore_draw!r}")
        if self.retrain_every is not None and self.retrain_every < 0:
            raise InputError("experiment.retrain_every must be >= 0 (0 = never)")
        if not 0.0 < self.alpha < 1.0:
            raise InputError(f"experiment.alpha must be in (0, 1), got {self.alpha}")
        if self.correction not in CORRECTIONS:
            raise InputError(f"experiment.correction must be one of {', '.join(CORRECTIONS)}, got {self.correction!r}")
        for s in self.target_segments:
            if s not in SEGMENTS:
                raise InputError(f"experiment.target_segments: unknown segment {s!r} (known: {', '.join(SEGMENTS)})")
        if len(self.arms) < 2:
            raise InputError("an experiment needs at least two [[arms]]")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise InputError(f"arm names must be unique, got {names}")
        from recsys.policies.registry import POLICIES

        for a in self.arms:
            if not 0.0 <= a.share <= 1.0:
                raise InputError(f"arm {a.name!r}: share must be in [0, 1], got {a.share}")
            if a.retrain_every is not None and a.retrain_every < 0:
                raise InputError(f"arm {a.name!r}: retrain_every must be >= 0 (0 = never)")
            if a.name in objects:
                continue
            if a.policy not in POLICIES and ":" not in a.policy:
                raise InputError(f"arm {a.name!r}: unknown policy {a.policy!r} (known: {', '.join(POLICIES)}, "
                                 "or a plugin package.module:ClassName)")
            _check_params(a)
        total = sum(a.share for a in self.arms)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise InputError(f"arm shares must sum to 1, got {total:g}")
        if self.control not in names:
            raise InputError(f"control arm {self.control!r} is not among the arms ({', '.join(names)})")
        roles = self.metrics
        for metric in (*roles.deciding(), *(roles.secondary or ())):
            if metric not in METRICS:
                raise InputError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
        for metric in roles.strategic:
            if metric not in METRICS and metric not in STRATEGIC_EXPOSURE:
                raise InputError(f"unknown strategic metric {metric!r} (known: {', '.join((*METRICS, *STRATEGIC_EXPOSURE))})")
        roles.validate()
        self.levels.validate()
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExperimentConfig":
        data = dict(data)
        tables = ("experiment", "world", "arms", "metrics", "decision", "analysis")
        unknown = sorted(set(data) - set(tables))
        if unknown:
            raise InputError(f"unknown table [{unknown[0]}] (known: {', '.join(tables)})")
        exp = dict(data.get("experiment", {}))
        world = dict(data.get("world", {}))
        if "users" in world:
            raise InputError("set the number of users in [experiment] users, not [world] users")
        exp_fields = {f.name for f in dataclasses.fields(cls)} - {"world", "arms", "metrics", "decision", "analysis"}
        bad = sorted(set(exp) - exp_fields)
        if bad:
            raise InputError(f"unknown key experiment.{bad[0]} (known: {', '.join(sorted(exp_fields))})")
        kwargs = from_mapping(_ExpScalars, exp, "experiment").__dict__
        users = kwargs["users"] if kwargs.get("users") is not None else cls.users
        wc = WorldConfig.from_dict({**world, "users": users})
        arms_raw = data.get("arms")
        if arms_raw is not None:
            if not isinstance(arms_raw, list):
                raise InputError("[[arms]] must be an array of tables")
            arms = tuple(from_mapping(ArmConfig, a, f"arms[{i}]") for i, a in enumerate(arms_raw))
        else:
            arms = cls.arms
        metrics = Roles.from_table(data.get("metrics", {}), "metrics")
        decision = from_mapping(DecisionConfig, data.get("decision", {}), "decision")
        analysis = AnalysisOptions.from_table(data.get("analysis"), "analysis")
        return cls(**{k: v for k, v in kwargs.items() if v is not None}, world=wc, arms=arms, metrics=metrics,
                   decision=decision, analysis=analysis).validate()

    @classmethod
    def load(cls, path: str | Path) -> "ExperimentConfig":
        return load_file(path, cls.from_dict)

    def to_dict(self) -> dict[str, Any]:
        d = to_mapping(self)
        world = d.pop("world")
        world.pop("users")
        arms = d.pop("arms")
        d.pop("metrics")
        d.pop("analysis")
        decision = d.pop("decision")
        out = {"experiment": d, "world": world, "arms": arms, "metrics": self.metrics.to_table(), "decision": decision}
        analysis = self.analysis.to_table()
        if analysis != AnalysisOptions().to_table():
            out["analysis"] = analysis
        return out

    def to_toml(self) -> str:
        return dump_toml(self.to_dict())

    def replace(self, **kwargs: Any) -> "ExperimentConfig":
        cfg = dataclasses.replace(self, **kwargs)
        if "users" in kwargs:
            cfg = dataclasses.replace(cfg, world=dataclasses.replace(cfg.world, users=kwargs["users"]))
        return cfg.validate()


def _check_params(arm: "ArmConfig") -> None:
    """Build the arm's policy once (cheap, unfitted) so a bad parameter fails before any work."""
    from recsys.policies.artwork import make_artwork
    from recsys.policies import make_policy

    try:
        if arm.policy == "oracle":
            extra = sorted(set(arm.params) - {"artwork"})
            if extra:
                raise InputError(f"unknown parameter {extra[0]!r} for policy 'oracle' (known: artwork)")
            make_artwork(arm.params.get("artwork", "fixed"))
        else:
            make_policy(arm.policy, dict(arm.params))
    except InputError as exc:
        raise InputError(f"arm {arm.name!r}: {exc}") from None


@dataclass(frozen=True)
class _ExpScalars:
    """The scalar keys of the [experiment] table (all optional)."""

    name: str | None = None
    seed: int | None = None
    users: int | None = None
    days: int | None = None
    warmup_days: int | None = None
    warmup_explore: float | None = None
    warmup_explore_draw: str | None = None
    control: str | None = None
    alpha: float | None = None
    correction: str | None = None
    retrain_every: int | None = None
    target_segments: tuple[str, ...] | None = None
    cuped: bool | None = None
