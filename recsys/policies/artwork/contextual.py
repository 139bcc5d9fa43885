"""Linear Thompson sampling of the reward on public features of the (user, variant) pair: the
variant's theme and the user's observed genre profile, shared across users and titles."""


from __future__ import annotations


import numpy as np
import pandas as pd

from recsys.core.params import store_params
from recsys.core.rng import generator
from recsys.core.logs import Logs
from recsys.world.catalog import MOODS
from recsys.policies.artwork.base import (_check_reward, _check_sampling, _MC_BLOCK, _ROWS_BLOCK, ArtworkPolicy, _check, _resolve_seed,
                                         impression_rewards, padded_art)


class ContextualArtwork(ArtworkPolicy):
    """Linear Thompson sampling on public features shared across users and titles.

    Features of a (user, variant) pair, from the variant's public theme and the user's observed
    genre profile only: an intercept, a cast-theme flag, one flag per mood, the share of the
    user's plays in the genre a genre-themed variant plays up, a cold-start flag (genre theme,
    no plays yet), and the variant's own shrunk reward rate relative to the overall rate (so it
    also learns per-variant effects, e.g. clickbait, the way the context-free bandits do).

    The model is Bayesian linear regression (prior precision ``reg``, noise variance
    ``noise``); each update draws ``n_sim`` coefficient vectors (scaled by ``explore``), and a
    slot's variant probabilities are the share of draws under which each variant scores best.

    ``select`` uses ``ctx.genre_profile``. To learn, the policy rebuilds each logged
    impression's profile from the logs it has been given (genre counts of the user's plays on
    earlier days, kept in ``profile_users_``/``profile_counts_``): a pure function of the logs,
    so results do not depend on how pages were batched or spread over worker processes. Only
    shares enter the features, so this undecayed count and the context's decayed one agree
    closely.
    """

    name = "contextual"

    def __init__(self, reward: str = "play", threshold_minutes: float = 2.0, minutes_cap: float = 60.0,
                 reg: float = 1.0, noise: float = 0.1, explore: float = 1.0, rate_prior: float = 50.0,
                 n_sim: int = 64, epsilon: float = 0.0, random_state: int | None = 0):
        store_params(self, locals())

    # feature layout: [intercept, cast, mood x M, genre share, cold genre, variant rate]
    @property
    def n_features(self) -> int:
        return 2 + len(MOODS) + 3

    def check_params(self):
        n = self.name
        _check_reward(self)
        for p in ("reg", "noise", "rate_prior"):
            _check(getattr(self, p) > 0, f"artwork {n}: {p} must be positive, got {getattr(self, p)}")
        _check(self.explore >= 0, f"artwork {n}: explore must be >= 0, got {self.explore}")
        _check_sampling(self)
        return self

    def fit(self, catalog, logs=None):
        super().fit(catalog, logs)
        self.seed_ = _resolve_seed(self.random_state)
        d = self.n_features
        self.precision_ = np.eye(d) * self.reg
        self.xty_ = np.zeros(d)
        self.shows_ = np.zeros(catalog.n_artwork)
        self.gains_ = np.zeros(catalog.n_artwork)
        self.n_updates_ = 0
        self.profile_users_ = np.empty(0, np.int64)
        self.profile_counts_ = np.zeros((0, catalog.n_genres), np.float32)
        if logs is not None:
            self._absorb(logs)
        self._refresh()
        return self

    def update(self, logs):
        self._absorb(logs)
        self.n_updates_ += 1
        self._refresh()
        return self

    # ---- features
    def _art_features(self) -> np.ndarray:
        """Features that depend on the variant only, (A, d); user columns left at zero."""
        c = self.catalog_
        M = len(MOODS)
        X = np.zeros((c.n_artwork, self.n_features))
        X[:, 0] = 1.0
        X[:, 1] = c.art_theme == 1
        mood = c.art_theme == 2
        X[np.flatnonzero(mood), 2 + c.art_mood[mood].astype(np.int64)] = 1.0
        overall = (self.gains_.sum() + 1.0) / (self.shows_.sum() + 2.0)
        rate = (self.gains_ + self.rate_prior * overall) / (self.shows_ + self.rate_prior)
        X[:, 2 + M + 2] = rate / overall - 1.0
        return X

    def _user_columns(self, art: np.ndarray, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Genre-share and cold-start columns for artwork ``art`` (..., V) of users ``profile``
        (rows aligned with ``art``'s first axis, (n, G))."""
        c = self.catalog_
        a = np.maximum(art, 0)
        g = c.art_genre[a].astype(np.int64)
        is_genre = (c.art_theme[a] == 0) & (art >= 0)
        total = profile.sum(1)
        share = profile / np.where(total > 0, total, 1.0)[:, None]
        n = profile.shape[0]
        rows = np.arange(n).reshape((n,) + (1,) * (art.ndim - 1))
        gshare = np.where(is_genre, share[rows, np.maximum(g, 0)], 0.0)
        cold = np.where(is_genre, (total <= 0).reshape(rows.shape), False).astype(np.float64)
        return gshare, cold

    def _refresh(self) -> None:
        cov = np.linalg.inv(self.precision_)
        cov = (cov + cov.T) / 2
        mean = cov @ self.xty_
        rng = generator(self.seed_, "artwork-lints", self.n_updates_)
        z = rng.standard_normal((int(self.n_sim), self.n_features))
        self.mean_ = mean
        self.theta_ = mean[None, :] + self.explore * z @ np.linalg.cholesky(cov).T   # (K, d)
        Xa = self._art_features()
        self.art_features_ = Xa
        self.art_score_ = Xa @ self.theta_.T                                          # (A, K)

    def variant_probs(self, titles, ctx):
        titles = np.asarray(titles)
        M = len(MOODS)
        K = self.theta_.shape[0]
        art = padded_art(self.catalog_, titles)                                     # (n, S, V)
        n, S, V = art.shape
        out = np.zeros(art.shape)
        chunk = max(1, _MC_BLOCK // max(1, S * V * K))
        profile = np.asarray(ctx.genre_profile, dtype=np.float64)
        for i0 in range(0, n, chunk):
            i1 = min(n, i0 + chunk)
            a = art[i0:i1]
            gshare, cold = self._user_columns(a, profile[i0:i1])
            score = (self.art_score_[np.maximum(a, 0)]
                     + gshare[..., None] * self.theta_[:, 2 + M]
                     + cold[..., None] * self.theta_[:, 2 + M + 1])                  # (m, S, V, K)
            score = np.where((a >= 0)[..., None], score, -np.inf)
            win = score.argmax(axis=2)                                              # (m, S, K)
            counts = (win[:, :, None, :] == np.arange(V)[None, None, :, None]).sum(-1)
            out[i0:i1] = counts / K
        if self.epsilon > 0:
            ok = art >= 0
            out = (1 - self.epsilon) * out + self.epsilon * ok / np.maximum(ok.sum(-1, keepdims=True), 1)
        return np.where((titles >= 0)[..., None] & (art >= 0), out, 0.0)

    # ---- profiles from logs, and learning
    def _cumulative_profiles(self, logs: Logs) -> pd.DataFrame:
        """Per (user, day) with plays: genre counts of the user's plays up to that day, in ``logs``."""
        G = self.catalog_.n_genres
        plays = logs.plays
        if plays is None or len(plays) == 0:
            return pd.DataFrame(columns=["user_id", "day", *range(G)])
        user = plays["user_id"].to_numpy(np.int64)
        day = plays["day"].to_numpy(np.int64)
        keys, code = np.unique(np.stack([user, day], 1), axis=0, return_inverse=True)
        code = code.ravel()
        g = self.catalog_.genres.tocsr()[plays["title"].to_numpy(np.int64)].tocoo()
        counts = np.bincount(code[g.row] * G + g.col, minlength=len(keys) * G).reshape(len(keys), G)
        cum = np.cumsum(counts, axis=0)
        first = np.r_[True, keys[1:, 0] != keys[:-1, 0]]        # first row of each user's block
        block_start = np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
        before = np.where((block_start > 0)[:, None], cum[np.maximum(block_start - 1, 0)], 0)
        table = pd.DataFrame((cum - before).astype(np.float32), columns=range(G))
        table.insert(0, "day", keys[:, 1])
        table.insert(0, "user_id", keys[:, 0])
        return table

    def _profiles_before(self, rows: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        """Each row's user's cumulative genre counts from plays on earlier days (0 if none)."""
        G = self.catalog_.n_genres
        if len(table) == 0:
            return np.zeros((len(rows), G), np.float32)
        left = pd.DataFrame({"user_id": rows["user_id"].to_numpy(np.int64),
                             "day": rows["day"].to_numpy(np.int64), "_order": np.arange(len(rows))})
        merged = pd.merge_asof(left.sort_values("day", kind="stable"), table.sort_values("day", kind="stable"),
                               on="day", by="user_id", allow_exact_matches=False).sort_values("_order")
        return merged[list(range(G))].fillna(0.0).to_numpy(np.float32)

    def _stored_profiles(self, users: np.ndarray) -> np.ndarray:
        """Genre counts of ``users``' plays in all logs absorbed before (zeros if none)."""
        out = np.zeros((len(users), self.catalog_.n_genres), np.float32)
        if len(self.profile_users_):
            pos = np.minimum(np.searchsorted(self.profile_users_, users), len(self.profile_users_) - 1)
            hit = self.profile_users_[pos] == users
            out[hit] = self.profile_counts_[pos[hit]]
        return out

    def _store_profiles(self, logs: Logs) -> None:
        """Add the plays of ``logs`` to the per-user genre counts."""
        plays = logs.plays
        if plays is None or len(plays) == 0:
            return
        G = self.catalog_.n_genres
        users = np.concatenate([self.profile_users_, plays["user_id"].to_numpy(np.int64)])
        uid, inv = np.unique(users, return_inverse=True)
        counts = np.zeros((len(uid), G), np.float32)
        counts[inv[: len(self.profile_users_)]] += self.profile_counts_
        g = self.catalog_.genres.tocsr()[plays["title"].to_numpy(np.int64)].tocoo()
        new_rows = inv[len(self.profile_users_):]
        np.add.at(counts, (new_rows[g.row], g.col), 1.0)
        self.profile_users_, self.profile_counts_ = uid, counts

    def _absorb(self, logs: Logs) -> None:
        rows = impression_rewards(logs, self.reward, self.threshold_minutes, self.minutes_cap)
        if len(rows) > 0:
            M = len(MOODS)
            Xa = self._art_features()      # variant rates as they were when these pages were built
            table = self._cumulative_profiles(logs)
            for i0 in range(0, len(rows), _ROWS_BLOCK):
                sub = rows.iloc[i0:i0 + _ROWS_BLOCK]
                prof = self._stored_profiles(sub["user_id"].to_numpy(np.int64)) + self._profiles_before(sub, table)
                art = sub["artwork"].to_numpy(np.int64)
                X = Xa[art]
                X[:, 2 + M], X[:, 2 + M + 1] = self._user_columns(art, prof)
                r = sub["reward"].to_numpy()
                self.precision_ = self.precision_ + X.T @ X / self.noise
                self.xty_ = self.xty_ + X.T @ r / self.noise
            A = self.catalog_.n_artwork
            art = rows["artwork"].to_numpy(np.int64)
            self.shows_ += np.bincount(art, minlength=A)
            self.gains_ += np.bincount(art, weights=rows["reward"].to_numpy(), minlength=A)
        self._store_profiles(logs)
