"""One day of one shard, as the story of a day in named steps.

1. :func:`visits`: who comes today (a daily return hazard that rises with satisfaction and
   habit) and for how many sessions; then each visitor's page, built by the policy of their arm;
2. :func:`react`: the user meets the page's look (:func:`page_look`) and reacts to how unlike
   the familiar one it is (curiosity or change aversion, for every click of the day);
   :func:`examine`: per session, the page scanned in reading order: as a cascade (rows top to
   bottom, cards left to right, each step a probability of going on) or slot by slot
   (``world.examination``); an examined card
   is clicked with the behaviour model's probability; a click starts a play; an early
   abandonment ends the session with probability ``quit_after_abandon`` and otherwise sends the
   user back to the page, any other play ends the browsing;
3. :func:`play`: each homepage play's minutes, completion and episodes;
4. :func:`search`: a session that found nothing may end in a search (a play found elsewhere);
5. :func:`close_session`: the session's rewards, the user's memory and observable history;
6. :func:`end_of_day`: satisfaction, satiation, boredom, taste drift, habit, the familiar look,
   and churn.

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
from recsys.simulate.behaviour import LOOK_ROWS, LOOK_SIZE, BehaviourModel, UserView, take
from recsys.core.logs import ABANDON_MINUTES, SOURCE_HOME, SOURCE_OFF_HOME, watch_share
from recsys.simulate.state import ShardState, push_many, row_contains


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
    EXAMINE_ROW = 13
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


def engagement(state: ShardState, model: BehaviourModel, day: int) -> np.ndarray:
    """The log-rate of returning today beyond the user's activity: recent satisfaction, habit,
    and a new user's first days. The daily return hazard is ``activity x exp(engagement)``; the
    churn hazard falls as it rises (churn is its limit: a user who will not return)."""
    b = model.b
    new = state.signup > day - b.new_user_days
    return (b.visit_satisfaction * (state.satisfaction - b.satisfaction_reference) + b.visit_habit * (state.habit - b.habit_reference)
            + b.visit_new * new)


def visits(state: ShardState, model: BehaviourModel, day: int, rand: KeyedRandom) -> Visits:
    """Who visits today: a Poisson rate that rises with satisfaction and habit; extra sessions
    likelier for active users; a churned or not-yet-signed-up user never visits."""
    b = model.b
    uid = state.user_ids
    fresh = state.signup == day                 # a new account: no habit yet, a typical satisfaction
    state.habit[fresh] = 0.0
    state.satisfaction[fresh] = b.satisfaction_reference
    alive = ~state.churned & (state.signup <= day) & (state.arm >= 0)
    rate = state.users.activity * np.exp(engagement(state, model, day))
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
    watch_util: np.ndarray   # utility of watching it (satiation, boredom and memory included; 0 unless clicked)
    repeated: np.ndarray     # shown on the previous page and passed over
    p_click: np.ndarray
    clicked: np.ndarray
    abandoned: np.ndarray    # clicked and abandoned within two minutes
    p_abandon: np.ndarray    # 0 unless clicked
    stop: np.ndarray         # (m,) the slot where browsing stopped (S: never)
    examined: np.ndarray     # (m, S) bool: every slot that came into view


def react(state: ShardState, view: UserView, model: BehaviourModel, visitors: np.ndarray,
          look: np.ndarray) -> np.ndarray:
    """Each visitor's reaction to today's page (a logit shift of every click of the day): their
    change strength (curious: positive, averse: negative) times the noticed part of how unlike
    the look they are used to it is (:meth:`BehaviourModel.page_change`, ``change_felt``)."""
    d = model.page_change(look, state.look[visitors])
    return (view.change[visitors] * model.change_felt(d)).astype(np.float32)


def in_view(model: BehaviourModel, sess: KeyedPrefix, titles: np.ndarray) -> np.ndarray:
    """(m, S) bool: the slots that come into view in each session (before any click).

    ``position``: each slot on its own, with probability ``row_examination[r] x
    position_examination[p]``. ``cascade``: the user goes down the rows, on from row r-1 to row r
    with probability ``row_examination[r] / row_examination[r-1]``, and along each row reached,
    on from card p-1 to card p with ``position_examination[p] / position_examination[p-1]``: a
    card's chance of coming into view is the same product, but what is seen is a block (no card
    seen beyond one skipped). Empty slots are never examined."""
    cfg = model.config
    R, L = cfg.rows, cfg.row_length
    S = R * L
    u = sess.column().uniform(np.arange(S)[None, :], Stream.EXAMINE)
    if cfg.examination == "position":
        exam_p = np.outer(cfg.row_examination, cfg.position_examination).ravel()
        return (u < exam_p[None, :]) & (titles >= 0)
    go_on = np.asarray(cfg.position_examination, np.float64)
    go_on = np.concatenate([go_on[:1], go_on[1:] / go_on[:-1]])
    along = np.logical_and.accumulate((u < np.tile(go_on, R)[None, :]).reshape(-1, R, L), axis=2)
    down = np.asarray(cfg.row_examination, np.float64)
    down = np.concatenate([down[:1], down[1:] / down[:-1]])
    reach = np.logical_and.accumulate(sess.column().uniform(np.arange(R)[None, :], Stream.EXAMINE_ROW) < down, axis=1)
    return (along & reach[:, :, None]).reshape(-1, S) & (titles >= 0)


def page_look(model: BehaviourModel, titles: np.ndarray, art: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """The look of each page (rows ``titles``, ``art`` (n, S), ``kinds`` (n, R)), each slot
    weighted by the attention it gets (its configured examination probability): the share per
    row kind, the renown of its titles (how well known they are, a percentile), and the share of
    cards not in their title's usual (default) artwork. -1 in the first column: an empty page."""
    cfg = model.config
    n, S = titles.shape
    filled = titles >= 0
    w = np.outer(cfg.row_examination, cfg.position_examination).ravel()[None, :] * filled
    tot = w.sum(1)
    w = w / np.maximum(tot, 1e-12)[:, None]
    t = np.maximum(titles, 0)
    look = np.empty((n, LOOK_SIZE), np.float32)
    row_w = w.reshape(n, cfg.rows, cfg.row_length).sum(2)
    key = np.arange(n)[:, None] * LOOK_ROWS + kinds.astype(np.int64)
    look[:, :LOOK_ROWS] = np.bincount(key.ravel(), weights=row_w.ravel(), minlength=n * LOOK_ROWS).reshape(n, LOOK_ROWS)
    look[:, LOOK_ROWS] = (w * np.take(model.renown, t)).sum(1)
    look[:, LOOK_ROWS + 1] = (w * (art != np.take(model.catalog.default_art, t))).sum(1)
    look[tot <= 0, 0] = -1.0
    return look


def examine(state: ShardState, view: UserView, model: BehaviourModel, sess: KeyedPrefix, loc: np.ndarray,
            titles: np.ndarray, art: np.ndarray, day: int, change: np.ndarray) -> Examined:
    """Scan the page (:func:`in_view`); click, and stop at the first satisfying play or at an
    early abandonment that makes the user give up. ``change`` (m,): the logit shift of each
    user's reaction to how the page looks today (:func:`react`)."""
    b = model.b
    m, S = titles.shape
    examined = in_view(model, sess, titles)
    flat = np.flatnonzero(examined)         # row-major: sorted by session, then slot
    pj, ps = np.divmod(flat, S)
    pu, pt, pa = take(loc, pj), np.take(titles, flat), np.take(art, flat)
    felt = model.felt_utility(view, pu, pt, day)
    repeated = row_contains(state.passed, pu, pt)
    watched = row_contains(state.watched, pu, pt)
    p_click = model.click_probability(felt, 0.0, view.traits, pu, pa, repeated, watched, take(change, pj))
    pair = sess.take(pj)
    clicked = pair.uniform(ps, Stream.CLICK) < p_click
    c = np.flatnonzero(clicked)             # what a play is worth: only where one starts
    watch_util = np.zeros(len(pj), np.float32)
    watch_util[c] = felt[c] - b.watched_weight * watched[c] - model.boredom_penalty(view, pu[c], pt[c])
    p_ab = np.zeros(len(pj), np.float32)
    p_ab[c] = model.abandon_probability(watch_util[c], pa[c])
    abandoned = np.zeros(len(pj), bool)
    abandoned[c] = pair.take(c).uniform(ps[c], Stream.ABANDON) < p_ab[c]
    a = np.flatnonzero(abandoned)
    quits = np.zeros(len(pj), bool)
    quits[a] = pair.take(a).uniform(ps[a], Stream.QUIT) < b.quit_after_abandon
    ends = (clicked & ~abandoned) | quits
    stop = np.full(m, S, np.int64)
    qj, first = np.unique(pj[ends], return_index=True)
    stop[qj] = ps[ends][first]
    v = ps <= stop[pj]
    return Examined(pj[v], ps[v], pu[v], pt[v], pa[v], watch_util[v], repeated[v], p_click[v], clicked[v],
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


def search(model: BehaviourModel, state: ShardState, view: UserView, loc: np.ndarray, uid: np.ndarray, day: int,
           r: int, sess: KeyedPrefix, slot: int) -> dict[str, np.ndarray]:
    """Plays found off the homepage: the best of a few random available titles, by the user's
    taste (a Gumbel-max choice), drawn on the session's own streams at counter ``slot``."""
    b = model.b
    k = b.search_candidates
    pool = np.flatnonzero(model.catalog.available(day))
    m = len(loc)
    cand = np.take(pool, (sess.column().uniform(np.arange(k)[None, :], Stream.SEARCH_CANDIDATE) * len(pool)).astype(np.int64))
    pu = np.repeat(loc, k)
    pt = cand.ravel()
    util = model.felt_utility(view, pu, pt, day) - model.boredom_penalty(view, pu, pt)
    watched = row_contains(state.watched, pu, pt)
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
    """The session's reward (completions, and plays stopped after the first minutes by the share
    watched, add; abandonments, no play and repetition subtract), and the memories it leaves: titles passed over, titles watched, the
    observable history. Returns per session user: the reward, impressions, clicks, plays and
    the share of examined titles that were repeats."""
    b = model.b
    m, S = titles.shape
    loc_p = plays["user_id"] - state.start
    n_imp = np.bincount(ex.j, minlength=m)
    sess_of_play = np.concatenate([ex.j[home_pairs], searched])
    n_play = np.bincount(sess_of_play, minlength=m)
    n_complete = np.bincount(sess_of_play, weights=plays["completed"], minlength=m)
    possible = model.runtime[plays["title"]] * np.maximum(plays["episodes"], 1)
    share = watch_share(plays["minutes"], possible)
    long = ~plays["completed"] & ~plays["abandoned_early"]
    w_long = np.bincount(sess_of_play, weights=np.where(long, share, 0.0), minlength=m)
    n_aband = np.bincount(sess_of_play, weights=plays["abandoned_early"], minlength=m)
    rep = np.bincount(ex.j, weights=ex.repeated, minlength=m) / np.maximum(n_imp, 1)
    reward = (b.reward_complete * n_complete + b.reward_long_play * w_long - b.penalty_abandon * n_aband
              - b.penalty_no_play * (n_play == 0) - b.penalty_repetition * rep)
    passed = np.where(ex.examined, titles, -1)
    passed[ex.j[home_pairs], ex.slot[home_pairs]] = -1
    passed[np.arange(S)[None, :] > ex.stop[:, None]] = -1
    state.passed[loc] = passed
    push_many(state.watched, loc_p, plays["title"])
    state.observe_plays(loc_p, plays["title"], share, model.genre_share, decay=1.0)
    state.obs_sessions[loc] += 1
    return reward, n_imp, np.bincount(ex.j[home_pairs], minlength=m), n_play, rep


def end_of_day(state: ShardState, model: BehaviourModel, day: int, rand: KeyedRandom, alive: np.ndarray,
               reward_sum: np.ndarray, reward_cnt: np.ndarray, plays: dict[str, np.ndarray] | None,
               visitors: np.ndarray | None = None, looks: np.ndarray | None = None) -> None:
    """The day's traces in the users' hidden state, then churn.

    Satisfaction moves toward the day's mean reward. Satiation (days) decays and grows by each
    good play's genres; boredom (weeks) is a decayed average of the share each genre took of a
    day's viewing (plays weighted by watch share; a day without viewing adds nothing), so it
    measures how concentrated recent viewing was, whatever its volume. Tastes drift toward what was watched: the
    latent taste toward the titles' latents, the genre affinity toward ``genre_ceiling`` in the
    genres watched. Habit grows on an active day and fades on a day without a visit. The
    familiar look of ``visitors`` moves toward the ``looks`` of today's pages. The observable
    profile decays. Each user may churn, with a hazard that falls as the return rate rises
    (satisfaction, habit; higher for new users)."""
    b = model.b
    did = reward_cnt > 0
    mem = b.satisfaction_memory
    state.satisfaction[did] = mem * state.satisfaction[did] + (1 - mem) * (reward_sum[did] / reward_cnt[did])
    state.satiation *= b.satiation_decay
    state.boredom *= b.boredom_decay
    if b.genre_forget:
        state.affinity += b.genre_forget * (state.users.genre_affinity - state.affinity)
    state.obs_profile *= model.config.profile_decay
    if plays is not None and len(plays["user_id"]):
        T = model.genre_share.shape[0]
        loc = plays["user_id"] - state.start
        good = ~plays["abandoned_early"]
        M = sp.csr_matrix((np.ones(good.sum(), np.float32), (loc[good], plays["title"][good])), shape=(state.n, T))
        state.satiation += (M @ model.genre_share).astype(np.float32)
        share = watch_share(plays["minutes"], model.runtime[plays["title"]] * np.maximum(plays["episodes"], 1))
        W = sp.csr_matrix((share.astype(np.float32), (loc, plays["title"])), shape=(state.n, T))
        watched = np.flatnonzero(np.diff(W.indptr))
        Ww = W[watched]
        Wg = np.asarray((Ww @ model.genre_share), np.float32)
        # boredom: a decayed average of the share each genre took of a day's viewing
        state.boredom[watched] += (1.0 - b.boredom_decay) * Wg / np.maximum(Wg.sum(1, keepdims=True), 1e-12)
        if b.genre_drift:   # tastes still forming (little habit) move most
            aff = state.affinity[watched]
            rate = b.genre_drift * (1.0 - b.drift_habit * state.habit[watched])[:, None]
            state.affinity[watched] = aff + rate * Wg * (b.genre_ceiling - aff)
        if b.taste_drift:
            taste = state.taste[watched] + b.taste_drift * np.asarray(Ww @ model.truth.latent, np.float32)
            state.taste[watched] = taste / np.linalg.norm(taste, axis=1, keepdims=True)
    visited = reward_cnt > 0
    state.habit[visited] += b.habit_gain * (1.0 - state.habit[visited])
    state.habit[alive & ~visited] *= 1.0 - b.habit_decay
    if visitors is not None and len(visitors):
        seen = looks[:, 0] >= 0
        v, lk = visitors[seen], looks[seen]
        old = state.look[v]
        fresh = old[:, 0] < 0
        state.look[v] = np.where(fresh[:, None], lk, old + b.change_adaptation * (lk - old))
    new = state.signup > day - b.new_user_days
    hazard = (b.churn_base * state.users.churn_propensity * np.where(new, b.churn_new_multiplier, 1.0)
              * np.exp(-b.churn_satisfaction * (state.satisfaction - b.satisfaction_reference)
                       - b.churn_habit * (state.habit - b.habit_reference)))
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
    view = model.view(state.users, state.taste, state.affinity, state.satiation, state.boredom, state.habit)
    page = build_pages(state, v.users, day, policies, layout, policy_rands)
    titles_v = page.titles.reshape(len(v.users), S)
    art_v = page.artwork.reshape(len(v.users), S)
    prop_v = page.propensity.reshape(len(v.users), S)
    title_prop_v = page.slot_title_propensity().reshape(len(v.users), S)
    team_v = page.slot_team().reshape(len(v.users), S)
    slot_row, slot_pos = np.divmod(np.arange(S), cfg.row_length)
    looks = page_look(model, titles_v, art_v, page.row_kind)      # how each visitor's page looks today
    if b.change_reaction_until is None or day < b.change_reaction_until:
        change = react(state, view, model, v.users, looks)        # ... and the reaction to it
    else:                                                         # the steady state: the same day-0 state, no reaction
        change = np.zeros(len(v.users), np.float32)

    imp_parts, play_parts, sess_parts = [], [], []
    reward_sum = np.zeros(state.n, np.float32)
    reward_cnt = np.zeros(state.n, np.float32)
    for r in range(int(v.sessions.max()) if len(v.users) else 0):
        j = np.flatnonzero(v.sessions > r)      # index into the visitors
        loc = v.users[j]                        # local user index
        uid = uid_all[loc]
        m = len(j)
        titles = take(titles_v, j)
        sess = rand.prefix(uid, day, r)         # (user, day, session) mixed in once per session
        ex = examine(state, view, model, sess, loc, titles, take(art_v, j), day, take(change, j))
        if keep_impressions:
            cell = take(j, ex.j) * S + ex.slot  # the pair's slot in the visitors' page arrays
            imp_parts.append(dict(user_id=uid[ex.j], day=np.full(len(ex.j), day), session=np.full(len(ex.j), r),
                                  row=slot_row[ex.slot], position=slot_pos[ex.slot], title=ex.title,
                                  artwork=ex.artwork, clicked=ex.clicked, p_click=ex.p_click,
                                  propensity=np.take(prop_v, cell), title_propensity=np.take(title_prop_v, cell),
                                  team=np.take(team_v, cell)))
        home, c = play(model, ex, sess, uid, day, r, stride)
        # time to first play: seconds spent scanning up to the first click
        csum = np.cumsum(np.where(ex.examined, b.look_seconds, b.skim_seconds).astype(np.float32), axis=1)
        cj, cfirst = np.unique(ex.j[c], return_index=True)
        ttfp = np.full(m, np.nan, np.float32)
        ttfp[cj] = csum[cj, ex.slot[c][cfirst]]
        sj = np.flatnonzero((ex.stop == S) & (sess.uniform(S, Stream.SEARCH) < b.search_probability))
        found = search(model, state, view, loc[sj], uid[sj], day, r, sess.take(sj), off_home)
        if len(sj):
            first_play = np.isnan(ttfp[sj])
            ttfp[sj[first_play]] = csum[sj[first_play], -1] + b.search_seconds
        play_parts += [home, found]
        plays = _concat([home, found])
        reward, n_imp, n_click, n_play, rep = close_session(state, model, ex, c, sj, plays, loc, titles)
        reward_sum[loc] += reward.astype(np.float32)   # loc: each visitor once
        reward_cnt[loc] += 1
        sess_parts.append(dict(user_id=uid, day=np.full(m, day), session=np.full(m, r), impressions=n_imp,
                               clicks=n_click, plays=n_play, seconds_to_first_play=ttfp, repetition=rep))

    plays = _concat(play_parts) if play_parts else None
    end_of_day(state, model, day, rand, v.alive, reward_sum, reward_cnt, plays, v.users, looks)
    return DayLogs(
        impressions=_concat(imp_parts) if keep_impressions and imp_parts else ({} if keep_impressions else None),
        plays=plays or {},
        sessions=_concat(sess_parts) if sess_parts else {},
    )


assert ABANDON_MINUTES == 2.0  # play_outcome draws abandoned minutes below this
