"""What a policy hands the simulator: a homepage per user, and what it may look at to build it.

A page is ``rows x row_length`` slots (the world's layout). Everything here is observable: a
:class:`UserContext` is built from logs only (what the service itself recorded), never from
the world's hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Row kinds a page can carry (``Page.row_kind`` holds indices into this tuple).
ROW_KINDS = (
    "top_picks",            # "Top picks for you"
    "because_you_watched",  # "Because you watched X" (row_ref = the anchor title)
    "genre",                # a genre row (row_ref = genre id)
    "new_this_week",        # "New this week"
    "popular_now",          # "Popular now"
    "continue",             # "More like your recent plays"
    "explore",              # random / exploration row
)
ROW_KIND = {name: i for i, name in enumerate(ROW_KINDS)}


@dataclass(frozen=True)
class Layout:
    """The page geometry fixed by the world."""

    rows: int
    row_length: int

    @property
    def slots(self) -> int:
        return self.rows * self.row_length


@dataclass(frozen=True, eq=False)
class UserContext:
    """Observable state of a batch of users at page-build time (derived from logs only).

    Shapes: ``n`` users, ``H`` recent plays, ``G`` genres.
    """

    day: int
    user_ids: np.ndarray        # (n,) int64 global user ids
    recent: np.ndarray          # (n, H) int32 recently played titles, most recent first, -1 padded
    genre_profile: np.ndarray   # (n, G) float32 decayed genre counts of the user's plays
    plays: np.ndarray           # (n,) int32 plays observed so far
    sessions: np.ndarray        # (n,) int32 sessions observed so far
    signup_day: np.ndarray      # (n,) int32

    def __len__(self) -> int:
        return len(self.user_ids)

    def take(self, idx: np.ndarray) -> "UserContext":
        return UserContext(self.day, self.user_ids[idx], self.recent[idx], self.genre_profile[idx],
                           self.plays[idx], self.sessions[idx], self.signup_day[idx])


@dataclass(eq=False)
class Page:
    """Pages for a batch of ``n`` users; slot (r, k) is row r, position k. Empty slot: title -1."""

    titles: np.ndarray          # (n, R, K) int32
    artwork: np.ndarray         # (n, R, K) int32 global artwork id, -1 where empty
    propensity: np.ndarray      # (n, R, K) float32 probability the artwork policy chose that variant
    row_kind: np.ndarray        # (n, R) int8 index into ROW_KINDS
    row_ref: np.ndarray         # (n, R) int32 anchor title or genre id of the row, -1 if none
    score: np.ndarray | None = None  # (n, R, K) float32 the scorer's score behind each slot
    #: (n, R, K) float32 the page policy's probability of the title in each slot (None: 1, a
    #: deterministic page); what off-policy evaluation of another page policy divides by
    title_propensity: np.ndarray | None = None
    #: (n, R, K) int8 which ranker of an interleaved page contributed each slot (None: -1, not
    #: interleaved; see recsys.policies.interleave)
    team: np.ndarray | None = None

    def __len__(self) -> int:
        return self.titles.shape[0]

    @classmethod
    def from_ranked(cls, ranked: np.ndarray, layout: Layout, row_kind: str = "top_picks",
                    score: np.ndarray | None = None) -> "Page":
        """Fill rows left to right, top to bottom, from a ranked (n, >= slots) title array."""
        n = ranked.shape[0]
        titles = np.full((n, layout.slots), -1, dtype=np.int32)
        m = min(layout.slots, ranked.shape[1])
        titles[:, :m] = ranked[:, :m]
        titles = titles.reshape(n, layout.rows, layout.row_length)
        sc = None
        if score is not None:
            sc = np.full((n, layout.slots), np.nan, dtype=np.float32)
            sc[:, :m] = score[:, :m]
            sc = sc.reshape(titles.shape)
        return cls(
            titles=titles,
            artwork=np.full(titles.shape, -1, dtype=np.int32),
            propensity=np.ones(titles.shape, dtype=np.float32),
            row_kind=np.full((n, layout.rows), ROW_KIND[row_kind], dtype=np.int8),
            row_ref=np.full((n, layout.rows), -1, dtype=np.int32),
            score=sc,
        )

    def take(self, idx: np.ndarray) -> "Page":
        def part(a):
            return None if a is None else a[idx]
        return Page(self.titles[idx], self.artwork[idx], self.propensity[idx], self.row_kind[idx],
                    self.row_ref[idx], part(self.score), part(self.title_propensity), part(self.team))

    def slot_title_propensity(self) -> np.ndarray:
        """:attr:`title_propensity`, with 1 where the policy did not set it (a deterministic page)."""
        if self.title_propensity is None:
            return np.ones(self.titles.shape, np.float32)
        return self.title_propensity

    def slot_team(self) -> np.ndarray:
        """:attr:`team`, with -1 where the page is not interleaved."""
        if self.team is None:
            return np.full(self.titles.shape, -1, np.int8)
        return self.team

    @staticmethod
    def concat(pages: list["Page"], order: np.ndarray | None = None) -> "Page":
        """Stack pages of several batches; ``order`` reorders the stacked rows. An optional
        field set on some batches only is filled with its default (1 or -1) on the others."""
        def cat(name: str, fill=None):
            parts = [getattr(p, name) for p in pages]
            if all(p is None for p in parts) or (fill is None and any(p is None for p in parts)):
                return None
            parts = [fill(p) if a is None else a for p, a in zip(pages, parts)]
            out = np.concatenate(parts)
            return out if order is None else np.take(out, order, axis=0)
        return Page(cat("titles"), cat("artwork"), cat("propensity"), cat("row_kind"), cat("row_ref"),
                    cat("score"), cat("title_propensity", Page.slot_title_propensity), cat("team", Page.slot_team))


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why each slot of a batch of pages holds its title; built on request, off the simulator's path.

    Slot arrays are (n, R, K) like :class:`Page`'s; ``weights`` holds per-user (n,) arrays.
    """

    score: np.ndarray | None = None          # the scorer's relevance (the page's ``score``)
    parts: dict | None = None                # name -> (n, R, K) additive terms of ``score`` (e.g. cf, content)
    rank_scored: np.ndarray | None = None    # 1-based rank in the scorer's own list; 0: not in it (an extra)
    rank_reranked: np.ndarray | None = None  # 1-based rank after re-ranking; 0: not in the list
    weights: dict | None = None              # name -> (n,) per-user blend weights
