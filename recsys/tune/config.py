"""A sweep file (TOML): [experiment] and [world] as in an experiment file, plus [tune].

```toml
[tune]
policy = "hybrid"            # cf | content | hybrid: a policy with re-rankers
replicates = 4               # independent seeds, each one multi-arm experiment
design = "randomised"        # randomised: users split among the points | paired: every user under every point
objective = "retention"      # watch_minutes | retention (1 - churn rate)
guardrails = { ctr = -0.03 } # worst acceptable relative change vs weight 0
guardrail_rule = "estimate"  # estimate (point estimate) | interval (worst end of the pooled CI)
static_baseline = false      # also run every replicate without retraining (feedback-loop contrast)
[tune.params]                # parameters every arm shares
artwork = "bandit-play"
[tune.grid]                  # re-ranker weights; the arms are their product, plus all-zero
diversity = [0, 0.15, 0.3, 0.5, 0.7, 0.9]
```

The arms and the control are generated (the control is the all-zero point), so a sweep file
has no [[arms]], no [metrics] and no experiment.control.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from recsys.core.config import dump_toml, from_mapping, load_file
from recsys.core.errors import InputError
from recsys.experiment.config import REFIT_DEFAULTS, ArmConfig, ExperimentConfig

#: the re-ranker weights a grid may sweep (policy parameter names, recsys.policies)
AXES = ("diversity", "calibration", "longtail")
OBJECTIVES = ("watch_minutes", "retention")
RULES = ("estimate", "interval")
#: randomised: one multi-arm experiment per replicate, each user in one arm; paired: every grid
#: point shown to all the replicate's users from the same post-warm-up state (common random numbers)
DESIGNS = ("randomised", "paired")
SWEEPABLE_POLICIES = ("cf", "content", "hybrid")
#: measures of what users watched, per arm and segment (recsys.metrics.exposure)
EXPOSURE_METRICS = ("coverage", "long_tail_share", "homogenization")
#: the metrics a sweep reports per arm and segment (and a guardrail may name); the first four
#: are also tested A/B against weight 0 on the pooled replicates
TESTED_METRICS = ("ctr", "watch_minutes", "completion_rate", "churn_rate")
REPORTED_METRICS = (*TESTED_METRICS, "retention", *EXPOSURE_METRICS)
LOWER_IS_BETTER = frozenset({"churn_rate", "regret_ratio", "time_to_first_play", "homogenization"})


@dataclass(frozen=True)
class Grid:
    """Values per re-ranker weight; an axis not given stays at 0."""

    diversity: tuple[float, ...] = (0.0,)
    calibration: tuple[float, ...] = (0.0,)
    longtail: tuple[float, ...] = (0.0,)

    def validate(self, where: str = "tune.grid") -> "Grid":
        for name in AXES:
            values = getattr(self, name)
            if not values:
                raise InputError(f"{where}.{name} is empty: give at least one weight")
            for v in values:
                if not math.isfinite(v) or v < 0:
                    raise InputError(f"{where}.{name}: weights must be finite and >= 0, got {v:g}")
        if not [p for p in self.points() if any(p.values())]:
            raise InputError(f"{where} has no weight other than 0 to try")
        return self

    @property
    def varied(self) -> tuple[str, ...]:
        """The axes with a nonzero value, in :data:`AXES` order (at least diversity)."""
        axes = tuple(a for a in AXES if any(v != 0 for v in getattr(self, a)))
        return axes or ("diversity",)

    def points(self) -> list[dict[str, float]]:
        """Every combination of the axes' values (sorted, deduplicated), the all-zero point first."""
        values = [sorted(set(getattr(self, a))) for a in AXES]
        pts = [dict(zip(AXES, combo)) for combo in itertools.product(*values)]
        zero = dict.fromkeys(AXES, 0.0)
        return [zero] + [p for p in pts if p != zero]

    def label(self, point: Mapping[str, float]) -> str:
        """An arm name, e.g. ``diversity=0.3`` or ``diversity=0.3,calibration=0.2``."""
        return ",".join(f"{a}={point[a]:g}" for a in self.varied)

    @classmethod
    def parse(cls, specs: list[str]) -> "Grid":
        """From ``--grid`` strings such as ``diversity=0,0.3,0.6`` (one axis each)."""
        axes: dict[str, tuple[float, ...]] = {}
        for spec in specs:
            name, sep, values = spec.partition("=")
            name = name.strip()
            if not sep or name not in AXES:
                raise InputError(f"--grid {spec!r}: expected AXIS=W1,W2,... with AXIS one of {', '.join(AXES)}")
            if name in axes:
                raise InputError(f"--grid: axis {name} given twice")
            try:
                axes[name] = tuple(float(v) for v in values.split(",") if v.strip())
            except ValueError:
                raise InputError(f"--grid {spec!r}: weights must be numbers") from None
            if not axes[name]:
                raise InputError(f"--grid {spec!r}: the grid is empty")
        return cls(**axes).validate("--grid")


@dataclass(frozen=True)
class TuneSettings:
    """The [tune] table."""

    grid: Grid = field(default_factory=lambda: Grid(diversity=(0.0, 0.15, 0.3, 0.5, 0.7, 0.9)))
    replicates: int = 4
    objective: str = "retention"
    guardrails: dict = field(default_factory=lambda: {"ctr": -0.03})
    guardrail_rule: str = "estimate"
    policy: str = "hybrid"
    params: dict = field(default_factory=lambda: {"artwork": "bandit-play"})
    homogenization_sample: int = 2000
    static_baseline: bool = False
    design: str = "randomised"

    def validate(self) -> "TuneSettings":
        from recsys.policies import make_policy

        if self.replicates < 1:
            raise InputError(f"tune.replicates must be at least 1, got {self.replicates}")
        if self.objective not in OBJECTIVES:
            raise InputError(f"tune.objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.design not in DESIGNS:
            raise InputError(f"tune.design must be one of {', '.join(DESIGNS)}, got {self.design!r}")
        if self.guardrail_rule not in RULES:
            raise InputError(f"tune.guardrail_rule must be one of {', '.join(RULES)}, got {self.guardrail_rule!r}")
        if self.policy not in SWEEPABLE_POLICIES:
            raise InputError(f"tune.policy must be one of {', '.join(SWEEPABLE_POLICIES)} "
                             f"(a policy with re-rankers), got {self.policy!r}")
        if self.homogenization_sample < 2:
            raise InputError(f"tune.homogenization_sample must be at least 2, got {self.homogenization_sample}")
        if not isinstance(self.guardrails, Mapping):
            raise InputError("tune.guardrails must be a table of {metric = worst acceptable relative change}")
        for metric, tol in self.guardrails.items():
            if metric not in REPORTED_METRICS:
                raise InputError(f"tune.guardrails: unknown metric {metric!r} (known: {', '.join(REPORTED_METRICS)})")
            if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol):
                raise InputError(f"tune.guardrails.{metric} must be a number (worst acceptable relative change)")
        if not isinstance(self.params, Mapping):
            raise InputError("tune.params must be a table of policy parameters")
        fixed = sorted(set(self.params) & set(AXES))
        if fixed:
            raise InputError(f"tune.params.{fixed[0]} is swept: set it in [tune.grid] instead")
        self.grid.validate()
        for point in self.grid.points()[:2]:  # bad parameters fail here, before any work
            make_policy(self.policy, {**self.params, **point})
        return self


@dataclass(frozen=True)
class TuneConfig:
    """A sweep: the base experiment (world, users, days, seed, ...) and the [tune] settings."""

    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    tune: TuneSettings = field(default_factory=TuneSettings)

    def __post_init__(self) -> None:
        # every arm runs the same policy: an unset schedule is that policy's (e.g. weekly for the
        # hybrid), written out so that the sweep's variants and pages can name it
        if self.experiment.retrain_every is None and self.tune.policy in REFIT_DEFAULTS:
            exp = dataclasses.replace(self.experiment, retrain_every=REFIT_DEFAULTS[self.tune.policy])
            object.__setattr__(self, "experiment", exp)

    # -- the arms the grid generates
    @property
    def points(self) -> list[dict[str, float]]:
        return self.tune.grid.points()

    @property
    def arm_names(self) -> list[str]:
        return [self.tune.grid.label(p) for p in self.points]

    @property
    def control(self) -> str:
        return self.arm_names[0]

    def arms(self) -> tuple[ArmConfig, ...]:
        share = 1.0 / len(self.points)
        return tuple(ArmConfig(name, self.tune.policy, share, {**self.tune.params, **point})
                     for name, point in zip(self.arm_names, self.points))

    def replicate_seeds(self) -> list[int]:
        """One independent seed per replicate, spawned from the experiment's seed."""
        kids = np.random.SeedSequence(self.experiment.seed).spawn(self.tune.replicates)
        return [int(k.generate_state(1)[0]) for k in kids]

    def experiment_for(self, seed: int, *, retrain: bool = True) -> ExperimentConfig:
        """The multi-arm experiment of one replicate (``retrain=False``: never refit)."""
        exp = self.experiment.replace(seed=seed, arms=self.arms(), control=self.control)
        return exp if retrain else exp.replace(retrain_every=0)

    # -- validation, loading, overrides
    def validate(self) -> "TuneConfig":
        self.tune.validate()
        self.experiment.replace(arms=self.arms(), control=self.control)
        if self.tune.static_baseline and not self.experiment.retrain_every:
            raise InputError("tune.static_baseline needs experiment.retrain_every > 0 (nothing to contrast)")
        return self

    def replace(self, *, grid: Grid | None = None, replicates: int | None = None, **experiment: Any) -> "TuneConfig":
        """Overrides from the command line: grid, replicates, and experiment keys (users, days, seed)."""
        tune = self.tune
        if grid is not None:
            tune = dataclasses.replace(tune, grid=grid)
        if replicates is not None:
            tune = dataclasses.replace(tune, replicates=replicates)
        exp = self.experiment.replace(**experiment) if experiment else self.experiment
        return TuneConfig(exp, tune).validate()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TuneConfig":
        unknown = sorted(set(data) - {"experiment", "world", "tune"})
        if unknown:
            extra = " (a sweep's arms and metrics come from [tune])" if unknown[0] in ("arms", "metrics") else ""
            raise InputError(f"unknown table [{unknown[0]}]{extra} (known: experiment, world, tune)")
        exp = dict(data.get("experiment", {}))
        if "control" in exp:
            raise InputError("experiment.control: a sweep's control is its all-zero weight arm; remove the key")
        exp.setdefault("users", ExperimentConfig.users)  # ExperimentConfig.from_dict needs it given
        tune = from_mapping(TuneSettings, data.get("tune", {}), "tune")
        base = ExperimentConfig.from_dict({"experiment": exp, "world": data.get("world", {})})
        return cls(base, tune).validate()

    @classmethod
    def load(cls, path: str | Path) -> "TuneConfig":
        return load_file(path, cls.from_dict)

    def to_dict(self) -> dict[str, Any]:
        d = self.experiment.to_dict()
        exp = {k: v for k, v in d["experiment"].items() if k != "control"}
        t = self.tune
        tune = {"policy": t.policy, "replicates": t.replicates, "objective": t.objective,
                "guardrail_rule": t.guardrail_rule, "homogenization_sample": t.homogenization_sample,
                "static_baseline": t.static_baseline, "design": t.design, "guardrails": dict(t.guardrails), "params": dict(t.params),
                "grid": {a: list(getattr(t.grid, a)) for a in AXES}}
        return {"experiment": exp, "world": d["world"], "tune": tune}

    def to_toml(self) -> str:
        return dump_toml(self.to_dict())


def default_config() -> TuneConfig:
    """The embedded default sweep (recsys/defaults/tune.toml)."""
    from importlib import resources

    path = resources.files("recsys") / "defaults" / "tune.toml"
    return TuneConfig.load(Path(str(path)))
