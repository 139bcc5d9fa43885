"""``recsys tune-diversity``: sweep the re-ranker's weights over replicates, per segment.

* :mod:`recsys.tune.config`: the sweep file ([experiment], [world], [tune]) as frozen dataclasses;
* :mod:`recsys.tune.sweep`: one multi-arm experiment per replicate, mapped over an executor;
* :mod:`recsys.tune.analysis`: intervals, pooled A/B tests, the Pareto frontier, recommendations;
and :func:`sweep` runs one, then the other (the output directory is written by
:mod:`recsys.report.tune_output`).
"""

from concurrent.futures import Executor

from recsys.tune.config import AXES, Grid, TuneConfig, TuneSettings, default_config
from recsys.tune.analysis import SweepResult, analyse_sweep
from recsys.tune.sweep import map_tasks, replicate_tasks, run_replicate


def sweep(config: TuneConfig, *, executor: Executor | None = None, progress: bool = False):
    """Run every replicate of ``config`` and analyse them: a :class:`recsys.tune.analysis.SweepResult`."""
    config = config.validate()
    results = map_tasks(run_replicate, replicate_tasks(config), executor, progress=progress)
    return analyse_sweep(config, results)


__all__ = ["AXES", "Grid", "TuneConfig", "TuneSettings", "SweepResult", "default_config", "sweep"]
