"""One day of one shard: visits, pages, cascade examination, clicks, plays, satisfaction, churn.

The story of a session (see docs/world.md): the user scans the page in reading order; slot
``s`` comes into view with the configured examination probability; an examined card is
clicked with the behaviour model's probability; a click starts a play; a play abandoned within
two minutes ends the session with probability ``quit_after_abandon`` and otherwise sends the
user back to the page; any other play ends the browsing. A session that
finds nothing may end in a search. Every draw is keyed by (user, day, session, slot), so a
user's outcomes do not depend on which other users are simulated alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.page import Layout, Page
from recsys.policy import Policy
from recsys.rng import KeyedPrefix, KeyedRandom
from recsys.simulate.behaviour import BehaviourModel
from recsys.simulate.logs import ABANDON_MINUTES, SOURCE_HOME, SOURCE_OFF_HOME
from recsys.simulate.state import ShardState, push_many

# stream names (counters are (user, day, session, slot))
_VISIT, _EXTRA, _EXAM, _CLICK, _ABANDON, _COMPLETE, _BINGE, _FRAC, _SEARCH, _PICK, _CHURN, _BUDGET, _QUIT = range(13)


@dataclass
class DayLogs:
    """Column arrays of one day's logs (see :mod:`recsys.simulate.logs` for the schemas)."""

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


def simulate_day(state: ShardState, model: BehaviourModel, policies: list[Policy], day: int,
                 rand: KeyedRandom, policy_rands: list[KeyedRandom], *, keep_impressions: bool = True) -> DayLogs:
    """Advance ``state`` by one day and return the day's logs."""
    cfg, b = model.config, model.b
    layout = Layout(cfg.rows, cfg.row_length)
    S = layout.slots
    n = state.n
    uid_all = state.user_ids

    # 1. visits: rate rises with satisfaction; a churned or not-yet-signed-up user never visits
    alive = ~state.churned & (state.signup <= day) & (state.arm >= 0)
    rate = state.users.activity * np.exp(b.visit_satisfaction * state.satisfaction)
    visit = alive & (rand.uniform(uid_all, day, 0, 0, _VISIT) < -np.expm1(-rate))
    vis = np.flatnonzero(visit)
    p_extra = b.extra_session_prob * np.minimum(rate[vis], 1.0)
    n_sess = np.ones(len(vis), np.int64)
    for k in range(1, b.sessions_max):
        n_sess += (n_sess == k) & (rand.uniform(uid_all[vis], day, k, 0, _EXTRA) < p_extra)

    page = build_pages(state, vis, day, policies, layout, policy_rands)
    titles_v = page.titles.reshape(len(vis), S)
    art_v = page.artwork.reshape(len(vis), S)
    prop_v = page.propensity.reshape(len(vis), S)
    exam_p = np.outer(cfg.row_examination, cfg.position_examination).ravel()
    slot = np.arange(S)
    slot_row, slot_pos = np.divmod(slot, cfg.row_length)

    imp_parts, play_parts, sess_parts = [], [], []
    reward_sum = np.zeros(n, np.float32)
    reward_cnt = np.zeros(n, np.float32)
    for r in range(int(n_sess.max()) if len(vis) else 0):
        j = np.flatnonzero(n_sess > r)          # index into vis
        loc = vis[j]                            # local user index
        uid = uid_all[loc]
        m = len(j)
        T = titles_v[j]
        A = art_v[j]
        # 2. cascade examination in reading order
        sess = rand.prefix(uid, day, r)         # (user, day, session) mixed in once per session
        examined = (sess.column().uniform(slot[None, :], _EXAM) < exam_p[None, :]) & (T >= 0)
        pj, ps = np.nonzero(examined)           # row-major: sorted by session, then slot
        pu, pt, pa = loc[pj], T[pj, ps], A[pj, ps]
        # 3. click probability from hidden utility, artwork, satiation and memory
        util = model.utility(state.users, pu, pt, day)
        sat = model.satiation_penalty(state.users, pu, pt, state.satiation[pu])
        repeated = (state.passed[pu] == pt[:, None]).any(1)
        watched = (state.watched[pu] == pt[:, None]).any(1)
        p_click = model.click_probability(util, sat, state.users, pu, pa, repeated, watched)
        pair = sess.take(pj)
        clicked = pair.uniform(ps, _CLICK) < p_click
        watch_util = util - sat - b.watched_weight * watched
        p_ab = model.abandon_probability(watch_util, pa)
        abandoned = clicked & (pair.uniform(ps, _ABANDON) < p_ab)
        # 4. a satisfying play ends browsing, and so, sometimes, does a disappointing one (the
        #    user gives up): keep pairs up to the first such play
        quits = abandoned & (pair.uniform(ps, _QUIT) < b.quit_after_abandon)
        ends = (clicked & ~abandoned) | quits
        stop = np.full(m, S, np.int64)
        qj, first = np.unique(pj[ends], return_index=True)
        stop[qj] = ps[ends][first]
        valid = ps <= stop[pj]
        pj, ps, pu, pt, pa = pj[valid], ps[valid], pu[valid], pt[valid], pa[valid]
        util, sat, watched, repeated = util[valid], sat[valid], watched[valid], repeated[valid]
        p_click, clicked, abandoned, p_ab = p_click[valid], clicked[valid], abandoned[valid], p_ab[valid]
        watch_util = watch_util[valid]

        if keep_impressions:
            imp_parts.append(dict(user_id=uid[pj], day=np.full(len(pj), day), session=np.full(len(pj), r),
                                  row=slot_row[ps], position=slot_pos[ps], title=pt, artwork=pa, clicked=clicked,
                                  p_click=p_click, propensity=prop_v[j][pj, ps]))

        # 5. plays from the homepage
        c = np.flatnonzero(clicked)
        ct, ca = pt[c], pa[c]
        play = sess.take(pj[c])
        u_c = play.uniform(ps[c], _COMPLETE)
        u_b = play.column().uniform(ps[c][:, None] * 8 + np.arange(b.max_episodes - 1)[None, :], _BINGE)
        u_f = play.uniform(ps[c], _FRAC)
        z = play.normal(ps[c], _BUDGET)
        minutes, completed, episodes = model.play_outcome(watch_util[c], ct, ca, abandoned[c], u_c, u_b, u_f, z)
        home = dict(user_id=uid[pj[c]], day=np.full(len(c), day), session=np.full(len(c), r), title=ct, artwork=ca,
                    source=np.full(len(c), SOURCE_HOME), minutes=minutes, completed=completed,
                    abandoned_early=abandoned[c], episodes=episodes, p_abandon=p_ab[c])

        # time to first play: seconds spent scanning up to the first click
        cost = np.where(examined, b.look_seconds, b.skim_seconds).astype(np.float32)
        csum = np.cumsum(cost, axis=1)
        cj, cfirst = np.unique(pj[c], return_index=True)
        ttfp = np.full(m, np.nan, np.float32)
        ttfp[cj] = csum[cj, ps[c][cfirst]]

        # 6. a session with no satisfying play may end in a search (a play found off the homepage)
        no_play = stop == S
        sj = np.flatnonzero(no_play & (sess.uniform(S, _SEARCH) < b.search_probability))
        search = _search_plays(model, state, loc[sj], uid[sj], day, r, sess.take(sj))
        if len(sj):
            first_play = np.isnan(ttfp[sj])
            ttfp[sj[first_play]] = csum[sj[first_play], -1] + b.search_seconds
        play_parts += [home, search]

        # 7. session outcome: rewards feed satisfaction, memories update
        plays_all = _concat([home, search])
        loc_p = plays_all["user_id"] - state.start
        n_imp = np.bincount(pj, minlength=m)
        n_click = np.bincount(pj[c], minlength=m)
        sess_of_play = np.concatenate([pj[c], sj])
        n_play = np.bincount(sess_of_play, minlength=m)
        n_complete = np.bincount(sess_of_play, weights=plays_all["completed"], minlength=m)
        n_long = np.bincount(sess_of_play, weights=(~plays_all["completed"] & ~plays_all["abandoned_early"]), minlength=m)
        n_aband = np.bincount(sess_of_play, weights=plays_all["abandoned_early"], minlength=m)
        rep = np.bincount(pj, weights=repeated, minlength=m) / np.maximum(n_imp, 1)
        reward = (b.reward_complete * n_complete + b.reward_long_play * n_long - b.penalty_abandon * n_aband
                  - b.penalty_no_play * (n_play == 0) - b.penalty_repetition * rep)
        np.add.at(reward_sum, loc, reward.astype(np.float32))
        reward_cnt[loc] += 1
        sess_parts.append(dict(user_id=uid, day=np.full(m, day), session=np.full(m, r), impressions=n_imp,
                               clicks=n_click, plays=n_play, seconds_to_first_play=ttfp, repetition=rep))
        passed = np.where(examined, T, -1)
        passed[pj[c], ps[c]] = -1
        beyond = slot[None, :] > stop[:, None]
        passed[beyond] = -1
        state.passed[loc] = passed
        push_many(state.watched, loc_p, plays_all["title"])
        share = np.clip(plays_all["minutes"] / (model.runtime[plays_all["title"]] * np.maximum(plays_all["episodes"], 1)), 0.05, 1.0)
        state.observe_plays(loc_p, plays_all["title"], share, model.genre_share, decay=1.0)
        state.obs_sessions[loc] += 1

    plays = _concat(play_parts) if play_parts else None
    # 8. end of day: satisfaction, satiation, churn
    did = reward_cnt > 0
    mem = b.satisfaction_memory
    state.satisfaction[did] = mem * state.satisfaction[did] + (1 - mem) * (reward_sum[did] / reward_cnt[did])
    state.satiation *= b.satiation_decay
    state.obs_profile *= 0.97
    if plays is not None and len(plays["user_id"]):
        good = ~plays["abandoned_early"]
        M = sp.csr_matrix((np.ones(good.sum(), np.float32), (plays["user_id"][good] - state.start, plays["title"][good])),
                          shape=(n, model.genre_share.shape[0]))
        state.satiation += (M @ model.genre_share).astype(np.float32)
    new = state.signup > day - 7
    hazard = (b.churn_base * state.users.churn_propensity * np.where(new, b.churn_new_multiplier, 1.0)
              * np.exp(-b.churn_satisfaction * (state.satisfaction - b.satisfaction_reference)))
    churn = alive & (rand.uniform(uid_all, day, 0, 0, _CHURN) < hazard)
    state.churned |= churn
    state.churn_day[churn] = day

    return DayLogs(
        impressions=_concat(imp_parts) if keep_impressions and imp_parts else ({} if keep_impressions else None),
        plays=plays or {},
        sessions=_concat(sess_parts) if sess_parts else {},
    )


def _search_plays(model: BehaviourModel, state: ShardState, loc: np.ndarray, uid: np.ndarray, day: int, r: int,
                  sess: KeyedPrefix) -> dict[str, np.ndarray]:
    """Plays found off the homepage: the best of a few random available titles, by the user's taste."""
    b = model.b
    k = b.search_candidates
    pool = np.flatnonzero(model.catalog.available(day))
    m = len(loc)
    cand = pool[(sess.column().uniform(np.arange(k)[None, :], _SEARCH + 100) * len(pool)).astype(np.int64)]
    pu = np.repeat(loc, k)
    pt = cand.ravel()
    util = model.utility(state.users, pu, pt, day) - model.satiation_penalty(state.users, pu, pt, state.satiation[pu])
    watched = (state.watched[pu] == pt[:, None]).any(1)
    util = (util - b.watched_weight * watched).reshape(m, k)
    gumbel = -np.log(-np.log(np.clip(sess.column().uniform(np.arange(k)[None, :], _PICK), 1e-12, 1 - 1e-12)))
    best = np.argmax(util + gumbel, axis=1)
    t = cand[np.arange(m), best]
    wu = util[np.arange(m), best]
    a = np.full(m, -1, np.int32)
    p_ab = model.abandon_probability(wu, a)
    ab = sess.uniform(999, _ABANDON) < p_ab
    u_b = sess.column().uniform(1000 + np.arange(b.max_episodes - 1)[None, :], _BINGE)
    minutes, completed, episodes = model.play_outcome(wu, t, a, ab, sess.uniform(999, _COMPLETE), u_b,
                                                      sess.uniform(999, _FRAC),
                                                      sess.normal(999, _BUDGET))
    return dict(user_id=uid, day=np.full(m, day), session=np.full(m, r), title=t.astype(np.int32), artwork=a,
                source=np.full(m, SOURCE_OFF_HOME), minutes=minutes, completed=completed, abandoned_early=ab,
                episodes=episodes, p_abandon=p_ab)


assert ABANDON_MINUTES == 2.0  # play_outcome draws abandoned minutes below this
