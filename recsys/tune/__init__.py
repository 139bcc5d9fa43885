"""``recsys tune-diversity``: sweep the re-ranker's weights over replicates, per segment.

* :mod:`recsys.tune.config`: the sweep file ([experiment], [world], [tune]) as frozen dataclasses;
* :mod:`recsys.tune.sweep`: one multi-arm experiment per replicate, mapped over an executor;
* :mod:`recsys.tune.analysis`: intervals, pooled A/B tests, the Pareto frontier, recommendations;
* :mod:`recsys.tune.output`: the output directory (tables, JSON, charts, HTML), whole or not at all.
"""

from recsys.tune.config import AXES, Grid, TuneConfig, TuneSettings, default_config
from recsys.tune.analysis import SweepResult
from recsys.tune.sweep import sweep

__all__ = ["AXES", "Grid", "TuneConfig", "TuneSettings", "SweepResult", "default_config", "sweep"]
