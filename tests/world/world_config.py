"""Small experiment configs for the world tests (a module of its own: `conftest` names clash across folders)."""

import dataclasses

from recsys.experiment.config import ExperimentConfig


def small_config(arms, users=6000, days=7, seed=3, warmup_days=14, **kw) -> ExperimentConfig:
    cfg = ExperimentConfig()
    cfg = dataclasses.replace(cfg, users=users, days=days, warmup_days=warmup_days, seed=seed,
                              world=dataclasses.replace(cfg.world, users=users), arms=tuple(arms),
                              control=arms[0].name, **kw)
    return cfg.validate()
