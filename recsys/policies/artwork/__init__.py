"""Artwork policies: which variant of each title a page shows, and with what probability.

``base`` holds the interface (:class:`ArtworkPolicy`: ``select``, ``summarize``/``learn``),
the rewards read from logs and the fixed and random policies; ``bandits`` the Beta-Bernoulli
Thompson samplers; ``contextual`` the contextual model. :func:`make_artwork` builds one by name.
"""

from __future__ import annotations

from recsys.core.errors import InputError
from recsys.policies.artwork.bandits import BanditClick, BanditPlay, BetaThompson
from recsys.policies.artwork.base import REWARDS, ArtworkPolicy, FixedArtwork, RandomArtwork, impression_rewards
from recsys.policies.artwork.contextual import ContextualArtwork

ARTWORK_POLICIES: dict[str, type[ArtworkPolicy]] = {
    "fixed": FixedArtwork,
    "random": RandomArtwork,
    "bandit-click": BanditClick,
    "bandit-play": BanditPlay,
    "contextual": ContextualArtwork,
}


def make_artwork(name: str, **params) -> ArtworkPolicy:
    """An artwork policy by name (``params.artwork`` in an experiment file), parameters checked."""
    if name not in ARTWORK_POLICIES:
        raise InputError(f"unknown artwork policy {name!r} (known: {', '.join(sorted(ARTWORK_POLICIES))})")
    cls = ARTWORK_POLICIES[name]
    try:
        policy = cls(**params)
    except TypeError:
        import inspect

        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        bad = sorted(set(params) - set(known))
        raise InputError(f"artwork policy {name!r} has no parameter {', '.join(map(repr, bad)) or '?'}"
                         f" (known: {', '.join(known) or 'none'})") from None
    return policy.check_params()


__all__ = ["REWARDS", "ArtworkPolicy", "BanditClick", "BanditPlay", "BetaThompson", "ContextualArtwork",
           "FixedArtwork", "RandomArtwork", "impression_rewards", "make_artwork"]
