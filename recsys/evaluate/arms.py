"""Offline metrics of an experiment's arms: each arm's scorer refitted on a temporal hold-out
of the warm-up plays, so the report can set offline accuracy beside the A/B result."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.evaluate.offline import evaluate_models
from recsys.core.logs import watch_share


def offline_counterpart(policy, seed: int):
    """The offline counterpart of an arm's policy: its ranking pipeline (None if it has none)."""
    from sklearn.base import clone

    from recsys.models import Popularity, Random
    from recsys.policies import RecommenderPolicy
    from recsys.policies.reference import PopularityPolicy, RandomPolicy

    if isinstance(policy, RecommenderPolicy):
        return clone(policy.pipeline)
    if isinstance(policy, PopularityPolicy):
        return Popularity()
    if isinstance(policy, RandomPolicy):
        return Random(random_state=seed)
    return None


def arm_offline_metrics(result, *, users: int = 4000, k: int = 10) -> tuple[pd.DataFrame | None, str]:
    """NDCG@k, precision, recall, coverage, ILD, novelty and long-tail share of each arm's
    scorer on a temporal hold-out of the warm-up plays of a sample of ``users`` users, and a
    note saying what was evaluated (or why nothing was)."""
    cfg, world = result.config, result.world
    models = {a.name: offline_counterpart(p, cfg.seed) for a, p in zip(cfg.arms, result.policies)}
    skipped = [n for n, m in models.items() if m is None]
    models = {n: m for n, m in models.items() if m is not None}
    plays = result.warmup.logs.plays
    if not models or plays.empty:
        return None, "no arm has an offline counterpart" if not models else "no warm-up plays"
    pool = np.unique(plays["user_id"].to_numpy())
    rng = np.random.default_rng(cfg.seed)
    chosen = rng.choice(pool, min(users, len(pool)), replace=False)
    p = plays[np.isin(plays["user_id"].to_numpy(), chosen)]
    cat = world.catalog
    titles = p["title"].to_numpy()
    weight = watch_share(p["minutes"].to_numpy(), cat.runtime[titles] * np.maximum(p["episodes"].to_numpy(), 1))
    inter = pd.DataFrame({"user": p["user_id"].to_numpy(), "item": titles, "weight": weight,
                          "day": p["day"].to_numpy()})
    df = evaluate_models(inter, cat.items_frame(), models, k=k, split="temporal", seed=cfg.seed)
    df = df[df["segment"] == "all"].drop(columns="segment").rename(columns={"model": "arm"}).reset_index(drop=True)
    note = (f"{len(chosen):,} warm-up users sampled; the last 20% of their plays in time held out; "
            f"{int(df['users'].iloc[0]):,} users with a held-out title scored at k = {k}")
    if skipped:
        note += f"; no offline counterpart for {', '.join(skipped)}"
    return df, note
