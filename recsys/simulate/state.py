"""Per-shard simulation state: the users' hidden dynamic state and the service's observable history.

Hidden state (satisfaction, satiation and boredom, the drifting tastes, habit, the look of the
pages the user is used to, churn, the user's memory of what they watched and passed over)
belongs to the world. Observable history (recent plays, genre profile, counts) is what
the service derives from its own logs; it is the only state a policy sees, via
:meth:`ShardState.context`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.core.page import UserContext
from recsys.simulate.behaviour import LOOK_SIZE, take
from recsys.simulate.tables import NOT_CHURNED
from recsys.world.build import World
from recsys.world.users import UserTruth

HISTORY = 16  # recent plays kept per user (observable) and remembered (hidden)


def push_front(buf: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """Insert ``values`` at the front of ``buf[rows]`` (ring buffer, newest first); rows unique."""
    buf[rows, 1:] = take(buf, rows)[:, :-1]
    buf[rows, 0] = values


def row_contains(table: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether ``values[i]`` is in row ``rows[i]`` of ``table`` (a user's remembered titles), per pair."""
    out = np.zeros(len(rows), bool)
    if table.shape[1]:
        out[np.flatnonzero(take(table, rows) == values[:, None]) // table.shape[1]] = True
    return out


def push_many(buf: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """Insert several values per row, in order (rows need not be unique)."""
    if len(rows) == 0:
        return
    order = np.argsort(rows, kind="stable")
    rows, values = rows[order], values[order]
    first = np.concatenate(([True], rows[1:] != rows[:-1]))
    rank = np.arange(len(rows)) - np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    for k in range(int(rank.max()) + 1):  # a handful of plays per user per day
        sel = rank == k
        push_front(buf, rows[sel], values[sel])


@dataclass(eq=False)
class ShardState:
    """Users ``start..stop`` of the world; arrays are indexed by ``user_id - start``."""

    start: int
    stop: int
    users: UserTruth            # hidden traits (slice)
    signup: np.ndarray          # (n,) int32 public
    arm: np.ndarray             # (n,) int8 index of the user's policy; -1: not simulated
    satisfaction: np.ndarray    # (n,) float32 hidden
    satiation: np.ndarray       # (n, G) float32 hidden: too much of a genre lately (days)
    boredom: np.ndarray         # (n, G) float32 hidden: tired of a genre (weeks)
    taste: np.ndarray           # (n, D) float32 hidden: latent taste, drifting toward what is watched
    affinity: np.ndarray        # (n, G) float32 hidden: genre affinity, rising for genres watched
    habit: np.ndarray           # (n,) float32 hidden in [0, 1]: grows with active days, fades without
    look: np.ndarray            # (n, K) float32 hidden: the look of the pages the user is used to (-1: none yet)
    churned: np.ndarray         # (n,) bool
    churn_day: np.ndarray       # (n,) int16, 32767 while active (observable: the account lapsed)
    watched: np.ndarray         # (n, H) int32 hidden memory of titles played
    passed: np.ndarray          # (n, S) int32 hidden memory of titles passed over last visit
    obs_recent: np.ndarray      # (n, H) int32 observable recent plays
    obs_profile: np.ndarray     # (n, G) float32 observable decayed genre profile of plays
    obs_plays: np.ndarray       # (n,) int32
    obs_sessions: np.ndarray    # (n,) int32

    DYNAMIC = ("arm", "satisfaction", "satiation", "boredom", "taste", "affinity", "habit", "look", "churned",
               "churn_day", "watched", "passed", "obs_recent", "obs_profile", "obs_plays", "obs_sessions")
    #: what a worker restores from a checkpoint (``arm`` comes from the driver, with the task)
    RESTORED = DYNAMIC[1:]

    def arrays(self) -> dict[str, np.ndarray]:
        """The state that changes day by day (a checkpoint; the rest is rebuilt from the world)."""
        return {k: getattr(self, k) for k in self.DYNAMIC}

    def load(self, arrays: dict[str, np.ndarray], keys: tuple[str, ...] = DYNAMIC) -> "ShardState":
        """Set the dynamic arrays ``keys`` from a checkpoint (shapes checked)."""
        for k in keys:
            value, current = arrays[k], getattr(self, k)
            if (current is not None and value.shape != current.shape) or len(value) != self.n:
                raise ValueError(f"checkpoint of users {self.start}..{self.stop}: {k} has shape {value.shape}")
            setattr(self, k, value if current is None else value.astype(current.dtype, copy=False))
        return self

    def skeleton(self) -> "ShardState":
        """The shard without its users' traits and its dynamic state except ``arm`` (what a task
        carries when the state itself is read from a checkpoint on the worker)."""
        return dataclasses.replace(self, users=None, **{k: None for k in self.RESTORED})

    @property
    def n(self) -> int:
        return self.stop - self.start

    @property
    def user_ids(self) -> np.ndarray:
        return np.arange(self.start, self.stop, dtype=np.int64)

    @classmethod
    def new(cls, world: World, start: int, stop: int) -> "ShardState":
        n, G, S = stop - start, world.config.genres, world.config.slots
        users = world.user_truth.slice(start, stop)
        return cls(
            start=start, stop=stop, users=users,
            signup=world.users.signup_day[start:stop].copy(), arm=np.zeros(n, np.int8),
            satisfaction=np.full(n, world.config.behaviour.satisfaction_reference, np.float32),
            satiation=np.zeros((n, G), np.float32),
            boredom=np.zeros((n, G), np.float32), taste=users.taste.copy(), affinity=users.genre_affinity.copy(),
            # a long-standing user's habit: about their chance of a visit on a day (reset at sign-up)
            habit=(-np.expm1(-users.activity)).astype(np.float32), look=np.full((n, LOOK_SIZE), -1, np.float32),
            churned=np.zeros(n, bool), churn_day=np.full(n, NOT_CHURNED, np.int16),
            watched=np.full((n, HISTORY), -1, np.int32), passed=np.full((n, S), -1, np.int32),
            obs_recent=np.full((n, HISTORY), -1, np.int32), obs_profile=np.zeros((n, G), np.float32),
            obs_plays=np.zeros(n, np.int32), obs_sessions=np.zeros(n, np.int32),
        )

    def context(self, rows: np.ndarray, day: int) -> UserContext:
        """What the service knows about users ``rows`` (local indices) on ``day``."""
        return UserContext(day=day, user_ids=(rows + self.start).astype(np.int64),
                           recent=take(self.obs_recent, rows), genre_profile=take(self.obs_profile, rows),
                           plays=take(self.obs_plays, rows), sessions=take(self.obs_sessions, rows),
                           signup_day=take(self.signup, rows))

    def observe_plays(self, local: np.ndarray, titles: np.ndarray, weight: np.ndarray,
                      genre_share: np.ndarray, decay: float) -> None:
        """Update the observable history from logged plays (user, title, watch share)."""
        if decay != 1.0:
            self.obs_profile *= decay
        if len(local) == 0:
            return
        users, row = np.unique(local, return_inverse=True)   # only the users who played
        M = sp.csr_matrix((weight.astype(np.float32), (row, titles)), shape=(len(users), genre_share.shape[0]))
        self.obs_profile[users] += (M @ genre_share).astype(np.float32)
        push_many(self.obs_recent, local, titles)
        self.obs_plays[users] += np.bincount(row, minlength=len(users)).astype(np.int32)
