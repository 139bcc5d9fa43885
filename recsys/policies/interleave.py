"""Team-draft interleaving (Radlinski, Kurup and Joachims 2008) of two page policies.

Each user's page is merged from the pages two rankers would have shown them, read in the order
users scan a page (rows top to bottom, cards left to right). In each round a fair coin decides
which ranker picks first; each ranker then adds its highest card not already on the merged page,
and the card remembers the ranker (its *team*). A ranker whose page is exhausted yields to the
other, so the merged page is as full as the fuller of the two. The simulator logs the team of
every examined card (the impression log's ``team`` column), and a click or a qualified play is
credited to the team of its card (:mod:`recsys.experiment.interleave`,
:func:`recsys.stats.interleaving.preference_test`).

The coin flips are keyed by (user, day, pick), like every draw of the testbed, so the merged page
of a user does not depend on the batch or the number of workers. Each card keeps the artwork its
own ranker chose for it (and that artwork policy learns from its own team's cards only).
"""

from __future__ import annotations

import copy

import numpy as np

from recsys.core.logs import Logs
from recsys.core.page import ROW_KIND, Layout, Page, UserContext
from recsys.core.rng import KeyedRandom
from recsys.policies.artwork.base import ArtworkPolicy
from recsys.policies.base import Policy

#: the team labels written to the logs: 0 the first ranker (A), 1 the second (B)
TEAM_A, TEAM_B = 0, 1


def team_draft(a: np.ndarray, b: np.ndarray, coin: np.ndarray, k: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Team-draft merge of two ranked lists per user, vectorised over users (the loop runs over
    the ``k`` picks).

    ``a`` (n, La) and ``b`` (n, Lb) hold item ids best first, -1 for none; ``coin`` (n, >= k)
    uniforms: at pick ``s``, when both teams have picked equally often, A picks first if
    ``coin[:, s] < 0.5``; otherwise the team with fewer picks picks. Returns ``items`` (n, k),
    ``team`` (n, k) int8 (:data:`TEAM_A`, :data:`TEAM_B`, -1 empty) and ``source`` (n, k), the
    index of each item in its team's list (-1 empty).
    """
    a, b = np.asarray(a), np.asarray(b)
    n = a.shape[0]
    k = max(a.shape[1], b.shape[1]) if k is None else k
    left_a, left_b = a >= 0, b >= 0          # items of each list not yet placed
    picks_a = np.zeros(n, np.int64)
    picks_b = np.zeros(n, np.int64)
    items = np.full((n, k), -1, a.dtype)
    team = np.full((n, k), -1, np.int8)
    source = np.full((n, k), -1, np.int64)
    rows = np.arange(n)
    for s in range(k):
        has_a, has_b = left_a.any(1), left_b.any(1)
        a_turn = (picks_a < picks_b) | ((picks_a == picks_b) & (coin[:, s] < 0.5))
        a_turn = np.where(has_a & has_b, a_turn, has_a)      # an exhausted team yields
        live = has_a | has_b
        ia, ib = left_a.argmax(1), left_b.argmax(1)
        t = np.where(a_turn, a[rows, ia], b[rows, ib])
        t = np.where(live, t, -1)
        items[:, s] = t
        team[:, s] = np.where(live, np.where(a_turn, TEAM_A, TEAM_B), -1)
        source[:, s] = np.where(live, np.where(a_turn, ia, ib), -1)
        left_a &= a != t[:, None]
        left_b &= b != t[:, None]
        picks_a += live & a_turn
        picks_b += live & ~a_turn
    return items, team, source


def _learns(art: ArtworkPolicy) -> bool:
    methods = ("update", "summarize", "learn")
    return any(getattr(type(art), m) is not getattr(ArtworkPolicy, m) for m in methods)


class ArtworkPair(ArtworkPolicy):
    """The two rankers' artwork policies, carried together as the interleaved policy's artwork,
    so that what they learn travels to the workers every day (as any policy's artwork does)."""

    name = "pair"

    def __init__(self, first: ArtworkPolicy, second: ArtworkPolicy):
        self.first = first
        self.second = second

    def fit(self, catalog, logs=None):
        self.catalog_ = catalog      # each ranker fits its own artwork policy with its ranker
        return self

    def select(self, titles, ctx, rand):
        raise NotImplementedError("an interleaved page takes each card's artwork from its own ranker")


class LearningArtworkPair(ArtworkPair):
    """An :class:`ArtworkPair` whose parts learn: each from its own team's cards."""

    def summarize(self, logs: Logs):
        return tuple(art.summarize(team_rows(logs, team)) if _learns(art) else None
                     for team, art in ((TEAM_A, self.first), (TEAM_B, self.second)))

    def learn(self, parts: list) -> "LearningArtworkPair":
        for i, art in enumerate((self.first, self.second)):
            if _learns(art):
                art.learn([p[i] for p in parts])
        return self

    def update(self, logs: Logs) -> "LearningArtworkPair":
        return self.learn([self.summarize(logs)])


def team_rows(logs: Logs, team: int) -> Logs:
    """The logs of one team's cards: its impressions, and the homepage plays started from them
    (joined on user, day, session and title; plays found elsewhere belong to neither)."""
    imps = logs.impressions
    if imps is None:
        return Logs(plays=logs.plays.iloc[:0], sessions=logs.sessions, impressions=None)
    mine = imps[imps["team"].to_numpy() == team].reset_index(drop=True)
    keys = ["user_id", "day", "session", "title"]
    plays = logs.plays.merge(mine[keys], on=keys, how="inner", sort=False)
    return Logs(plays=plays[list(logs.plays.columns)], sessions=logs.sessions, impressions=mine)


class TeamDraftInterleaving(Policy):
    """Two fitted-together page policies shown as one team-draft interleaved page.

    ``first`` and ``second`` are any policies (the contract of :class:`~recsys.policies.base.Policy`);
    ``rands`` the keyed randomness each would get as an arm of an A/B test (so each builds the
    page it would have shown), None: children of the randomness the simulator passes.
    """

    name = "interleaved"
    row_kind = "top_picks"

    def __init__(self, first: Policy, second: Policy, rands: tuple[KeyedRandom, KeyedRandom] | None = None):
        pair = LearningArtworkPair if (_learns(first.artwork) or _learns(second.artwork)) else ArtworkPair
        super().__init__(pair(first.artwork, second.artwork))
        self.first = first
        self.second = second
        self.rands = rands

    def fit(self, logs, catalog, *, day, n_users):
        self.first.fit(logs, catalog, day=day, n_users=n_users)
        self.second.fit(logs, catalog, day=day, n_users=n_users)
        self.artwork.first, self.artwork.second = self.first.artwork, self.second.artwork
        return super().fit(logs, catalog, day=day, n_users=n_users)

    def _rankers(self) -> tuple[Policy, Policy]:
        """The two rankers with the artwork policies of today's :attr:`artwork` pair (the copy a
        worker received with today's task)."""
        out = []
        for p, art in ((self.first, self.artwork.first), (self.second, self.artwork.second)):
            if p.artwork is not art:
                p = copy.copy(p)
                p.artwork = art
            out.append(p)
        return out[0], out[1]

    def pages(self, ctx: UserContext, layout: Layout, rand: KeyedRandom) -> Page:
        first, second = self._rankers()
        ra, rb = self.rands if self.rands is not None else (rand.child("first"), rand.child("second"))
        pa, pb = first.pages(ctx, layout, ra), second.pages(ctx, layout, rb)
        n, S = len(ctx), layout.slots
        coin = rand.child("team-draft").uniform(ctx.user_ids[:, None], ctx.day, np.arange(S)[None, :])
        titles, team, src = team_draft(pa.titles.reshape(n, S), pb.titles.reshape(n, S), coin, S)
        ok = team >= 0
        srcc = np.maximum(src, 0)

        def pick(name: str, fill):
            va = getattr(pa, name)
            vb = getattr(pb, name)
            if va is None or vb is None:
                return None
            va, vb = va.reshape(n, S), vb.reshape(n, S)
            out = np.where(team == TEAM_A, np.take_along_axis(va, srcc, 1), np.take_along_axis(vb, srcc, 1))
            return np.where(ok, out, fill).reshape(n, layout.rows, layout.row_length)

        shape = (n, layout.rows, layout.row_length)
        return Page(
            titles=titles.reshape(shape).astype(np.int32),
            artwork=pick("artwork", -1).astype(np.int32),
            propensity=pick("propensity", 1.0).astype(np.float32),
            row_kind=np.full(shape[:2], ROW_KIND[self.row_kind], np.int8),
            row_ref=np.full(shape[:2], -1, np.int32),
            score=pick("score", np.nan),
            team=team.reshape(shape),
        )
