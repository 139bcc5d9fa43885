import dataclasses

import pytest

from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.runner import run_experiment


def small_config(arms, users=6000, days=7, seed=3, **kw) -> ExperimentConfig:
    cfg = ExperimentConfig()
    cfg = dataclasses.replace(cfg, users=users, days=days, warmup_days=14, seed=seed,
                              world=dataclasses.replace(cfg.world, users=users), arms=tuple(arms),
                              control=arms[0].name, **kw)
    return cfg.validate()


@pytest.fixture(scope="session")
def three_policy_run():
    arms = [ArmConfig("popularity", "popularity", 1 / 3), ArmConfig("random", "random", 1 / 3),
            ArmConfig("oracle", "oracle", 1 / 3)]
    return run_experiment(small_config(arms, users=9000))
