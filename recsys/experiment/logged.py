"""The logs an off-policy estimate of a page policy starts from, and the truth it is checked against.

:func:`log_window` runs an experiment file's world and warm-up, keeps the impression log of the
last ``window`` warm-up days (each examined card with the logging policy's probability of its
title in its slot, ``title_propensity``) and a copy of every user's state at the start of each of
those days. :func:`target_pages` fits a new page policy on the logs before the window and builds
the page it would have shown each user on each window day, from the observable part of those
states (exactly what it would have seen). :func:`page_truth` evaluates the world's own click and
abandonment probabilities for the cards of those pages at the hidden state of every logged
session: the simulated truth of the whole-page estimand of :mod:`recsys.evaluate.slate`.

The truth reads the world's hidden state, so it lives here, beside the simulator, and never
reaches an estimator; :func:`card_probabilities` follows the simulator's examine step
(:func:`recsys.simulate.engine.examine`), and a test holds it to the probabilities the simulator
logged for the logger's own cards.
"""

from __future__ import annotations

import copy
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.core.logs import SOURCE_HOME, Logs
from recsys.core.page import Layout
from recsys.core.progress import SILENT, Progress
from recsys.core.rng import KeyedRandom
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.warmup import WarmupResult, warm_up
from recsys.policies.base import Policy
from recsys.simulate.behaviour import BehaviourModel
from recsys.simulate.runner import Simulation
from recsys.simulate.state import ShardState, push_many
from recsys.world.build import World, build_world


@dataclass
class LoggedWindow:
    """A warm-up whose last days are kept for off-policy evaluation.

    ``cards``: one row per examined card of the window (user_id, day, session, slot, title,
    artwork, clicked, qualified, title_propensity, p_click); ``states[d]``: copies of the shards
    at the start of window day ``d``.
    """

    config: ExperimentConfig
    world: World
    warm: WarmupResult
    days: list[int]
    states: dict[int, list[ShardState]]
    cards: pd.DataFrame

    @property
    def layout(self) -> Layout:
        return Layout(self.world.config.rows, self.world.config.row_length)

    def before(self) -> Logs:
        """The observable warm-up logs before the window (what a new policy is fitted on)."""
        return self.warm.logs.between(-self.config.warmup_days, self.days[0] - 1).observed()


def qualified_cards(logs: Logs) -> np.ndarray:
    """Per impression of ``logs``: 1 if clicked and the play it started was not abandoned within
    two minutes (a qualified play), else 0. Plays join on (user, day, session, title)."""
    keys = ["user_id", "day", "session", "title"]
    p = logs.plays
    ok = p[(p["source"].to_numpy() == SOURCE_HOME) & ~p["abandoned_early"].to_numpy(dtype=bool)][keys]
    imps = logs.impressions
    joined = imps[keys].merge(ok.drop_duplicates().assign(_q=1), on=keys, how="left", sort=False)
    return (joined["_q"].fillna(0).to_numpy() * imps["clicked"].to_numpy(dtype=bool)).astype(np.int8)


def logged_warmup(config: ExperimentConfig, sim: Simulation, window: int) -> tuple[WarmupResult, dict]:
    """Run the warm-up of ``config`` on ``sim`` keeping its impressions, and copies of the shards
    at the start of each of its last ``window`` days (day -> shards)."""
    if not 1 <= window < config.warmup_days:
        raise InputError(f"the window must be 1 to {config.warmup_days - 1} warm-up days, got {window}")
    if config.warmup_explore <= 0:
        raise InputError("off-policy evaluation needs a logging policy that explores (warmup_explore > 0)")
    days = range(-window, 0)
    states: dict[int, list[ShardState]] = {}

    def keep(day: int, logs: Logs, learned: list) -> None:
        if day + 1 in days:
            states[day + 1] = [copy.deepcopy(s) for s in sim.shards]

    warm = warm_up(sim, config.warmup_days, explore=config.warmup_explore, explore_draw=config.warmup_explore_draw,
                   keep_impressions=True, on_day=keep)
    return warm, states


def window_of(config: ExperimentConfig, world: World, warm: WarmupResult, states: dict) -> LoggedWindow:
    """The :class:`LoggedWindow` of a warm-up run by :func:`logged_warmup`."""
    days = sorted(states)
    logs = warm.logs.between(days[0], days[-1])
    imps = logs.impressions
    L = world.config.row_length
    cards = pd.DataFrame({
        "user_id": imps["user_id"].to_numpy(np.int64), "day": imps["day"].to_numpy(np.int64),
        "session": imps["session"].to_numpy(np.int64),
        "slot": imps["row"].to_numpy(np.int64) * L + imps["position"].to_numpy(np.int64),
        "title": imps["title"].to_numpy(np.int64), "artwork": imps["artwork"].to_numpy(np.int64),
        "clicked": imps["clicked"].to_numpy(np.int8), "qualified": qualified_cards(logs),
        "title_propensity": imps["title_propensity"].to_numpy(np.float64),
        "p_click": imps["p_click"].to_numpy(np.float64)})
    return LoggedWindow(config, world, warm, days, states, cards)


def log_window(config: ExperimentConfig, window: int = 7, *, executor: Executor | None = None,
               progress: Progress | None = None) -> LoggedWindow:
    """Run ``config``'s world and warm-up (its ``warmup_explore`` and ``warmup_explore_draw``)
    keeping the last ``window`` days' impressions and the users' states at the start of each."""
    config = config.validate()
    world = build_world(config.world, config.seed)
    sim = Simulation(world, config.seed, executor=executor, progress=progress or SILENT)
    try:
        warm, states = logged_warmup(config, sim, window)
    finally:
        sim.close()
    return window_of(config, world, warm, states)


@dataclass
class TargetPages:
    """A page policy's pages for the window: ``titles[i]`` and ``artwork[i]`` (S slots in reading
    order) for the user ``user_id[i]`` on ``day[i]``, built from what the service knew that morning."""

    name: str
    user_id: np.ndarray
    day: np.ndarray
    titles: np.ndarray
    artwork: np.ndarray

    def index(self, user_id: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Row of each (user, day) pair (-1 if absent)."""
        keys = pd.MultiIndex.from_arrays([self.user_id, self.day])
        return keys.get_indexer(pd.MultiIndex.from_arrays([np.asarray(user_id), np.asarray(day)]))


def _shard_rows(states: list[ShardState], users: np.ndarray):
    """(shard, local rows, positions in ``users``) for each shard holding some of ``users``."""
    for s in states:
        pos = np.flatnonzero((users >= s.start) & (users < s.stop))
        if len(pos):
            yield s, users[pos] - s.start, pos


def target_pages(window: LoggedWindow, policy: Policy, name: str, *, fit: bool = True) -> TargetPages:
    """``policy``'s page for every user with a logged card on each window day (``fit``: first fit it
    on the logs before the window, as of the window's first day). Its randomness is the one it
    would have as an arm named ``name``."""
    world, layout = window.world, window.layout
    if fit:
        policy.fit(window.before(), world.catalog, day=window.days[0], n_users=world.n_users)
    rand = KeyedRandom.from_seed(window.config.seed, "policy", name)
    S = layout.slots
    uid, dd, tt, aa = [], [], [], []
    for d in window.days:
        users = np.unique(window.cards.loc[window.cards["day"].to_numpy() == d, "user_id"].to_numpy())
        for s, rows, pos in _shard_rows(window.states[d], users):
            page = policy.pages(s.context(rows, d), layout, rand)
            uid.append(users[pos])
            dd.append(np.full(len(pos), d))
            tt.append(page.titles.reshape(len(pos), S))
            aa.append(page.artwork.reshape(len(pos), S))
    cat = np.concatenate
    return TargetPages(name, cat(uid), cat(dd), cat(tt).astype(np.int64), cat(aa).astype(np.int64))


def card_probabilities(model: BehaviourModel, state: ShardState, rows: np.ndarray, titles: np.ndarray,
                       artwork: np.ndarray, day: int, change: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The world's click probability of each card (``titles``, ``artwork``: (m, S), -1 empty) shown
    to local users ``rows`` (m,) of ``state``, and the probability that a click on it is
    abandoned within two minutes: the simulator's examine step without its draws (felt utility
    with the users' current tastes, satiation and boredom). ``change`` (m,): each user's logit
    shift of the reaction to how the page looks (the simulator's ``react``); None: no reaction,
    exact in a world with ``change_reaction`` off or for a page that looks as the user is used to."""
    m, S = titles.shape
    pu = np.repeat(rows, S)
    pt, pa = titles.ravel(), artwork.ravel()
    ok = pt >= 0
    pc = np.zeros(m * S)
    pab = np.zeros(m * S)
    shift = np.zeros(m * S, np.float32) if change is None else np.repeat(np.asarray(change, np.float32), S)
    pu, pt, pa, shift = pu[ok], pt[ok], pa[ok], shift[ok]
    view = model.view(state.users, state.taste, state.affinity, state.satiation, state.boredom, state.habit)
    felt = model.felt_utility(view, pu, pt, day)
    repeated = (state.passed[pu] == pt[:, None]).any(1)
    watched = (state.watched[pu] == pt[:, None]).any(1)
    pc[ok] = model.click_probability(felt, 0.0, view.traits, pu, pa, repeated, watched, shift)
    watch_util = felt - model.b.watched_weight * watched - model.boredom_penalty(view, pu, pt)
    pab[ok] = model.abandon_probability(watch_util, pa)
    return pc.reshape(m, S), pab.reshape(m, S)


def _sessions(window: LoggedWindow, d: int) -> pd.DataFrame:
    s = window.warm.logs.sessions
    s = s[s["day"].to_numpy() == d]
    return pd.DataFrame({"user_id": s["user_id"].to_numpy(np.int64), "session": s["session"].to_numpy(np.int64)})


def session_states(window: LoggedWindow, d: int):
    """For window day ``d``, session by session (r = 0, 1, ...): (shard state as the session
    began, local rows, user ids) for each shard. The start-of-day copy, then what the logged
    earlier sessions of the day left in users' memory: the cards examined and not played
    (passed over) and the titles played (watched), as the simulator's close of session does."""
    sess = _sessions(window, d)
    cards = window.cards[window.cards["day"].to_numpy() == d]
    plays = window.warm.logs.plays
    plays = plays[plays["day"].to_numpy() == d]
    S = window.layout.slots
    states = [copy.deepcopy(s) for s in window.states[d]]
    for r in range(int(sess["session"].max()) + 1 if len(sess) else 0):
        users = sess.loc[sess["session"].to_numpy() == r, "user_id"].to_numpy()
        for s, rows, pos in _shard_rows(states, users):
            yield r, s, rows, users[pos]
        # what session r leaves behind for session r + 1
        here = users
        c = cards[(cards["session"].to_numpy() == r)]
        passed = c[c["clicked"].to_numpy() == 0]
        p = plays[plays["session"].to_numpy() == r]
        for s, rows, pos in _shard_rows(states, here):
            mem = np.full((len(rows), S), -1, np.int32)
            mine = passed[(passed["user_id"].to_numpy() >= s.start) & (passed["user_id"].to_numpy() < s.stop)]
            at = pd.Index(rows + s.start).get_indexer(mine["user_id"].to_numpy())
            mem[at, mine["slot"].to_numpy()] = mine["title"].to_numpy()
            s.passed[rows] = mem
            pl = p[(p["user_id"].to_numpy() >= s.start) & (p["user_id"].to_numpy() < s.stop)]
            push_many(s.watched, pl["user_id"].to_numpy(np.int64) - s.start, pl["title"].to_numpy(np.int32))


def page_truth(window: LoggedWindow, pages: TargetPages, *, weights: np.ndarray) -> pd.DataFrame:
    """The simulated truth for every logged session: the target page's expected clicks and
    qualified plays per examined card when cards are examined with ``weights`` (S,) (summing to
    1): ``click`` = sum_j w_j p_click(card j), ``qualified`` = sum_j w_j p_click (1 - p_abandon),
    each card with the logger's artwork of its title (the title's default variant), at the
    hidden state the user was in when the session began. One row per (user, day, session)."""
    world = window.world
    model = BehaviourModel(world.config, world.catalog, world.truth)
    default = world.catalog.default_art
    out = []
    for d in window.days:
        for r, s, rows, users in session_states(window, d):
            at = pages.index(users, np.full(len(users), d))
            if (at < 0).any():
                raise InputError(f"no target page for user {users[at < 0][0]} on day {d}")
            titles = pages.titles[at]
            art = np.where(titles >= 0, default[np.maximum(titles, 0)], -1)
            pc, pab = card_probabilities(model, s, rows, titles, art, d)
            out.append(pd.DataFrame({"user_id": users, "day": d, "session": r, "click": pc @ weights,
                                     "qualified": (pc * (1 - pab)) @ weights}))
    return pd.concat(out, ignore_index=True)
