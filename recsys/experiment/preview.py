"""The pages a fitted policy builds for chosen users, as the simulator would build them: what the
preview command and the report's "What users see" show (computed here, rendered by
:mod:`recsys.report.preview`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.core.page import Explanation, Layout, Page
from recsys.core.rng import KeyedRandom


@dataclass(frozen=True, eq=False)
class Homepages:
    """One arm's pages for some users (aligned with ``users``: segment, user_id, sessions, plays)."""

    arm: str
    page: Page
    explanation: Explanation | None
    users: tuple[dict, ...]


def homepage_for(policy, shards, user_ids: np.ndarray, day: int, layout: Layout,
                 rand: KeyedRandom) -> tuple[Page, Explanation | None]:
    """The pages a fitted ``policy`` builds on ``day`` for ``user_ids`` (global ids, in order), as
    the simulator would (``policy.pages(state.context(rows, day), layout, rand)``), and the
    policy's explanation of them when it offers one (``explain``)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    pages, expl, order = [], [], []
    for s in shards:
        sel = np.flatnonzero((user_ids >= s.start) & (user_ids < s.stop))
        if len(sel) == 0:
            continue
        ctx = s.context(user_ids[sel] - s.start, day)
        page = policy.pages(ctx, layout, rand)
        pages.append(page)
        order.append(sel)
        if hasattr(policy, "explain"):
            expl.append(policy.explain(ctx, page))
    inverse = np.empty(len(user_ids), dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(len(user_ids))
    page = Page.concat(pages, order=inverse)
    if not expl:
        return page, None
    return page, _concat_explanations(expl, inverse)


def _concat_explanations(parts: list[Explanation], order: np.ndarray) -> Explanation:
    def cat(arrays):
        if any(a is None for a in arrays):
            return None
        return np.concatenate(arrays)[order]

    def cat_dict(dicts):
        if any(d is None for d in dicts):
            return None
        return {k: cat([d[k] for d in dicts]) for k in dicts[0]}

    return Explanation(score=cat([p.score for p in parts]), parts=cat_dict([p.parts for p in parts]),
                       rank_scored=cat([p.rank_scored for p in parts]),
                       rank_reranked=cat([p.rank_reranked for p in parts]),
                       weights=cat_dict([p.weights for p in parts]))


def segment_homepages(result, arm: str, *, day: int | None = None) -> Homepages | None:
    """The page of one still-active user of each segment in ``arm`` (the first by user id).

    ``result`` is an :class:`~recsys.experiment.runner.ExperimentResult`; the page is the one
    the arm's fitted (and updated) policy builds on ``day`` (default: the day after the
    experiment), from the users' observable history, exactly as the simulator would build it.
    """
    cfg = result.config
    a = cfg.arm_names.index(arm)
    t = result.table
    day = cfg.days if day is None else day
    active = (t["arm"] == arm) & (t["churned"] == 0) & (t["sessions"] > 0)
    picks = t[active].sort_values("user_id").groupby("segment", sort=False).head(1)
    if picks.empty:
        return None
    users = picks["user_id"].to_numpy(np.int64)
    w = result.world.config
    layout = Layout(w.rows, w.row_length)
    rand = KeyedRandom.from_seed(cfg.seed, "policy", arm)
    page, expl = homepage_for(result.policies[a], result.shards, users, day, layout, rand)
    info = tuple({"segment": str(r.segment), "user_id": int(r.user_id), "sessions": int(r.sessions),
                  "plays": int(r.plays)} for r in picks.itertuples())
    return Homepages(arm, page, expl, info)
