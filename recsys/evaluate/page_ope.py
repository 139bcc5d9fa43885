"""Off-policy estimates of page policies from a logged window, beside the simulated truth.

:func:`estimate_page_policies` is the one call behind the offline-online study and the
coverage check: for each named page policy, its pages on the window
(:func:`recsys.experiment.logged.target_pages`), the estimates of :mod:`recsys.evaluate.slate`
for each reward and, when asked, the truth (:func:`recsys.experiment.logged.page_truth`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from recsys.evaluate.slate import ESTIMATORS, REWARDS, examination_weights, page_feedback, title_rates
from recsys.experiment.logged import LoggedWindow, page_truth, target_pages
from recsys.policies.base import Policy


def estimate_page_policies(window: LoggedWindow, policies: Mapping[str, Policy], *, alpha: float = 0.05,
                           estimators=("ips", "snips", "dr"), truth: bool = False) -> pd.DataFrame:
    """One row per (policy, reward, estimator): the estimate, its standard error and interval,
    the cards it rests on, and with ``truth`` the simulated truth and whether the interval covers
    it. Only each user's first session of a day is used (:func:`first_sessions`). Policies are
    fitted on the logs before the window; the reward model of DR on the cards logged before it
    too (so it is fixed, as DR's unbiasedness needs)."""
    weights = examination_weights(window.world.config)
    cards = first_sessions(window.cards)
    earlier = _earlier_cards(window)
    n_titles = window.world.catalog.n_titles
    models = {r: title_rates(earlier, n_titles, r) for r in REWARDS}
    rows = []
    for name, policy in policies.items():
        pages = target_pages(window, policy, name)
        true = None
        if truth:
            t = page_truth(window, pages, weights=weights)
            keys = ["user_id", "day", "session"]
            true = cards[keys].merge(t, on=keys, how="left", validate="many_to_one")
        for reward in REWARDS:
            fb = page_feedback(cards, pages, weights, reward, model=models[reward])
            shown = float((fb.weight > 0).mean())
            for est in estimators:
                e = ESTIMATORS[est](reward=reward, alpha=alpha).estimate(fb)
                row = {"policy": name, **e.to_dict(), "share_of_cards_matched": shown}
                if true is not None:
                    row["truth"] = float(true[reward].mean())
                    row["covered"] = bool(e.ci_low <= row["truth"] <= e.ci_high)
                rows.append(row)
    return pd.DataFrame(rows)


def first_sessions(cards: pd.DataFrame) -> pd.DataFrame:
    """The cards of each user's first session of each day: the ones an estimate may use.

    The logger draws its explored titles once per user and day, so every session of a day shows
    the same page, and the state a later session starts from (the titles passed over or watched
    in the earlier one) depends on that page's draws; given that state the title in a slot is no
    longer drawn with its logged propensity, and the weights are biased (measured: about -5% on
    every policy, coverage 0.77-0.94 of the nominal 0.95). The state at the start of a day's
    first session depends only on earlier days, whose draws are independent of the day's."""
    return cards[cards["session"].to_numpy() == 0].reset_index(drop=True)


def _earlier_cards(window: LoggedWindow) -> pd.DataFrame:
    """The examined cards logged before the window (title, clicked, qualified), for reward models."""
    from recsys.experiment.logged import qualified_cards

    logs = window.warm.logs.between(-window.config.warmup_days, window.days[0] - 1)
    imps = logs.impressions
    return pd.DataFrame({"title": imps["title"].to_numpy(np.int64), "clicked": imps["clicked"].to_numpy(np.int8),
                         "qualified": qualified_cards(logs)})


def _replicate(args) -> pd.DataFrame:
    config, window, specs, alpha = args
    from recsys.experiment.logged import log_window
    from recsys.policies import make_policy

    logged = log_window(config, window)
    policies = {name: make_policy(policy, dict(params), seed=config.seed, world=logged.world)
                for name, (policy, params) in specs.items()}
    df = estimate_page_policies(logged, policies, alpha=alpha, truth=True)
    df.insert(0, "seed", config.seed)
    return df


def coverage_replicates(config, seeds, specs: Mapping[str, tuple[str, dict]], *, window: int = 7,
                        alpha: float = 0.05, executor=None) -> pd.DataFrame:
    """:func:`estimate_page_policies` with the truth on ``config``'s world once per seed (each its
    own world, users and logs); ``specs``: name -> (policy name, parameters) as in an experiment
    file. One row per (seed, policy, reward, estimator)."""
    tasks = [(config.replace(seed=int(s)), window, dict(specs), alpha) for s in seeds]
    parts = list(executor.map(_replicate, tasks)) if executor is not None else [_replicate(t) for t in tasks]
    return pd.concat(parts, ignore_index=True)
