import pytest

from recsys.experiment.config import ArmConfig
from recsys.experiment.runner import run_experiment

from world_config import small_config


@pytest.fixture(scope="session")
def three_policy_run():
    arms = [ArmConfig("popularity", "popularity", 1 / 3), ArmConfig("random", "random", 1 / 3),
            ArmConfig("oracle", "oracle", 1 / 3)]
    return run_experiment(small_config(arms, users=9000, days=14, warmup_days=28))
