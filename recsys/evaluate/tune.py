"""Hyperparameter search on a validation split cut from the training data: :func:`tune_models`.

The data are split once into train and test (the evaluation's split). The test part is then
set aside: a second split of the *training part only* gives a validation set, on which each
model's candidate parameters are scored (NDCG@k). The best parameters are refitted on the
whole training part and scored once on the test part, with intervals across users and a paired
test against the best model, as :func:`~recsys.evaluate.offline.evaluate_models` reports them.
The test part reaches nothing but that last scoring (a test plants a signal in it alone).

Candidates come from scikit-learn's :class:`~sklearn.model_selection.ParameterSampler` (seeded),
after each model's class defaults, so a tuned model never scores below its default on
validation. The hybrid is tuned in a second stage: its CF component is one of the tuned CF
models with its chosen parameters, and the search is over that choice and the blend
(content and popularity weights, the history shrinkage that hands users from cold-start to CF);
among its starting points is each CF model alone (content and popularity weights 0), so the
tuned hybrid matches the best CF model on validation at least. Trials run in parallel on an
executor (:mod:`recsys.core.parallel`); each is seeded, so results do not depend on the workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import loguniform, uniform
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterSampler

from recsys.core.errors import InputError
from recsys.evaluate.offline import default_models, holdout, per_user_metrics, summarise
from recsys.models import Content, DenseHybrid, make_hybrid
from recsys.core.parallel import Shared, resolve

#: search spaces: lists are sampled uniformly, scipy distributions by their law
SPACES: dict[str, dict[str, Any]] = {
    "als": {"factors": [8, 16, 32, 64, 128], "regularization": loguniform(1e-2, 1e2),
            "alpha": loguniform(0.5, 100.0), "iterations": [10, 15, 25]},
    "bpr": {"factors": [16, 32, 64, 128], "learning_rate": loguniform(1e-3, 3e-2),
            "regularization": loguniform(1e-4, 1e-1), "iterations": [50, 100, 200]},
    "itemknn": {"neighbours": [10, 20, 50, 100, 200, 500, 1000], "shrinkage": [0.0, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0],
                "weighting": ["none", "tfidf", "bm25"]},
    "rp3beta": {"neighbours": [10, 20, 50, 100, 200, 500, 1000], "alpha": uniform(0.2, 1.3), "beta": uniform(0.0, 0.8)},
    "ease": {"l2": loguniform(1.0, 1e4)},
    "content": {"cast_weight": [0.0, 0.25, 0.5, 1.0], "runtime_weight": [0.0, 0.3, 0.6],
                "kind_weight": [0.0, 0.3, 0.6], "popularity_weight": [0.0, 0.2, 0.5, 1.0]},
    "hybrid": {"content_weight": [0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0], "popularity_weight": [0.0, 0.1, 0.25, 0.5, 1.0],
               "shrinkage": [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]},
}
#: the CF models the hybrid may take as its component (those tuned in the first stage)
HYBRID_CF = ("als", "bpr", "itemknn", "rp3beta", "ease")
#: models with nothing to tune: scored once, on the test part only
FIXED = ("random", "popularity")


def base_models(seed: int = 0, *, with_content: bool = True) -> dict[str, Any]:
    """The estimators the search starts from: the class defaults of :func:`default_models`, the
    hybrid left out (it is built from the tuned CF models)."""
    models = default_models(seed, with_content=with_content)
    models.pop("hybrid", None)
    return models


@dataclass
class Tuned:
    """One model's search: the chosen parameters, their validation NDCG, every trial."""

    name: str
    params: dict[str, Any]
    validation_ndcg: float
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class TuneResult:
    """The search and the test figures of the tuned models (``test``: as evaluate_models)."""

    tuned: dict[str, Tuned]
    models: dict[str, Any]
    test: pd.DataFrame
    split: str
    test_fraction: float
    validation_fraction: float
    validation_users: int
    test_users: int
    search_seconds: float
    test_seconds: float


def _num_threads_one(est):
    """Estimators (and their components) that run implicit's threads get one per worker process."""
    params = est.get_params(deep=True)
    one = {k: 1 for k in params if k == "num_threads" or k.endswith("__num_threads")}
    return est.set_params(**one) if one else est


def _trial(handle, est, k: int, seed: int) -> tuple[float, float]:
    """Validation NDCG@k of ``est`` (fitted here) and the seconds it took."""
    h = resolve(handle)
    t0 = time.perf_counter()
    per_user, _, _ = per_user_metrics(est, h, k, seed=seed)
    return float(np.mean(per_user["ndcg"])), time.perf_counter() - t0


def _test(handle, est, k: int, seed: int):
    h = resolve(handle)
    return per_user_metrics(est, h, k, seed=seed)


class _Prefitted(BaseEstimator):
    """A component fitted once on the validation training matrix and shared by the hybrid's
    trials: cloning returns it as it is and fitting does nothing (the matrix is the same)."""

    def __init__(self, model=None):
        self.model = model

    def __sklearn_clone__(self):
        return self

    def fit(self, X, items=None):
        return self

    def score(self, users, X=None, items=None):
        return self.model.score(users, X, items=items)


def _fit(handle, est):
    h = resolve(handle)
    return clone(est).fit(h.X, h.enc.items)


def _hybrid_trial(handle, fitted_handle, params: dict, k: int, seed: int) -> tuple[float, float]:
    """Validation NDCG@k of the hybrid ``params`` over the prefitted components."""
    fitted = resolve(fitted_handle)
    p = dict(params)
    parts = tuple(_Prefitted(fitted[n]) for n in p.pop("cf").split("+"))
    est = DenseHybrid(parts if len(parts) > 1 else parts[0], _Prefitted(fitted["content"]), random_state=seed, **p)
    return _trial(handle, est, k, seed)


def _map(executor, fn: Callable, args: list[tuple]) -> list:
    if executor is None:
        return [fn(*a) for a in args]
    futures = [executor.submit(fn, *a) for a in args]
    return [f.result() for f in futures]


def candidates(name: str, base, space: Mapping[str, Any], n_trials: int, seed: int) -> list[dict[str, Any]]:
    """The parameter sets tried for ``name``: the estimator's own values first, then
    ``n_trials - 1`` draws from ``space`` (seeded; repeats dropped)."""
    own = {p: base.get_params(deep=False)[p] for p in space if p in base.get_params(deep=False)}
    out = [own]
    if n_trials > 1 and space:
        rng = np.random.RandomState(_key(seed, name))
        for params in ParameterSampler(dict(space), n_iter=int(min(n_trials - 1, _grid_size(space))), random_state=rng):
            params = {p: (v.item() if isinstance(v, np.generic) else v) for p, v in params.items()}
            if params not in out:
                out.append(params)
    return out


def _key(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, *name.encode()]).generate_state(1)[0])


def _hybrid_candidates(cf_names: list[str], n_trials: int, seed: int, space: Mapping[str, Any]) -> list[dict]:
    defaults = {"content_weight": 0.35, "popularity_weight": 0.5, "shrinkage": 5.0}
    out = []
    for cf in cf_names:   # each CF model alone, then with the class's default blend
        out.append({"cf": cf, "content_weight": 0.0, "popularity_weight": 0.0, "shrinkage": 5.0})
        out.append({"cf": cf, **defaults})
    full = {"cf": cf_names, **space}
    if n_trials > 1:
        rng = np.random.RandomState(_key(seed, "hybrid"))
        for params in ParameterSampler(full, n_iter=int(min(n_trials - 1, _grid_size(full))), random_state=rng):
            params = {p: (v.item() if isinstance(v, np.generic) else v) for p, v in params.items()}
            if params not in out:
                out.append(params)
    return out


def _grid_size(space: Mapping[str, Any]) -> float:
    """Points in ``space`` when every value is a list (ParameterSampler then samples without
    replacement and wants at most that many); infinite with a distribution."""
    if not all(isinstance(v, (list, tuple)) for v in space.values()):
        return float("inf")
    return float(np.prod([len(v) for v in space.values()]))


def build_hybrid(params: Mapping[str, Any], cf_models: Mapping[str, Any], seed: int, content=None):
    """The hybrid for ``params``: ``cf`` names a model of ``cf_models`` or an ensemble of them
    joined by ``+``; the rest are blend weights. One dot-product CF model gives a
    :class:`~recsys.models.hybrid.Hybrid`, anything else a :class:`~recsys.models.hybrid.DenseHybrid`."""
    p = {k: v for k, v in params.items() if k != "cf_params"}
    parts = tuple(clone(cf_models[n]) for n in p.pop("cf").split("+"))
    content = clone(content) if content is not None else Content(random_state=seed)
    if len(parts) > 1:
        return DenseHybrid(parts, content, random_state=seed, **p)
    return make_hybrid(parts[0], content, random_state=seed, **p)


def tune_models(interactions: pd.DataFrame, items: pd.DataFrame | None = None, models: list[str] | None = None, *,
                n_trials: int = 20, k: int = 10, split: str = "user-temporal", test_fraction: float = 0.2,
                validation_fraction: float | None = None, seed: int = 0, segments=None, executor=None,
                spaces: Mapping[str, Mapping[str, Any]] | None = None,
                estimators: Mapping[str, Any] | None = None, reference: str | None = None,
                progress: Callable[[str], None] | None = None) -> TuneResult:
    """Tune ``models`` (names; default every model of :func:`default_models`) on a validation
    split of the training part and score the tuned models on the test part.

    ``n_trials`` parameter sets per model (the defaults among them); ``validation_fraction``
    (default ``test_fraction``) is held out of the training part by the same ``split``.
    ``spaces`` and ``estimators`` replace the built-in search spaces and starting estimators
    per name (any scikit-learn style scorer). ``executor``: a :mod:`recsys.core.parallel` executor,
    None to run inline. Returns a :class:`TuneResult`.
    """
    if not isinstance(n_trials, (int, np.integer)) or isinstance(n_trials, bool) or n_trials < 1:
        raise InputError(f"trials must be a positive integer, got {n_trials!r}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise InputError(f"k must be a positive integer, got {k!r}")
    validation_fraction = test_fraction if validation_fraction is None else validation_fraction
    spaces = {**SPACES, **(spaces or {})}
    outer = holdout(interactions, items, split=split, test_fraction=test_fraction, seed=seed, segments=segments)
    with_content = outer.enc.items is not None
    base = {**base_models(seed, with_content=with_content), **(estimators or {})}
    names = list(models) if models is not None else [*base, *(["hybrid"] if with_content else [])]
    unknown = [n for n in names if n not in base and n != "hybrid"]
    if unknown:
        raise InputError(f"unknown model {unknown[0]!r} (known here: {', '.join([*base, 'hybrid'])})")
    if "hybrid" in names and not with_content:
        raise InputError("the hybrid needs item metadata (an items file)")
    # the validation split: cut from the training part alone, never the test part
    inner = holdout(outer.train, items, split=split, test_fraction=validation_fraction, seed=seed)
    t0 = time.perf_counter()
    tuned: dict[str, Tuned] = {}
    chosen: dict[str, Any] = {}
    parallel = executor is not None
    with Shared(executor) as shared:
        handle = shared.put(inner)
        # stage 1: every model but the hybrid; the fixed ones are not searched
        stage1 = [n for n in names if n != "hybrid" and n not in FIXED]
        hybrid_cf = [n for n in HYBRID_CF if n in base] if "hybrid" in names else []
        # the hybrid's parts are tuned first, whether or not they were asked for on their own
        searched = list(dict.fromkeys(stage1 + hybrid_cf + (["content"] if "hybrid" in names else [])))
        jobs = []
        for name in searched:
            for params in candidates(name, base[name], spaces.get(name, {}), n_trials, seed):
                est = clone(base[name]).set_params(**params)
                jobs.append((name, params, _num_threads_one(est) if parallel else est))
        if progress:
            progress(f"stage 1: {len(jobs)} trials of {len(searched)} models on {len(inner.users):,} validation users")
        scores = _map(executor, _trial, [(handle, est, k, seed) for _, _, est in jobs])
        for (name, params, _), (ndcg, secs) in zip(jobs, scores):
            t = tuned.setdefault(name, Tuned(name, params, -np.inf))
            t.trials.append((params, ndcg))
            t.seconds += secs
            if ndcg > t.validation_ndcg:
                t.params, t.validation_ndcg = params, ndcg
        for name in searched:
            chosen[name] = clone(base[name]).set_params(**tuned[name].params)
        content = chosen.get("content")
        if "hybrid" in names:
            # the CF models alone, and an ensemble of the two best on validation
            top = sorted(hybrid_cf, key=lambda n: -tuned[n].validation_ndcg)
            cf_names = hybrid_cf + (["+".join(top[:2])] if len(top) > 1 else [])
            cands = _hybrid_candidates(cf_names, n_trials, seed, spaces["hybrid"])
            if progress:
                progress(f"stage 2: {len(cands)} trials of the hybrid over {', '.join(cf_names)}")
            comps = {**{n: chosen[n] for n in hybrid_cf}, "content": content}
            fitted = dict(zip(comps, _map(executor, _fit, [(handle, _num_threads_one(clone(e)) if parallel else e)
                                                           for e in comps.values()])))
            fitted_handle = shared.put(fitted)
            scores = _map(executor, _hybrid_trial, [(handle, fitted_handle, p, k, seed) for p in cands])
            shared.drop(fitted_handle)
            del fitted
            best = int(np.argmax([s for s, _ in scores]))
            params = {**cands[best], "cf_params": {n: dict(tuned[n].params) for n in cands[best]["cf"].split("+")}}
            tuned["hybrid"] = Tuned("hybrid", params, scores[best][0], [(p, s) for p, (s, _) in zip(cands, scores)],
                                    float(sum(s for _, s in scores)))
            chosen["hybrid"] = build_hybrid(params, chosen, seed, content)
        search_s = time.perf_counter() - t0
        shared.drop(handle)
        # the test part: each tuned model refitted on the whole training part, scored once
        final = {n: (chosen[n] if n in chosen else base[n]) for n in names}
        t1 = time.perf_counter()
        out_handle = shared.put(outer)
        if progress:
            progress(f"test: {len(final)} tuned models on {len(outer.users):,} users")
        results = _map(executor, _test, [(out_handle, _num_threads_one(clone(e)) if parallel else e, k, seed)
                                         for e in final.values()])
        test_s = time.perf_counter() - t1
    table = summarise(dict(zip(final, results)), outer, reference=reference)
    return TuneResult(tuned={n: tuned[n] for n in names if n in tuned}, models=final, test=table, split=split,
                      test_fraction=test_fraction, validation_fraction=validation_fraction,
                      validation_users=len(inner.users), test_users=len(outer.users),
                      search_seconds=search_s, test_seconds=test_s)
