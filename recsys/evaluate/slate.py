"""Whole-page off-policy evaluation: a new page policy's click-through and qualified-play rates
estimated from the cards a randomised logging policy showed.

The estimand, under the examination model (a card is clicked with a probability set by the user
and the card, whatever its position, once examined; positions are examined with the world's
examination curve ``theta``): for each logged examined card, the target page's rate per examined
card,

    V(x) = sum_j w_j r(x, target_j(x)),   w_j = theta_j / sum(theta),

at the state ``x`` of the session the card was examined in, averaged over the logged cards.
``r`` is the click probability (CTR) or the probability of a click not abandoned within two
minutes (qualified-play rate). Each logged card is an unbiased sample of ``r`` at its title,
whatever happened earlier on the page (where browsing stopped, what was clicked), because the
logger drew the title of each slot independently with a known probability ``mu`` (the logged
``title_propensity``). So the item-level inverse propensity weight

    weight = w_{pos(t)} / mu(t in this slot),   pos(t) = the target's slot of the card's title t

(0 if the target does not show t) gives ``E[weight * reward | x] = V(x)``: the position-based IPS
of the examination model, pooled over the target's slots (Li, Kim, Zitouni et al. 2018, item-
position model; here with the positions' weights moved to the target's side). Estimators:

* :class:`PageIPS`: mean of ``weight * reward`` over logged cards. Unbiased for the estimand
  when the propensities are exact and positive for every title the target shows.
* :class:`PageSNIPS`: ``sum(weight * reward) / sum(weight)``; ``E[weight] = 1``.
* :class:`PageDR`: a reward model ``q(t)`` (a title's rate on the cards logged before the window)
  as the baseline: ``sum_j w_j q(target_j) + weight * (reward - q(t))``; unbiased like IPS,
  with less variance where ``q`` explains the reward.

Intervals are normal, with the variance of a ratio of user totals (users as independent units;
a user's cards share a state). Why not the pseudo-inverse estimator of Swaminathan et al. (2017):
it needs the page's reward to be a sum of per-slot terms, and a session in this world stops at
the first satisfying play, so the clicks of a page are not additive over its slots; the
estimand above is (it is a property of each examined card). The price: ``V`` is the page's
rate per examined card under the examination curve, not the online CTR, whose examined cards
also depend on where browsing stops (docs/offline_online.md measures how far apart they are).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from recsys.core.errors import InputError

REWARDS = ("click", "qualified")


def examination_weights(world_config) -> np.ndarray:
    """The world's examination curve over a page's slots in reading order, summing to 1."""
    theta = np.outer(world_config.row_examination, world_config.position_examination).ravel()
    return theta / theta.sum()


def card_weights(cards: pd.DataFrame, pages, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per logged card: the target's position weight of the card's title (0 if the target's
    page for that user and day does not show it) and the importance weight (that weight over
    the logged ``title_propensity``). ``pages``: a :class:`~recsys.experiment.logged.TargetPages`."""
    at = pages.index(cards["user_id"].to_numpy(), cards["day"].to_numpy())
    if (at < 0).any():
        i = int(np.flatnonzero(at < 0)[0])
        raise InputError(f"no target page for the card of user {cards['user_id'].iloc[i]} on day {cards['day'].iloc[i]}")
    titles = pages.titles[at]
    hit = titles == cards["title"].to_numpy()[:, None]
    pos_w = (hit * weights[None, :]).sum(1)
    mu = cards["title_propensity"].to_numpy(np.float64)
    bad = ~(mu > 0) | (mu > 1)
    if bad.any():
        raise InputError(f"title_propensity must be in (0, 1]; card {int(np.flatnonzero(bad)[0])} has "
                         f"{mu[np.flatnonzero(bad)[0]]:g}")
    return pos_w, pos_w / mu


@dataclass(frozen=True)
class PageEstimate:
    """An estimate with its normal interval (users as units)."""

    estimator: str
    reward: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    cards: int
    users: int
    effective_cards: float    # (sum w)^2 / sum w^2: how many cards the estimate really rests on

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(num: np.ndarray, den: np.ndarray, user: np.ndarray) -> tuple[float, float, int]:
    """sum(num) / sum(den) and its standard error, user totals as the independent units."""
    codes, inv = np.unique(user, return_inverse=True)
    n = len(codes)
    a = np.bincount(inv, weights=num, minlength=n)
    b = np.bincount(inv, weights=den, minlength=n)
    value = a.sum() / b.sum()
    resid = a - value * b
    se = float(np.sqrt((resid ** 2).sum() * n / max(n - 1, 1)) / b.sum())
    return float(value), se, n


@dataclass(frozen=True)
class PageFeedback:
    """Per logged card: ``user``, ``reward`` (0/1), ``weight`` (the importance weight of
    :func:`card_weights`), and for :class:`PageDR` ``q_card`` (the reward model at the card's
    title) and ``q_target`` (the reward model averaged over the target's page with the position
    weights)."""

    user: np.ndarray
    reward: np.ndarray
    weight: np.ndarray
    q_card: np.ndarray | None = None
    q_target: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.reward)
        if n < 2:
            raise InputError(f"need at least 2 logged cards, got {n}")
        for name in ("user", "reward", "weight", "q_card", "q_target"):
            v = getattr(self, name)
            if v is None:
                continue
            v = np.asarray(v, dtype=np.int64 if name == "user" else np.float64)
            if v.shape != (n,):
                raise InputError(f"{name} must have one value per card ({n}), got shape {v.shape}")
            if name != "user" and not np.isfinite(v).all():
                raise InputError(f"{name} has a non-finite value at card {int(np.flatnonzero(~np.isfinite(v))[0])}")
            object.__setattr__(self, name, v)
        if (self.weight < 0).any():
            raise InputError("weight must be non-negative")


@dataclass(frozen=True)
class _PageEstimator:
    reward: str = "click"
    alpha: float = 0.05
    name: ClassVar[str] = "base"

    def terms(self, fb: PageFeedback) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def estimate(self, fb: PageFeedback) -> PageEstimate:
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha}")
        num, den = self.terms(fb)
        value, se, users = _ratio(num, den, fb.user)
        q = float(stats.norm.ppf(1 - self.alpha / 2))
        w = fb.weight
        eff = float(w.sum() ** 2 / (w ** 2).sum()) if (w > 0).any() else 0.0
        return PageEstimate(self.name, self.reward, value, se, value - q * se, value + q * se, len(w), users, eff)


@dataclass(frozen=True)
class PageIPS(_PageEstimator):
    name: ClassVar[str] = "ips"

    def terms(self, fb):
        return fb.weight * fb.reward, np.ones_like(fb.weight)


@dataclass(frozen=True)
class PageSNIPS(_PageEstimator):
    name: ClassVar[str] = "snips"

    def terms(self, fb):
        if not (fb.weight > 0).any():
            raise InputError("SNIPS needs at least one card the target shows (every weight is 0)")
        return fb.weight * fb.reward, fb.weight


@dataclass(frozen=True)
class PageDR(_PageEstimator):
    name: ClassVar[str] = "dr"

    def terms(self, fb):
        if fb.q_card is None or fb.q_target is None:
            raise InputError("DR needs q_card and q_target (a reward model)")
        return fb.q_target + fb.weight * (fb.reward - fb.q_card), np.ones_like(fb.weight)


ESTIMATORS = {"ips": PageIPS, "snips": PageSNIPS, "dr": PageDR}


def title_rates(cards: pd.DataFrame, n_titles: int, reward: str, *, prior: float = 20.0) -> np.ndarray:
    """A reward model: each title's rate of ``reward`` per examined card, shrunk toward the
    overall rate by ``prior`` pseudo-cards (a title never shown gets the overall rate)."""
    t = cards["title"].to_numpy(np.int64)
    r = cards[_column(reward)].to_numpy(np.float64)
    mean = r.mean() if len(r) else 0.0
    hits = np.bincount(t, weights=r, minlength=n_titles)
    shown = np.bincount(t, minlength=n_titles)
    return (hits + prior * mean) / (shown + prior)


def _column(reward: str) -> str:
    if reward not in REWARDS:
        raise InputError(f"unknown reward {reward!r} (known: {', '.join(REWARDS)})")
    return "clicked" if reward == "click" else "qualified"


def page_feedback(cards: pd.DataFrame, pages, weights: np.ndarray, reward: str,
                  model: np.ndarray | None = None) -> PageFeedback:
    """The :class:`PageFeedback` of a target's ``pages`` on logged ``cards`` (with a reward model
    ``model``: a rate per title, e.g. :func:`title_rates` of earlier cards, for DR)."""
    _, w = card_weights(cards, pages, weights)
    r = cards[_column(reward)].to_numpy(np.float64)
    q_card = q_target = None
    if model is not None:
        t = cards["title"].to_numpy(np.int64)
        q_card = model[t]
        tp = pages.titles[pages.index(cards["user_id"].to_numpy(), cards["day"].to_numpy())]
        q_target = np.where(tp >= 0, model[np.maximum(tp, 0)], 0.0) @ weights
    return PageFeedback(cards["user_id"].to_numpy(np.int64), r, w, q_card, q_target)
