"""The two-artwork test inside the simulated world: users meet a title's real variants.

Users drawn from the world at random (seeded) are split into two equal arms; every user gets
the title in the first slot of the first row on day 0 (a slot every visitor examines), with
their arm's variant: A is the title's default, B another of its variants. Whether they click is
the behaviour model's decision (:meth:`~recsys.simulate.behaviour.BehaviourModel.click_probability`:
the user's hidden utility for the title, the variant's hidden appeal and its match to the user's
taste), drawn with keyed uniforms. Users meet the title fresh: no satiation, not seen or played
before. The simulator also knows each variant's true CTR (the mean click probability over all
the world's users), which the output reports as ground truth beside the estimate.

By default the title is a well-known one with a variant whose public theme differs from its
default's, and B is the first such variant, so that the test compares two artworks a reader can
tell apart (:func:`describe_variant` names each by its index and theme).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.core.errors import InputError
from recsys.core.rng import KeyedRandom, generator
from recsys.simulate.behaviour import BehaviourModel
from recsys.world.build import World
from recsys.world.catalog import Catalog

DAY = 0


def assign_and_click(users: int, p_a: float, p_b: float, seed: int) -> tuple[int, int, int, int]:
    """Randomise ``users`` into two equal arms (A gets the odd one) and draw each user's click.

    Complete randomisation (a seeded permutation) keeps both arms non-empty for any users >= 2.
    Returns (users_a, clicks_a, users_b, clicks_b).
    """
    if users < 2:
        raise InputError(f"--users must be at least 2, got {users}")
    for name, p in (("--p-a", p_a), ("--p-b", p_b)):
        if not 0.0 <= p <= 1.0:
            raise InputError(f"{name} must be a probability in [0, 1], got {p}")
    rng = generator(seed, "artwork-test")
    in_b = np.zeros(users, dtype=bool)
    in_b[rng.permutation(users)[: users // 2]] = True
    click = rng.random(users) < np.where(in_b, p_b, p_a)
    return int((~in_b).sum()), int(click[~in_b].sum()), int(in_b.sum()), int(click[in_b].sum())


@dataclass(frozen=True)
class WorldArtworkTest:
    """Who saw which variant, who clicked, and the variants' true CTRs (known to the simulator)."""

    title: int
    art_a: int
    art_b: int
    users_a: np.ndarray         # user ids shown A
    users_b: np.ndarray
    clicks_a: np.ndarray        # bool per user of A
    clicks_b: np.ndarray
    true_ctr_a: float           # mean click probability of A over all the world's users (ground truth)
    true_ctr_b: float
    sample_ctr_a: float         # mean click probability of A over the users shown A (ground truth)
    sample_ctr_b: float

    def counts(self) -> tuple[int, int, int, int]:
        """(users_a, clicks_a, users_b, clicks_b) for :func:`~recsys.report.artwork_ab.two_artwork_test`."""
        return (len(self.users_a), int(self.clicks_a.sum()), len(self.users_b), int(self.clicks_b.sum()))


def theme_key(catalog: Catalog) -> np.ndarray:
    """(A,) int64: one number per public theme (kind and genre, cast member or mood), equal for two
    variants exactly when their themes are the same."""
    what = np.select([catalog.art_theme == 0, catalog.art_theme == 1], [catalog.art_genre, catalog.art_cast],
                     catalog.art_mood).astype(np.int64)
    return catalog.art_theme.astype(np.int64) * (1 << 32) + what


def describe_variant(catalog: Catalog, art: int) -> str:
    """A variant as a reader tells it apart: its index within the title (as ``--variant-b`` counts,
    0 the default) and its public theme, e.g. 'variant 0 (default), genre action' or 'variant 2,
    cast member Ana Lind'."""
    art = int(art)
    t = int(catalog.art_title[art])
    v = art - int(catalog.art_offsets[t])
    kind, _, what = str(catalog.art_label(np.array([art]))[0]).partition(":")
    theme = {"genre": "genre", "cast": "cast member", "mood": "mood"}[kind]
    return f"variant {v}{' (default)' if v == 0 else ''}, {theme} {what}"


def distinct_variants(catalog: Catalog) -> np.ndarray:
    """(T,) bool: titles with a variant whose public theme differs from the default variant's."""
    key = theme_key(catalog)
    differs = key != key[catalog.art_offsets[:-1]][catalog.art_title]
    return np.bincount(catalog.art_title, weights=differs, minlength=catalog.n_titles) > 0


def default_title(catalog: Catalog, day: int = DAY) -> int:
    """A well-known title by public metadata: among titles released by ``day`` with a variant whose
    theme differs from the default's (else: with at least two variants), the one whose cast is most
    credited across the catalog (ties: lowest id)."""
    credits = np.asarray(catalog.cast.sum(axis=0)).ravel()            # titles per cast member
    known = np.asarray(catalog.cast @ credits).ravel()                # summed credits of each title's cast
    ok = catalog.available(day) & (catalog.n_variants >= 2)
    if not ok.any():
        raise InputError("no released title has two artwork variants in this world")
    if (ok & distinct_variants(catalog)).any():
        ok &= distinct_variants(catalog)
    return int(np.flatnonzero(ok)[np.argmax(known[ok])])


def default_variant_b(catalog: Catalog, title: int) -> int:
    """B's default: the title's first variant whose public theme differs from the default
    variant's (A), so the test compares two different artworks; variant 1 if all share A's theme."""
    start, stop = int(catalog.art_offsets[title]), int(catalog.art_offsets[title + 1])
    key = theme_key(catalog)[start:stop]
    other = np.flatnonzero(key != key[0])
    return int(other[0]) if len(other) else 1


def resolve_variants(catalog: Catalog, title: int, variant_b: int | None, day: int = DAY) -> tuple[int, int]:
    """Artwork ids of A (the default variant) and B (local variant ``variant_b``, by default
    :func:`default_variant_b`) of ``title``."""
    if not 0 <= title < catalog.n_titles:
        raise InputError(f"--title {title} is not in the catalog (title ids 0..{catalog.n_titles - 1})")
    if catalog.release_day[title] > day:
        raise InputError(f"--title {title} is not released by day {day} (released on day {catalog.release_day[title]})")
    n = int(catalog.n_variants[title])
    if n < 2:
        raise InputError(f"--title {title} has only one artwork variant")
    if variant_b is None:
        variant_b = default_variant_b(catalog, title)
    if not 1 <= variant_b < n:
        raise InputError(f"--variant-b {variant_b} is not a variant of title {title} other than its default "
                         f"(choose 1..{n - 1}; 0 is A)")
    start = int(catalog.art_offsets[title])
    return start, start + int(variant_b)


def click_probability(model: BehaviourModel, world: World, users: np.ndarray, art: int, day: int = DAY) -> np.ndarray:
    """The behaviour model's click probability of each user for artwork ``art`` in an examined slot,
    met fresh (no satiation, not passed over or played before)."""
    users = np.asarray(users, dtype=np.int64)
    n = len(users)
    t = np.full(n, world.catalog.art_title[art], dtype=np.int64)
    util = model.utility(world.user_truth, users, t, day)
    zero = np.zeros(n, dtype=np.float32)
    no = np.zeros(n, dtype=bool)
    return model.click_probability(util, zero, world.user_truth, users, np.full(n, art, dtype=np.int64), no, no)


def run_world_test(world: World, users: int, *, title: int | None = None, variant_b: int | None = None,
                   seed: int = 0, day: int = DAY) -> WorldArtworkTest:
    """Draw ``users`` of the world at random (seeded), split them evenly (A gets the odd one), show
    each the title with their arm's variant and let the behaviour model decide the clicks."""
    if users < 2:
        raise InputError(f"--users must be at least 2, got {users}")
    catalog = world.catalog
    title = default_title(catalog, day) if title is None else int(title)
    art_a, art_b = resolve_variants(catalog, title, None if variant_b is None else int(variant_b), day)
    eligible = np.flatnonzero(world.users.signup_day <= day)
    if users > len(eligible):
        raise InputError(f"--users {users} is more than the world's {len(eligible):,} users signed up by day {day}")
    rng = generator(seed, "artwork-test", "world")
    chosen = rng.choice(eligible, size=users, replace=False)
    in_b = np.zeros(users, dtype=bool)
    in_b[rng.permutation(users)[: users // 2]] = True
    ids_a, ids_b = np.sort(chosen[~in_b]), np.sort(chosen[in_b])
    model = BehaviourModel(world.config, catalog, world.truth)
    u = KeyedRandom.from_seed(seed, "artwork-test", "click")
    p_a = click_probability(model, world, ids_a, art_a, day)
    p_b = click_probability(model, world, ids_b, art_b, day)
    clicks_a = u.uniform(ids_a, title) < p_a
    clicks_b = u.uniform(ids_b, title) < p_b
    true_a = float(click_probability(model, world, eligible, art_a, day).mean())
    true_b = float(click_probability(model, world, eligible, art_b, day).mean())
    return WorldArtworkTest(title, art_a, art_b, ids_a, ids_b, clicks_a, clicks_b, true_a, true_b,
                            float(p_a.mean()), float(p_b.mean()))
