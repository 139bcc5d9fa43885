"""Explicit, keyed randomness.

Two kinds of randomness, both derived from one integer seed:

* ``generator(seed, *key)`` returns a numpy ``Generator`` from ``SeedSequence(seed,
  spawn_key=key)``: used to *build* things (the catalog, a shard of users, a bootstrap) where a
  stream per subsystem and per shard is natural.
* :class:`KeyedRandom` is counter-based: a draw is a hash of (key, counters...), e.g. (user,
  day, session, slot). Used for behaviour, so that a user's draws do not depend on which other
  users share their shard, how many workers there are, or which arms exist. It also gives
  common random numbers: the same user meets the same uniforms under every policy, which is how
  the harness computes true effects. The mixer is SplitMix64's finaliser (as in Java's
  SplittableRandom), applied to 64-bit lanes with numpy.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import special

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 1.0 / float(1 << 53)


def name_key(name: str) -> int:
    """A stable 32-bit integer for a name (arm, subsystem), independent of Python's hash seed."""
    return zlib.crc32(name.encode("utf-8"))


def generator(seed: int, *key: int | str) -> np.random.Generator:
    """A numpy Generator for (seed, key...): one independent stream per subsystem and shard."""
    spawn_key = tuple(name_key(k) if isinstance(k, str) else int(k) for k in key)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=spawn_key))


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _mix_into(z: np.ndarray, tmp: np.ndarray) -> None:
    """:func:`_mix` in place (``tmp``: scratch of z's shape): the same bits, no temporaries."""
    for shift, mult in ((_S30, _M1), (_S27, _M2), (_S31, None)):
        np.right_shift(z, shift, out=tmp)
        z ^= tmp
        if mult is not None:
            z *= mult


def _chain(start, counters) -> np.ndarray:
    """Mix ``counters`` one after another into ``start`` (a key or an array of partial states)."""
    with np.errstate(over="ignore"):
        shapes = [np.shape(start)] + [np.shape(c) for c in counters]
        z = np.broadcast_to(np.asarray(start, dtype=np.uint64), np.broadcast_shapes(*shapes)).copy()
        tmp = np.empty_like(z)
        for c in counters:
            z += np.asarray(c).astype(np.uint64) * _GOLDEN + _GOLDEN
            _mix_into(z, tmp)
        return z


def _to_uniform(bits: np.ndarray) -> np.ndarray:
    return (bits >> np.uint64(11)).astype(np.float64) * _TO_UNIT


class KeyedRandom:
    """Counter-based random numbers: ``uniform(a, b, c)`` is a pure function of (key, a, b, c)."""

    __slots__ = ("key",)

    def __init__(self, key: int):
        self.key = np.uint64(int(key) & 0xFFFFFFFFFFFFFFFF)

    @classmethod
    def from_seed(cls, seed: int, *key: int | str) -> "KeyedRandom":
        spawn_key = tuple(name_key(k) if isinstance(k, str) else int(k) for k in key)
        state = np.random.SeedSequence(int(seed), spawn_key=spawn_key).generate_state(1, np.uint64)
        return cls(int(state[0]))

    def child(self, name: int | str) -> "KeyedRandom":
        """A sub-stream, e.g. ``rand.child("click")``."""
        k = name_key(name) if isinstance(name, str) else int(name)
        with np.errstate(over="ignore"):
            z = _mix(np.asarray(self.key ^ (np.uint64(k) * _GOLDEN + _GOLDEN), dtype=np.uint64))
        return KeyedRandom(int(z))

    def bits(self, *counters: np.ndarray | int) -> np.ndarray:
        """64 random bits per element of the broadcast counters."""
        return _chain(self.key, counters)

    def prefix(self, *counters: np.ndarray | int) -> "KeyedPrefix":
        """The stream with its leading counters already mixed in (e.g. per session: user, day,
        session), so that many draws under it mix only their own trailing counters. Draws are
        identical to ``uniform(*counters, *more)``."""
        return KeyedPrefix(_chain(self.key, counters))

    def uniform(self, *counters: np.ndarray | int) -> np.ndarray:
        """Uniform floats in [0, 1), float64, one per element of the broadcast counters."""
        return _to_uniform(self.bits(*counters))

    def normal(self, *counters: np.ndarray | int) -> np.ndarray:
        """Standard normal draws by inverting the CDF of a keyed uniform."""
        u = self.uniform(*counters)
        return special.ndtri(np.clip(u, 1e-16, 1 - 1e-16))


class KeyedPrefix:
    """A :class:`KeyedRandom` stream with leading counters mixed in (see :meth:`KeyedRandom.prefix`)."""

    __slots__ = ("z",)

    def __init__(self, z: np.ndarray):
        self.z = z

    def take(self, index) -> "KeyedPrefix":
        """The prefixes of some elements (e.g. the sessions of some pairs)."""
        return KeyedPrefix(self.z[index])

    def column(self) -> "KeyedPrefix":
        """Shape (n, 1), to broadcast against per-element counters such as slots."""
        return KeyedPrefix(self.z[:, None])

    def uniform(self, *counters: np.ndarray | int) -> np.ndarray:
        return _to_uniform(_chain(self.z, counters))

    def normal(self, *counters: np.ndarray | int) -> np.ndarray:
        u = self.uniform(*counters)
        return special.ndtri(np.clip(u, 1e-16, 1 - 1e-16))
