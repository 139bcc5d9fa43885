"""Off-policy evaluation: what a new artwork policy's click or qualified-play rate would have been,
estimated from logs collected under another policy.

As in the Open Bandit Pipeline, data and estimators are separate: :class:`BanditFeedback`
holds per-row arrays (reward, logged propensity, the target policy's probabilities, a reward
model's predictions), validated once; each estimator is a small frozen dataclass whose
``estimate`` returns an :class:`Estimate` with a normal-approximation confidence interval.

* :class:`IPS`: mean of ``w * r`` with ``w = target / logging`` probability. Unbiased when the
  logged propensities are right and positive wherever the target acts; variance grows with the
  weights, i.e. when the logging policy rarely shows what the target would.
* :class:`SNIPS`: ``sum(w r) / sum(w)``. Slightly biased (O(1/n)), consistent, never outside the
  reward's range, usually lower variance than IPS. Interval by the delta method.
* :class:`DR` (doubly robust): the reward model's prediction under the target policy plus an
  IPS correction of the model's error on the logged action. Unbiased if either the propensities
  or the reward model is right; lower variance than IPS when the model is decent.
* :class:`DirectMethod`: the reward model alone; low variance, biased by the model's errors.

See docs/artwork.md for when to use which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from scipy import stats

from recsys.policies.artwork.base import ArtworkPolicy, impression_rewards, padded_art
from recsys.core.errors import InputError
from recsys.core.page import UserContext
from recsys.core.rng import generator
from recsys.core.logs import Logs
from recsys.world.catalog import Catalog


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


@dataclass(frozen=True, eq=False)
class BanditFeedback:
    """Logged feedback for one reward, one row per logged impression.

    ``reward`` (n,) observed reward; ``propensity`` (n,) the logging policy's probability of
    the logged action; ``target_prob`` (n,) the target policy's probability of the logged
    action. For DR and DM also ``action`` (n,) the logged action's index among the row's
    candidates, ``target_dist`` (n, V) the target's probabilities over the candidates (zero
    for padding) and ``reward_hat`` (n, V) a reward model's predictions for them.
    ``target_prob`` may be left out when ``target_dist`` and ``action`` are given.
    """

    reward: np.ndarray
    propensity: np.ndarray
    target_prob: np.ndarray | None = None
    action: np.ndarray | None = None
    target_dist: np.ndarray | None = None
    reward_hat: np.ndarray | None = None

    def __post_init__(self):
        def arr(name, dtype=np.float64):
            v = getattr(self, name)
            if v is None:
                return None
            try:
                a = np.asarray(v, dtype=dtype)
            except (TypeError, ValueError):
                raise InputError(f"{name} must be numeric") from None
            object.__setattr__(self, name, a)
            return a

        r, p = arr("reward"), arr("propensity")
        tp, dist, qhat = arr("target_prob"), arr("target_dist"), arr("reward_hat")
        act = self.action
        if act is not None:
            act = np.asarray(act)
            if act.dtype.kind not in "iu":
                raise InputError("action must be integer indices")
            object.__setattr__(self, "action", act.astype(np.int64))
            act = self.action
        if r.ndim != 1:
            raise InputError(f"reward must be one-dimensional, got shape {r.shape}")
        n = len(r)
        if n < 2:
            raise InputError(f"need at least 2 logged rows, got {n}")
        for name, a in (("propensity", p), ("target_prob", tp), ("action", act)):
            if a is not None and a.shape != (n,):
                raise InputError(f"{name} must have shape ({n},) like reward, got {a.shape}")
        for name, a in (("target_dist", dist), ("reward_hat", qhat)):
            if a is not None and (a.ndim != 2 or a.shape[0] != n):
                raise InputError(f"{name} must have shape ({n}, V), got {a.shape}")
        if dist is not None and qhat is not None and dist.shape != qhat.shape:
            raise InputError(f"target_dist {dist.shape} and reward_hat {qhat.shape} must have the same shape")
        for name, a in (("reward", r), ("propensity", p), ("target_prob", tp), ("target_dist", dist),
                        ("reward_hat", qhat)):
            if a is not None and not np.isfinite(a).all():
                i = _first_bad(~np.isfinite(a).reshape(n, -1).all(1))
                raise InputError(f"{name} has a non-finite value at row {i}")
        bad = (p <= 0) | (p > 1)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"propensity must be in (0, 1]; row {i} has {p[i]:g}")
        if act is not None:
            V = dist.shape[1] if dist is not None else (qhat.shape[1] if qhat is not None else None)
            if V is not None and ((act < 0) | (act >= V)).any():
                i = _first_bad((act < 0) | (act >= V))
                raise InputError(f"action must index one of the {V} candidates; row {i} has {act[i]}")
        if dist is not None:
            if ((dist < 0) | (dist > 1)).any():
                i = _first_bad(((dist < 0) | (dist > 1)).any(1))
                raise InputError(f"target_dist must be in [0, 1]; row {i} is not")
            off = np.abs(dist.sum(1) - 1) > 1e-6
            if off.any():
                i = _first_bad(off)
                raise InputError(f"target_dist rows must sum to 1; row {i} sums to {dist.sum(1)[i]:g}")
            if act is not None:
                from_dist = dist[np.arange(n), act]
                if tp is None:
                    object.__setattr__(self, "target_prob", from_dist)
                    tp = from_dist
                elif not np.allclose(tp, from_dist, atol=1e-6):
                    i = _first_bad(~np.isclose(tp, from_dist, atol=1e-6))
                    raise InputError(f"target_prob disagrees with target_dist at row {i}")
        if tp is None:
            raise InputError("give target_prob, or target_dist together with action")
        bad = (tp < 0) | (tp > 1)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"target_prob must be in [0, 1]; row {i} has {tp[i]:g}")

    def __len__(self) -> int:
        return len(self.reward)

    @property
    def weight(self) -> np.ndarray:
        """Importance weights target / logging probability of the logged action."""
        return self.target_prob / self.propensity

    @property
    def has_model(self) -> bool:
        return self.action is not None and self.target_dist is not None and self.reward_hat is not None


@dataclass(frozen=True)
class Estimate:
    """A policy-value estimate with its standard error and (1 - alpha) confidence interval."""

    estimator: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    alpha: float

    def covers(self, truth: float) -> bool:
        return self.ci_low <= truth <= self.ci_high

    def to_dict(self) -> dict:
        return asdict(self)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")


def _from_influence(name: str, value: float, influence: np.ndarray, alpha: float) -> Estimate:
    """CLT interval: ``influence`` are per-row terms whose mean's variance equals the estimator's."""
    n = len(influence)
    se = float(np.std(influence, ddof=1) / np.sqrt(n))
    z = stats.norm.ppf(1 - alpha / 2)
    return Estimate(name, float(value), se, float(value - z * se), float(value + z * se), n, alpha)


@dataclass(frozen=True)
class _Estimator:
    """An estimator that averages per-row ``terms``; the interval is the CLT one on those terms."""

    alpha: float = 0.05

    def __post_init__(self):
        _check_alpha(self.alpha)

    def estimate(self, data: BanditFeedback) -> Estimate:
        t = self.terms(data)
        return _from_influence(self.name, t.mean(), t, self.alpha)


@dataclass(frozen=True)
class _Weighted(_Estimator):
    """Terms built on importance weights, clipped at ``max_weight``."""

    max_weight: float | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.max_weight is not None and not self.max_weight > 0:
            raise InputError(f"max_weight must be positive, got {self.max_weight}")

    def _weight(self, data: BanditFeedback) -> np.ndarray:
        w = data.weight
        return w if self.max_weight is None else np.minimum(w, self.max_weight)


@dataclass(frozen=True)
class IPS(_Weighted):
    """Inverse propensity scoring; ``max_weight`` clips the weights (less variance, some bias)."""

    name: ClassVar[str] = "ips"

    def terms(self, data: BanditFeedback) -> np.ndarray:
        return self._weight(data) * data.reward


@dataclass(frozen=True)
class SNIPS(_Estimator):
    """Self-normalised IPS; interval by the delta method on the ratio of means."""

    name: ClassVar[str] = "snips"

    def estimate(self, data: BanditFeedback) -> Estimate:
        w = data.weight
        mw = w.mean()
        if mw <= 0:
            raise InputError("SNIPS is undefined: the target policy gives zero probability to every logged action")
        value = (w * data.reward).mean() / mw
        influence = w * (data.reward - value) / mw
        return _from_influence(self.name, value, influence, self.alpha)


@dataclass(frozen=True)
class DR(_Weighted):
    """Doubly robust: ``sum_v target(v) q(v) + w (r - q(a))``; needs a reward model."""

    name: ClassVar[str] = "dr"

    def terms(self, data: BanditFeedback) -> np.ndarray:
        if not data.has_model:
            raise InputError("DR needs action, target_dist and reward_hat")
        n = len(data)
        q_logged = data.reward_hat[np.arange(n), data.action]
        return (data.target_dist * data.reward_hat).sum(1) + self._weight(data) * (data.reward - q_logged)


@dataclass(frozen=True)
class DirectMethod(_Estimator):
    """The reward model averaged under the target policy (its interval ignores the model's error)."""

    name: ClassVar[str] = "dm"

    def terms(self, data: BanditFeedback) -> np.ndarray:
        if not data.has_model:
            raise InputError("DM needs target_dist and reward_hat")
        return (data.target_dist * data.reward_hat).sum(1)


def estimate_all(data: BanditFeedback, alpha: float = 0.05) -> dict[str, Estimate]:
    """IPS and SNIPS always; DR and DM when the feedback carries a reward model."""
    out = {"ips": IPS(alpha).estimate(data), "snips": SNIPS(alpha).estimate(data)}
    if data.has_model:
        out["dr"] = DR(alpha).estimate(data)
        out["dm"] = DirectMethod(alpha).estimate(data)
    return out


# ---------------------------------------------------------------- reward model

@dataclass(frozen=True)
class VariantRateModel:
    """Per-variant empirical reward rate, shrunk toward its title's rate and that toward the
    overall rate (``shrinkage`` pseudo-observations at each level). Public features only."""

    shrinkage: float = 20.0

    def __post_init__(self):
        if not self.shrinkage >= 0:
            raise InputError(f"shrinkage must be >= 0, got {self.shrinkage}")

    def fit_rates(self, art: np.ndarray, reward: np.ndarray, art_title: np.ndarray) -> np.ndarray:
        """Shrunk rate of every artwork id ``0..len(art_title)-1``."""
        A = len(art_title)
        T = int(art_title.max()) + 1 if A else 0
        art = np.asarray(art, np.int64)
        reward = np.asarray(reward, np.float64)
        overall = (reward.sum() + 0.5) / (len(reward) + 1.0)
        t_sum = np.bincount(art_title[art], weights=reward, minlength=T)
        t_n = np.bincount(art_title[art], minlength=T)
        k = self.shrinkage
        title_rate = (t_sum + k * overall) / np.maximum(t_n + k, 1e-12)
        a_sum = np.bincount(art, weights=reward, minlength=A)
        a_n = np.bincount(art, minlength=A)
        prior = title_rate[art_title]
        return np.where(a_n + k > 0, (a_sum + k * prior) / np.maximum(a_n + k, 1e-12), prior)

    def cross_predict(self, art: np.ndarray, reward: np.ndarray, art_title: np.ndarray, query: np.ndarray,
                      folds: int = 2, seed: int = 0) -> np.ndarray:
        """Out-of-fold predictions for ``query`` (n, V) artwork ids (-1 = padding -> 0): row i's
        predictions come from a model fitted without row i's fold (cross-fitting keeps DR's
        correction term free of the model's own fitting noise)."""
        n = len(art)
        if folds < 2:
            rates = self.fit_rates(art, reward, art_title)
            return np.where(query >= 0, rates[np.maximum(query, 0)], 0.0)
        fold = generator(seed, "ope-crossfit").permutation(n) % folds
        out = np.zeros(query.shape)
        for f in range(folds):
            inside = fold == f
            rates = self.fit_rates(art[~inside], reward[~inside], art_title)
            q = query[inside]
            out[inside] = np.where(q >= 0, rates[np.maximum(q, 0)], 0.0)
        return out


# ---------------------------------------------------------------- from logs

def feedback_from_logs(logs: Logs, catalog: Catalog, target: ArtworkPolicy, reward: str = "click",
                       threshold_minutes: float = 2.0, minutes_cap: float = 60.0,
                       genre_profile: np.ndarray | None = None,
                       model: VariantRateModel | None = VariantRateModel(), folds: int = 2,
                       seed: int = 0) -> BanditFeedback:
    """Build :class:`BanditFeedback` for a fitted ``target`` artwork policy from impression logs.

    The target's probabilities are those of its current (fitted) state for each logged title.
    A contextual target needs each impression's ``genre_profile`` (n, G) (rows in the order of
    the impressions that have an artwork); without it the profiles are taken as empty.
    ``model=None`` leaves DR and DM out.
    """
    rows = impression_rewards(logs, reward, threshold_minutes, minutes_cap)
    n = len(rows)
    if n < 2:
        raise InputError(f"need at least 2 logged impressions with artwork, got {n}")
    titles = rows["title"].to_numpy(np.int32)[:, None]                       # (n, 1)
    if genre_profile is None:
        genre_profile = np.zeros((n, catalog.n_genres), np.float32)
    genre_profile = np.asarray(genre_profile)
    if genre_profile.shape != (n, catalog.n_genres):
        raise InputError(f"genre_profile must have shape ({n}, {catalog.n_genres}), got {genre_profile.shape}")
    ctx = UserContext(day=int(rows["day"].max()), user_ids=rows["user_id"].to_numpy(np.int64),
                      recent=np.full((n, 1), -1, np.int32), genre_profile=genre_profile,
                      plays=np.zeros(n, np.int32), sessions=np.zeros(n, np.int32),
                      signup_day=np.zeros(n, np.int32))
    dist = target.variant_probs(titles, ctx)[:, 0, :]                       # (n, V)
    art = rows["artwork"].to_numpy(np.int64)
    action = art - catalog.art_offsets[titles[:, 0]]
    r = rows["reward"].to_numpy(np.float64)
    qhat = None
    if model is not None:
        query = padded_art(catalog, titles[:, 0])
        qhat = model.cross_predict(art, r, catalog.art_title, query, folds=folds, seed=seed)
    if qhat is None:
        return BanditFeedback(r, rows["propensity"].to_numpy(np.float64), target_prob=dist[np.arange(n), action])
    return BanditFeedback(r, rows["propensity"].to_numpy(np.float64), action=action, target_dist=dist,
                          reward_hat=qhat)
