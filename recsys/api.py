"""The public Python API: DataFrames in and out, the same engine as the command line.

>>> import recsys
>>> world = recsys.build_world(users=2000, seed=1)
>>> exp = recsys.run_experiment({"popularity": "popularity", "hybrid": ("hybrid", {"diversity": 0.3})},
...                             users=2000, days=7, seed=1)
>>> exp.analysis.to_frame()      # one row per (metric, segment, arm)
>>> exp.decision.verdict         # "ship", "no-ship", "investigate" or "inconclusive"
>>> recsys.write_report(exp, "report.html")

An arm is a policy name (``recsys.policies.registry``), a plugin path ``package.module:Class``,
a ``(name, params)`` pair, or an object: a scorer (``fit(X, items)`` returning self and
``score(users, X)`` returning a dense users x titles block), a whole-page policy
(``fit(logs, catalog, *, day, n_users)`` and ``pages(ctx, layout, rand)``), or a built-in model
such as ``recsys.models.EASE(l2=200)``. See docs/contracts.md for the tables and the JSON.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.errors import InputError
from recsys.decision import Decision, decide
from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.jobs import JobOutput
from recsys.stats.analysis import Analysis, analyze
from recsys.world.build import World
from recsys.world.config import WorldConfig

__all__ = ["build_world", "interaction_matrix", "run_experiment", "analyze", "decide", "evaluate_models",
           "write_report", "load_experiment", "Analysis", "Decision", "Experiment", "ExperimentConfig",
           "WorldConfig", "World"]

#: a finished experiment: ``.table`` (the per-user table), ``.analysis`` (:class:`Analysis`),
#: ``.decision`` (:class:`Decision`), ``.config``, ``.world`` and ``.json`` (analysis.json's content)
Experiment = JobOutput


def build_world(users: int = 20_000, seed: int = 0, *, config: WorldConfig | Mapping[str, Any] | None = None,
                **params: Any) -> World:
    """The synthetic world of ``users`` users (public catalog and users, hidden truth).

    ``params`` are :class:`WorldConfig` fields (``titles=1000``, ``taste_clusters=6``, ...);
    ``config`` a whole :class:`WorldConfig` (or its dict) to start from.
    """
    from recsys.world.build import build_world as _build

    base = config if isinstance(config, WorldConfig) else WorldConfig.from_dict(dict(config or {}))
    return _build(WorldConfig.from_dict({**base.to_dict(), **params, "users": users}), seed)


#: the column names an interaction frame may use, first match wins
_USER_COLUMNS = ("user", "user_id")
_ITEM_COLUMNS = ("item", "title", "item_id")
_WEIGHT_COLUMNS = ("weight", "rating")


def _column(frame: pd.DataFrame, names: Sequence[str], what: str) -> str | None:
    for name in names:
        if name in frame:
            return name
    if what:
        raise InputError(f"the interaction frame has no {what} column (looked for {', '.join(names)}; "
                         f"it has {', '.join(map(str, frame.columns))})")
    return None


def interaction_matrix(frame: pd.DataFrame, *, n_users: int | None = None, n_items: int | None = None,
                       weight: str | None = None) -> sp.csr_matrix:
    """The users x items CSR matrix (float32, duplicates summed) a scorer's ``fit`` takes.

    Accepts the offline format (``user``, ``item``, ``weight``: :func:`recsys.experiment.warmup.synthetic_interactions`,
    the evaluation loaders) and the world's play log (``user_id``, ``title``; each play counts 1).
    Ids are the matrix's row and column indices, so they must be non-negative integers (encode
    others with ``pandas.factorize``); ``n_users``/``n_items`` default to the largest id + 1.
    ``weight`` names the weight column (default ``weight`` or ``rating`` if present, else 1).
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"interaction_matrix takes a DataFrame, got {type(frame).__name__}")
    ucol, icol = _column(frame, _USER_COLUMNS, "user"), _column(frame, _ITEM_COLUMNS, "item")
    wcol = weight if weight is not None else _column(frame, _WEIGHT_COLUMNS, "")
    if wcol is not None and wcol not in frame:
        raise InputError(f"the interaction frame has no weight column {wcol!r}")
    ids = {}
    for col in (ucol, icol):
        values = frame[col].to_numpy()
        if not np.issubdtype(values.dtype, np.integer) or (len(values) and values.min() < 0):
            raise InputError(f"interaction column {col!r} must hold non-negative integer ids (encode other ids with "
                             "pandas.factorize)")
        ids[col] = values.astype(np.int64)
    rows, cols = ids[ucol], ids[icol]
    shape = (n_users if n_users is not None else int(rows.max(initial=-1)) + 1,
             n_items if n_items is not None else int(cols.max(initial=-1)) + 1)
    if len(rows) and (rows.max() >= shape[0] or cols.max() >= shape[1]):
        raise InputError(f"an id is out of range for a {shape[0]} x {shape[1]} matrix")
    w = frame[wcol].to_numpy(np.float32) if wcol is not None else np.ones(len(frame), np.float32)
    if not np.isfinite(w).all():
        raise InputError(f"interaction column {wcol!r} has missing or infinite weights")
    X = sp.csr_matrix((w, (rows, cols)), shape=shape, dtype=np.float32)
    X.sum_duplicates()
    return X


def load_experiment(path: str | Path) -> ExperimentConfig:
    """An experiment file (TOML, docs/contracts.md section 5), validated."""
    return ExperimentConfig.load(path)


def _arm(name: str, spec: Any, share: float) -> tuple[ArmConfig, Any]:
    """(the arm's config, the object standing for its policy or None)."""
    from recsys.policies.plugins import spec_of

    if isinstance(spec, ArmConfig):
        return spec, None
    params: Mapping[str, Any] = {}
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], Mapping):
            raise InputError(f"arm {name!r}: give (policy, params) with params a dict, got {spec!r}")
        spec, params = spec
    if isinstance(spec, str):
        return ArmConfig(name, spec, share, dict(params)), None
    if isinstance(spec, type):
        raise InputError(f"arm {name!r}: give an instance of {spec.__name__}, or its path 'module:{spec.__name__}'")
    record = {}
    get_params = getattr(spec, "get_params", None)
    if callable(get_params):   # the object's own parameters, as a record in config.toml where TOML can hold them
        record = {k: v for k, v in get_params(deep=False).items()
                  if isinstance(v, (bool, int, str)) or (isinstance(v, float) and math.isfinite(v))}
    return ArmConfig(name, spec_of(spec), share, {**record, **params}), spec


def run_experiment(arms: Mapping[str, Any] | Sequence[str] | None = None, *, control: str | None = None,
                   shares: Mapping[str, float] | None = None, users: int | None = None, days: int | None = None,
                   seed: int | None = None, world: WorldConfig | Mapping[str, Any] | None = None,
                   metrics: Mapping[str, Any] | None = None, config: ExperimentConfig | str | Path | None = None,
                   workers: int = 1, dask: bool = False, scheduler: str | None = None,
                   progress: bool = False) -> Experiment:
    """Run an A/B experiment in the world, analyse it and decide; returns an :data:`Experiment`.

    ``arms``: {arm name: policy} (see the module docstring for what a policy may be) or a list
    of policy names (each arm named after its policy); ``control`` defaults to the first arm and
    ``shares`` to equal. ``config`` (an :class:`ExperimentConfig` or the path of an experiment
    file) supplies everything not given here; ``world`` overrides its [world] table and
    ``metrics`` its [metrics] table (docs/contracts.md section 5). ``workers``/``dask``/``scheduler``
    run the simulation's shards in parallel with the same per-user table as one worker.
    Arms given as objects are copied and fitted inside the run; with several workers their class
    must be importable by name (a module on the path, or a script's top level for ``workers``
    processes; Dask workers need a module).
    """
    from recsys.core.parallel import executor
    from recsys.jobs import run_job
    from recsys.stats.roles import Roles

    base = config if isinstance(config, ExperimentConfig) else (
        ExperimentConfig.load(config) if config is not None else ExperimentConfig())
    changes: dict[str, Any] = {}
    objects: dict[str, Any] = {}
    if arms is not None:
        if isinstance(arms, (str, bytes)) or not isinstance(arms, (Mapping, Sequence)):
            raise InputError("arms must be a dict {name: policy} or a list of policy names")
        items = list(arms.items()) if isinstance(arms, Mapping) else [(a, a) for a in arms]
        if not all(isinstance(n, str) for n, _ in items):
            raise InputError("arm names must be strings (a list of arms must hold policy names)")
        given = dict(shares or {})
        unknown = sorted(set(given) - {n for n, _ in items})
        if unknown:
            raise InputError(f"shares name an arm that is not among the arms: {unknown[0]!r}")
        built = []
        for name, spec in items:
            arm, obj = _arm(name, spec, float(given.get(name, 1.0 / len(items))))
            built.append(arm)
            if obj is not None:
                objects[name] = obj
        changes["arms"] = tuple(built)
        changes["control"] = control or items[0][0]
    elif control is not None:
        changes["control"] = control
    for key, value in (("users", users), ("days", days), ("seed", seed)):
        if value is not None:
            changes[key] = value
    if world is not None:
        wc = world if isinstance(world, WorldConfig) else WorldConfig.from_dict(
            {**base.world.to_dict(), **dict(world)})
        changes["world"] = wc
    if metrics is not None:
        changes["metrics"] = Roles.from_table(dict(metrics), "metrics")
    cfg = base.replace(**changes) if changes else base
    if "world" in changes and "users" not in changes:   # the world's size follows [experiment] users
        cfg = cfg.replace(users=cfg.users)
    import dataclasses

    cfg = dataclasses.replace(cfg)  # validated below, with the object arms known
    cfg.validate(objects=tuple(objects))
    with executor(workers, dask=dask, scheduler=scheduler) as ex:
        return run_job(cfg, executor=ex, progress=progress, objects=objects)


def evaluate_models(interactions: pd.DataFrame, items: pd.DataFrame | None = None,
                    models: Mapping[str, Any] | Sequence[str] | None = None, **options: Any) -> pd.DataFrame:
    """Offline metrics of ``models`` on a hold-out split: one row per (model, segment).

    ``models``: {name: model} where a model is an object (a built-in from :mod:`recsys.models`,
    or any class with ``fit(X, items)`` and ``score(users, X)``), a built-in's name or a plugin
    path ``package.module:Class``; or a list of such names; default: every built-in. The
    ``options`` are :func:`recsys.evaluate.offline.evaluate_models`'s (``k``, ``split``,
    ``test_fraction``, ``segments``, ``seed``, ``new_titles``, ``reference``, ...).
    """
    from recsys.evaluate.offline import evaluate_models as _evaluate
    from recsys.evaluate.offline import model_by_name

    if models is not None:
        if isinstance(models, (str, bytes)) or not isinstance(models, (Mapping, Sequence)):
            raise InputError("models must be a dict {name: model} or a list of model names")
        pairs = list(models.items()) if isinstance(models, Mapping) else [(m, m) for m in models]
        seed = options.get("seed", 0)
        models = {name: model_by_name(m, seed=seed, with_content=items is not None) if isinstance(m, str) else m
                  for name, m in pairs}
    return _evaluate(interactions, items, models, **options)


def write_report(result: Experiment | Analysis, path: str | Path, *, title: str | None = None) -> Path:
    """Write the HTML report of an experiment (every section) or of an :class:`Analysis` of any
    per-user table (verdict, trade-offs, lifts, segments, methods), whole or not at all."""
    from recsys.core.io import write_text
    from recsys.report.experiment import render_job_report, render_report

    if isinstance(result, JobOutput):
        from recsys.jobs import gather_evidence

        evidence = gather_evidence(result.result, list(result.json["arms"]))
        html = render_job_report(result, evidence)
    elif isinstance(result, Analysis):
        a = {**result.to_dict(), "decision": decide(result).to_dict()}
        html = render_report(a, title=title or "A/B analysis",
                             subtitle=f"control {result.control}; {a['n_users']:,} users")
    else:
        raise InputError(f"write_report takes an experiment or an Analysis, got {type(result).__name__}")
    path = Path(path)
    write_text(path, html)
    return path
