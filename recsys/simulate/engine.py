"""One day of one shard, as the story of a day in named steps.

1. :func:`visits`: who comes today (a rate that rises with satisfaction) and for how many
   sessions; then each visitor's page, built by the policy of their arm;
2. :func:`examine`: per session, the page scanned in reading order, each slot coming into view
   with the configured examination probability; an examined card is clicked with the behaviour
   model's probability; a click starts a play; an early abandonment ends the session with
   probability ``quit_after_abandon`` and otherwise sends the user back to the page, any other
   play ends the browsing;
3. :func:`play`: each homepage play's minutes, completion and episodes;
4. :func:`search`: a session that found nothing may end in a search (a play found elsewhere);
5. :func:`close_session`: the session's rewards, the user's memory and observable history;
6. :func:`end_of_day`: satisfaction, satiation and churn.

Every draw is keyed by (user, day, session, slot, stream) (:class:`Stream` names the streams),
so a user's outcomes do not depend on which other users are simulated alongside, the number of
workers, or the arms.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import scipy.sparse as sp

from recsys.core.page import Layout, Page
from recsys.policies.base import Policy
from recsys.core.rng import KeyedPrefix, KeyedRandom
from recsys.simulate.behaviour import BehaviourModel
from recsys.core.logs import ABANDON_MINUTES, SOURCE_HOME, SOURCE_OFF_HOME, watch_share
from recsys.simulate.state import ShardState, push_many


class Stream(IntEnum):
    """The behaviour's random streams: the last counter of every draw."""

    VISIT = 0
    EXTRA_SESSION = 1
    EXAMINE = 2
    CLICK = 3
    ABANDON = 4
    COMPLETE = 5
    BINGE = 6
    FRACTION = 7
    SEARCH = 8
    PICK = 9
    CHURN = 10
    BUDGET = 11
    QUIT = 12
    SEARCH_CANDIDATE = 108


#: slots of a page leave room for this many episode draws each (more if a series allows more)
EPISODE_STRIDE = 8
#: the slot counter of a search play: above every homepage slot's counters
SEARCH_SLOT = 999


def episode_stride(max_episodes: int) -> int:
    """Counters per slot for the binge draws: no two slots' draws collide."""
    return max(EPISODE_STRIDE, max_episodes - 1)


def search_slot(layout: Layout, max_episodes: int) -> int:
    """The search play's slot counter, past every homepage slot's binge counters."""
    return max(SEARCH_SLOT, layout.slots * episode_stride(max_episodes) + 1)


@dataclass
class DayLogs:
    """Column arrays of one day's logs (see :mod:`recsys.core.logs` for the schemas)."""

    impressions: dict[str, np.ndarray] | None
    plays: dict[str, np.ndarray]
    sessions: dict[str, np.ndarray]


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def build_pages(state: ShardState, rows: np.ndarray, day: int, policies: list[Policy], layout: Layout,
                policy_rands: list[KeyedRandom]) -> Page:
    """Pages for local users ``rows``, each built by the policy of the user's arm."""
    arms = state.arm[rows]
    parts, order = [], []
    for a, policy in enumerate(policies):
        sel = np.flatnonzero(arms == a)
        if len(sel) == 0:
            continue
        page = policy.pages(state.context(rows[sel], day), layout, policy_rands[a])
        parts.append(page)
        order.append(sel)
    if not parts:
        shape = (0, layout.rows, layout.row_length)
        return Page(np.empty(shape, np.int32), np.empty(shape, np.int32), np.empty(shape, np.float32),
                    np.empty(shape[:2], np.int8), np.empty(shape[:2], np.int32))
    inverse = np.empty(len(rows), dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(len(rows))
    return Page.concat(parts, order=inverse)


@dataclass
class Visits:
    """Today's visitors: local indices, sessions each, their rate, and whether each user may visit."""

    alive: np.ndarray        # (n,) bool: signed up, not churned, in the experiment
    rate: np.ndarray         # (n,) visits per day today
    users: np.ndarray        # (v,) local indices of the visitors
    sessions: np.ndarray     # (v,) sessions of each visitor


def visits(state: ShardState, model: BehaviourModel, day: int, rand: KeyedRandom) -> Visits:
    """Who visits today: a Poisson rate that rises with satisfaction; extra sessions likelier
    for active users; a churned or not-yet-signed-up user never visits."""
    b = model.b
    uid = state.user_ids
    alive = ~state.churned & (state.signup <= day) & (state.arm >= 0)
    rate = state.users.activity * np.exp(b.visit_satisfaction * state.satisfaction)
    visit = alive & (rand.uniform(uid, day, 0, 0, Stream.VISIT) < -np.expm1(-rate))
    vis = np.flatnonzero(visit)
    p_extra = b.extra_session_prob * np.minimum(rate[vis], 1.0)
    n_sess = np.ones(len(vis), np.int64)
    for k in range(1, b.sessions_max):
        n_sess += (n_sess == k) & (rand.uniform(uid[vis], day, k, 0, Stream.EXTRA_SESSION) < p_extra)
    return Visits(alive, rate, vis, n_sess)


@dataclass
class Examined:
    """A session's examined (user, slot) pairs in reading order, up to where browsing stopped."""

    j: np.ndarray            # session index (into the session's users)
    slot: np.ndarray
    user: np.ndarray         # local user index
    title: np.ndarray
    artwork: np.ndarray
    util: np.ndarray         # hidden content utility
    watch_util: np.ndarray   # utility of watching it (satiation and memory included)
    repeated: np.ndarray     # shown on the previous page and passed over
    p_click: np.ndarray
    clicked: np.ndarray
    abandoned: np.ndarray    # clicked and abandoned within two minutes
    p_abandon: np.ndarray
    stop: np.ndarray         # (m,) the slot where browsing stopped (S: never)
    examined: np.ndarray     # (m, S) bool: every slot that came into view


def examine(state: ShardState, model: BehaviourModel, sess: KeyedPrefix, loc: np.ndarray, titles: np.ndarray,
            art: np.ndarray, exam_p: np.ndarray, day: int) -> Examined:
    """Scan the page in reading order; click, and stop at the first satisfying play or at an
    early abandonment that makes the user give up."""
    b = model.b
    m, S = titles.shape
    slot = np.arange(S)
    examined = (sess.column().uniform(slot[None, :], Stream.EXAMINE) < exam_p[None, :]) & (titles >= 0)
    pj, ps = np.nonzero(examined)           # row-major: sorted by session, then slot
    pu, pt, pa = loc[pj], titles[pj, ps], art[pj, ps]
    util = model.utility(state.users, pu, pt, day)
    sat = model.satiation_penalty(state.users, pu, pt, state.satiation[pu])
    repeated = (state.passed[pu] == pt[:, None]).any(1)
    watched = (state.watched[pu] == pt[:, None]).any(1)
    p_click = model.click_probability(util, sat, state.users, pu, pa, repeated, watched)
    pair = sess.take(pj)
    clicked = pair.uniform(ps, Stream.CLICK) < p_click
    watch_util = util - sat - b.watched_weight * watched
    p_ab = model.abandon_probability(watch_util, pa)
    abandoned = clicked & (pair.uniform(ps, Stream.ABANDON) < p_ab)
    quits = abandoned & (pair.uniform(ps, Stream.QUIT) < b.quit_after_abandon)
    ends = (clicked & ~abandoned) | quits
    stop = np.full(m, S, np.int64)
    qj, first = np.unique(pj[ends], return_index=True)
    stop[qj] = ps[ends][first]
    v = ps <= stop[pj]
    return Examined(pj[v], ps[v], pu[v], pt[v], pa[v], util[v], watch_util[v], repeated[v], p_click[v], clicked[v],
                    abandoned[v], p_ab[v], stop, examined)


def play(model: BehaviourModel, ex: Examined, sess: KeyedPrefix, uid: np.ndarray, day: int, r: int,
         stride: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The homepage plays of a session's clicks: minutes, completion, episodes (and which pairs)."""
    b = model.b
    c = np.flatnonzero(ex.clicked)
    ct, ca, cs = ex.title[c], ex.artwork[c], ex.slot[c]
    keys = sess.take(ex.j[c])
    u_binge = keys.column().uniform(cs[:, None] * stride + np.arange(b.max_episodes - 1)[None, :], Stream.BINGE)
    minutes, completed, episodes = model.play_outcome(
        ex.watch_util[c], ct, ca, ex.abandoned[c], keys.uniform(cs, Stream.COMPLETE), u_binge,
        keys.uniform(cs, Stream.FRACTION), keys.normal(cs, Stream.BUDGET))
    plays = dict(user_id=uid[ex.j[c]], day=np.full(len(c), day), session=np.full(len(c), r), title=ct, artwork=ca,
                 source=np.full(len(c), SOURCE_HOME), minutes=minutes, completed=completed,
                 abandoned_early=ex.abandoned[c], episodes=episodes, p_abandon=ex.p_abandon[c])
    return plays, c


def search(model: BehaviourModel, state: ShardState, loc: np.ndarray, uid: np.ndarray, day: int, r: int,
           sess: KeyedPrefix, slot: int) -> dict[str, np.ndarray]:
    """Plays found off the homepage: the best of a few random available titles, by the user's
    taste (a Gumbel-max choice), drawn on the session's own streams at counter ``slot``."""
    b = model.b
    k = b.search_candidates
    pool = np.flatnonzero(model.catalog.available(day))
    m = len(loc)
    cand = pool[(sess.column().uniform(np.arange(k)[None, :], Stream.SEARCH_CANDIDATE) * len(pool)).astype(np.int64)]
    pu = np.repeat(loc, k)
    pt = cand.ravel()
    util = model.utility(state.users, pu, pt, day) - model.satiation_penalty(state.users, pu, pt, state.satiation[pu])
    watched = (state.watched[pu] == pt[:, None]).any(1)
    util = (util - b.watched_weight * watched).reshape(m, k)
    gumbel = -np.log(-np.log(np.clip(sess.column().uniform(np.arange(k)[None, :], Stream.PICK), 1e-12, 1 - 1e-12)))
    best = np.argmax(util + gumbel, axis=1)
    t = cand[np.arange(m), best]
    wu = util[np.arange(m), best]
    a = np.full(m, -1, np.int32)
    p_ab = model.abandon_probability(wu, a)
    ab = sess.uniform(slot, Stream.ABANDON) < p_ab
    u_b = sess.column().uniform(slot + 1 + np.arange(b.max_episodes - 1)[None, :], Stream.BINGE)
    minutes, completed, episodes = model.play_outcome(wu, t, a, ab, sess.uniform(slot, Stream.COMPLETE), u_b,
                                                      sess.uniform(slot, Stream.FRACTION),
                                                      sess.normal(slot, Stream.BUDGET))
    return dict(user_id=uid, day=np.full(m, day), session=np.full(m, r), title=t.astype(np.int32), artwork=a,
                source=np.full(m, SOURCE_OFF_HOME), minutes=minutes, completed=completed, abandoned_early=ab,
                episodes=episodes, p_abandon=p_ab)


def close_session(state: ShardState, model: BehaviourModel, ex: Examined, home_pairs: np.ndarray, searched: np.ndarray,
                  plays: dict[str, np.ndarray], loc: np.ndarray, titles: np.ndarray) -> tuple[np.ndarray, ...]:
    """The session's reward (completions and long plays add, abandonments, no play and
    repetition subtract), and the memories it leaves: titles passed over, titles watched, the
    observable history. Returns per session user: the reward, impressions, clicks, plays and
    the share of examined titles that were repeats."""
    b = model.b
    m, S = titles.shape
    loc_p = plays["user_id"] - state.start
    n_imp = np.bincount(ex.j, minlength=m)
    sess_of_play = np.concatenate([ex.j[home_pairs], searched])
    n_play = np.bincount(sess_of_play, minlength=m)
    n_complete = np.bincount(sess_of_play, weights=plays["completed"], minlength=m)
    n_long = np.bincount(sess_of_play, weights=(~plays["completed"] & ~plays["abandoned_early"]), minlength=m)
    n_aband = np.bincount(sess_of_play, weights=plays["abandoned_early"], minlength=m)
    rep = np.bincount(ex.j, weights=ex.repeated, minlength=m) / np.maximum(n_imp, 1)
    reward = (b.reward_complete * n_complete + b.reward_long_play * n_long - b.penalty_abandon * n_aband
              - b.penalty_no_play * (n_play == 0) - b.penalty_repetition * rep)
    passed = np.where(ex.examined, titles, -1)
    passed[ex.j[home_pairs], ex.slot[home_pairs]] = -1
    passed[np.arange(S)[None, :] > ex.stop[:, None]] = -1
    state.passed[loc] = passed
    push_many(state.watched, loc_p, plays["title"])
    possible = model.runtime[plays["title"]] * np.maximum(plays["episodes"], 1)
    state.observe_plays(loc_p, plays["title"], watch_share(plays["minutes"], possible), model.genre_share, decay=1.0)
    state.obs_sessions[loc] += 1
    return reward, n_imp, np.bincount(ex.j[home_pairs], minlength=m), n_play, rep


def end_of_day(state: ShardState, model: BehaviourModel, day: int, rand: KeyedRandom, alive: np.ndarray,
               reward_sum: np.ndarray, reward_cnt: np.ndarray, plays: dict[str, np.ndarray] | None) -> None:
    """Satisfaction moves toward the day's mean reward; satiation decays and grows with the
    day's good plays per genre; the observable profile decays; each user may churn, with a
    hazard that falls as satisfaction rises (higher for new users)."""
    b = model.b
    did = reward_cnt > 0
    mem = b.satisfaction_memory
    state.satisfaction[did] = mem * state.satisfaction[did] + (1 - mem) * (reward_sum[did] / reward_cnt[did])
    state.satiation *= b.satiation_decay
    state.obs_profile *= model.config.profile_decay
    if plays is not None and len(plays["user_id"]):
        good = ~plays["abandoned_early"]
        M = sp.csr_matrix((np.ones(good.sum(), np.float32), (plays["user_id"][good] - state.start, plays["title"][good])),
                          shape=(state.n, model.genre_share.shape[0]))
        state.satiation += (M @ model.genre_share).astype(np.float32)
    new = state.signup > day - b.new_user_days
    hazard = (b.churn_base * state.users.churn_propensity * np.where(new, b.churn_new_multiplier, 1.0)
              * np.exp(-b.churn_satisfaction * (state.satisfaction - b.satisfaction_reference)))
    churn = alive & (rand.uniform(state.user_ids, day, 0, 0, Stream.CHURN) < hazard)
    state.churned |= churn
    state.churn_day[churn] = day


def simulate_day(state: ShardState, model: BehaviourModel, policies: list[Policy], day: int,
                 rand: KeyedRandom, policy_rands: list[KeyedRandom], *, keep_impressions: bool = True) -> DayLogs:
    """Advance ``state`` by one day and return the day's logs."""
    cfg, b = model.config, model.b
    layout = Layout(cfg.rows, cfg.row_length)
    S = layout.slots
    stride = episode_stride(b.max_episodes)
    off_home = search_slot(layout, b.max_episodes)
    uid_all = state.user_ids
    v = visits(state, model, day, rand)
    page = build_pages(state, v.users, day, policies, layout, policy_rands)
    titles_v = page.titles.reshape(len(v.users), S)
    art_v = page.artwork.reshape(len(v.users), S)
    prop_v = page.propensity.reshape(len(v.users), S)
    title_prop_v = page.slot_title_propensity().reshape(len(v.users), S)
    team_v = page.slot_team().reshape(len(v.users), S)
    exam_p = np.outer(cfg.row_examination, cfg.position_examination).ravel()
    slot_row, slot_pos = np.divmod(np.arange(S), cfg.row_length)

    imp_parts, play_parts, sess_parts = [], [], []
    reward_sum = np.zeros(state.n, np.float32)
    reward_cnt = np.zeros(state.n, np.float32)
    for r in range(int(v.sessions.max()) if len(v.users) else 0):
        j = np.flatnonzero(v.sessions > r)      # index into the visitors
        loc = v.users[j]                        # local user index
        uid = uid_all[loc]
        m = len(j)
        titles = titles_v[j]
        sess = rand.prefix(uid, day, r)         # (user, day, session) mixed in once per session
        ex = examine(state, model, sess, loc, titles, art_v[j], exam_p, day)
        if keep_impressions:
            imp_parts.append(dict(user_id=uid[ex.j], day=np.full(len(ex.j), day), session=np.full(len(ex.j), r),
                                  row=slot_row[ex.slot], position=slot_pos[ex.slot], title=ex.title,
                                  artwork=ex.artwork, clicked=ex.clicked, p_click=ex.p_click,
                                  propensity=prop_v[j][ex.j, ex.slot],
                                  title_propensity=title_prop_v[j][ex.j, ex.slot], team=team_v[j][ex.j, ex.slot]))
        home, c = play(model, ex, sess, uid, day, r, stride)
        # time to first play: seconds spent scanning up to the first click
        csum = np.cumsum(np.where(ex.examined, b.look_seconds, b.skim_seconds).astype(np.float32), axis=1)
        cj, cfirst = np.unique(ex.j[c], return_index=True)
        ttfp = np.full(m, np.nan, np.float32)
        ttfp[cj] = csum[cj, ex.slot[c][cfirst]]
        sj = np.flatnonzero((ex.stop == S) & (sess.uniform(S, Stream.SEARCH) < b.search_probability))
        found = search(model, state, loc[sj], uid[sj], day, r, sess.take(sj), off_home)
        if len(sj):
            first_play = np.isnan(ttfp[sj])
            ttfp[sj[first_play]] = csum[sj[first_play], -1] + b.search_seconds
        play_parts += [home, found]
        plays = _concat([home, found])
        reward, n_imp, n_click, n_play, rep = close_session(state, model, ex, c, sj, plays, loc, titles)
        np.add.at(reward_sum, loc, reward.astype(np.float32))
        reward_cnt[loc] += 1
        sess_parts.append(dict(user_id=uid, day=np.full(m, day), session=np.full(m, r), impressions=n_imp,
                               clicks=n_click, plays=n_play, seconds_to_first_play=ttfp, repetition=rep))

    plays = _concat(play_parts) if play_parts else None
    end_of_day(state, model, day, rand, v.alive, reward_sum, reward_cnt, plays)
    return DayLogs(
        impressions=_concat(imp_parts) if keep_impressions and imp_parts else ({} if keep_impressions else None),
        plays=plays or {},
        sessions=_concat(sess_parts) if sess_parts else {},
    )


assert ABANDON_MINUTES == 2.0  # play_outcome draws abandoned minutes below this
