"""The catalog: titles, their public metadata and artwork variants, and their hidden truth.

:class:`Catalog` holds only what a streaming service publishes (genres, cast, runtime, kind,
release day, artwork themes); recommenders receive this object. :class:`CatalogTruth` holds
what only the world knows (quality, latent vector, artwork appeal and honesty); only the
behaviour model and the ``oracle`` policy receive it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.rng import generator
from recsys.world.config import WorldConfig

GENRE_NAMES = (
    "drama", "comedy", "action", "thriller", "romance", "documentary", "family", "animation",
    "crime", "sci-fi", "fantasy", "horror", "mystery", "adventure", "history", "music",
    "reality", "sport", "war", "western", "biography", "teen", "anime", "stand-up",
)
MOODS = ("dark", "bright", "romantic", "tense", "epic", "cosy")
THEME_KINDS = ("genre", "cast", "mood")
KIND_NAMES = ("movie", "series")

_ADJ = ("Silent", "Broken", "Golden", "Hidden", "Last", "Burning", "Distant", "Wild", "Crimson",
        "Hollow", "Electric", "Quiet", "Lost", "Northern", "Midnight", "Bright", "Velvet", "Iron",
        "Paper", "Glass", "Secret", "Frozen", "Little", "Endless")
_NOUN = ("Harbor", "Kingdom", "Signal", "River", "Summer", "Garden", "Empire", "Letters", "Road",
         "Island", "Witness", "Machine", "Orchard", "Frontier", "Choir", "Station", "Tide",
         "Mountain", "Archive", "Circus", "Promise", "Lantern", "Valley", "Heist")


@dataclass(frozen=True, eq=False)
class Catalog:
    """Public metadata. Arrays are indexed by title id ``0..n_titles-1`` or artwork id."""

    name: np.ndarray            # (T,) str
    kind: np.ndarray            # (T,) int8: 0 movie, 1 series
    genres: sp.csr_matrix       # (T, G) float32 0/1, 1-3 genres per title
    cast: sp.csr_matrix         # (T, C) float32 0/1
    runtime: np.ndarray         # (T,) float32 minutes (one episode for a series)
    episodes: np.ndarray        # (T,) int16, 1 for a movie
    release_day: np.ndarray     # (T,) int32, day 0 is the first experiment day
    genre_names: tuple[str, ...]
    cast_names: np.ndarray      # (C,) str
    art_offsets: np.ndarray     # (T+1,) int64: title t's variants are art ids art_offsets[t]:art_offsets[t+1]
    art_title: np.ndarray       # (A,) int32
    art_theme: np.ndarray       # (A,) int8 index into THEME_KINDS
    art_genre: np.ndarray       # (A,) int16 genre played up, or -1
    art_cast: np.ndarray        # (A,) int32 cast member featured, or -1
    art_mood: np.ndarray        # (A,) int8 index into MOODS, or -1

    @property
    def n_titles(self) -> int:
        return len(self.kind)

    @property
    def n_genres(self) -> int:
        return len(self.genre_names)

    @property
    def n_artwork(self) -> int:
        return len(self.art_title)

    @property
    def n_variants(self) -> np.ndarray:
        return np.diff(self.art_offsets).astype(np.int16)

    @property
    def default_art(self) -> np.ndarray:
        """The first variant of each title: what the ``fixed`` artwork policy shows."""
        return self.art_offsets[:-1].astype(np.int32)

    def available(self, day: int) -> np.ndarray:
        """Boolean mask of titles released on or before ``day``."""
        return self.release_day <= day

    def art_label(self, art: np.ndarray) -> np.ndarray:
        """Readable theme of artwork ids, e.g. 'genre:comedy', 'cast:Ana Lind', 'mood:dark'."""
        art = np.asarray(art)
        out = np.empty(art.shape, dtype=object)
        theme = self.art_theme[art]
        g, c, m = self.art_genre[art], self.art_cast[art], self.art_mood[art]
        names = np.asarray(self.genre_names, dtype=object)
        moods = np.asarray(MOODS, dtype=object)
        out[theme == 0] = "genre:" + names[g[theme == 0]]
        out[theme == 1] = "cast:" + self.cast_names[c[theme == 1]].astype(object)
        out[theme == 2] = "mood:" + moods[m[theme == 2]]
        return out

    def items_frame(self) -> pd.DataFrame:
        """The public catalog as a DataFrame (one row per title), the currency of models."""
        g = self.genres.tocsr()
        names = np.asarray(self.genre_names, dtype=object)
        genre_lists = [list(names[g.indices[g.indptr[i]:g.indptr[i + 1]]]) for i in range(self.n_titles)]
        c = self.cast.tocsr()
        cast_lists = [list(self.cast_names[c.indices[c.indptr[i]:c.indptr[i + 1]]]) for i in range(self.n_titles)]
        return pd.DataFrame({
            "item": np.arange(self.n_titles),
            "name": self.name,
            "kind": np.asarray(KIND_NAMES, dtype=object)[self.kind],
            "genres": genre_lists,
            "cast": cast_lists,
            "runtime": self.runtime,
            "episodes": self.episodes,
            "release_day": self.release_day,
        })


@dataclass(frozen=True, eq=False)
class CatalogTruth:
    """Hidden title and artwork properties; never given to a recommender."""

    quality: np.ndarray         # (T,) float32, standard normal
    latent: np.ndarray          # (T, D) float32 unit vectors, correlated with genres
    cast_vec: np.ndarray        # (T, Dc) float32 mean latent of the title's cast
    fame: np.ndarray            # (T,) float32 fame of the title's best-known cast member, in [0, 1]
    cast_latent: np.ndarray     # (C, Dc) float32
    art_appeal: np.ndarray      # (A,) float32
    art_honesty: np.ndarray     # (A,) float32 in (0, 1]
    genre_latent: np.ndarray    # (G, D) float32: the genres' directions in taste space

    def shuffled(self, rng: np.random.Generator) -> "CatalogTruth":
        """The same truth with every hidden array permuted: for proving a model ignores it."""
        def perm(a: np.ndarray) -> np.ndarray:
            return a[rng.permutation(len(a))]
        return CatalogTruth(perm(self.quality), perm(self.latent), perm(self.cast_vec), perm(self.fame),
                            perm(self.cast_latent), perm(self.art_appeal), perm(self.art_honesty),
                            perm(self.genre_latent))


CAST_DIM = 8


def make_catalog(config: WorldConfig, seed: int) -> tuple[Catalog, CatalogTruth]:
    """Generate the catalog and its hidden truth from ``seed`` (vectorised, no per-title loop)."""
    rng = generator(seed, "catalog")
    T, G, C, D = config.titles, config.genres, config.cast, config.latent_dim

    genre_names = tuple(GENRE_NAMES[i] if i < len(GENRE_NAMES) else f"genre-{i + 1}" for i in range(G))
    genre_pop = rng.dirichlet(np.full(G, 2.0))
    n_genres = rng.choice([1, 2, 3], size=T, p=[0.35, 0.45, 0.2])
    # draw 3 distinct genres per title by sorting Gumbel-perturbed log-popularities, keep the first k
    keys = np.log(genre_pop)[None, :] + rng.gumbel(size=(T, G))
    top3 = np.argsort(-keys, axis=1)[:, :3]
    keep = np.arange(3)[None, :] < n_genres[:, None]
    rows = np.repeat(np.arange(T), 3)[keep.ravel()]
    cols = top3.ravel()[keep.ravel()]
    genres = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(T, G))
    genres.sort_indices()

    genre_latent = rng.standard_normal((G, D)).astype(np.float32)
    genre_latent /= np.linalg.norm(genre_latent, axis=1, keepdims=True)
    g_norm = sp.diags(1.0 / np.asarray(genres.sum(1)).ravel()) @ genres
    latent = np.asarray(g_norm @ genre_latent) + 0.6 * rng.standard_normal((T, D)) / np.sqrt(D)
    latent = (latent / np.linalg.norm(latent, axis=1, keepdims=True)).astype(np.float32)

    # cast: Zipf fame; each title has 2-5 cast members drawn by fame
    fame_rank = np.arange(1, C + 1)
    fame_p = fame_rank ** -config.cast_zipf
    fame_p /= fame_p.sum()
    n_cast = rng.integers(2, 6, size=T)
    draws = rng.choice(C, size=(T, 5), p=fame_p)
    keep_c = np.arange(5)[None, :] < n_cast[:, None]
    crow = np.repeat(np.arange(T), 5)[keep_c.ravel()]
    ccol = draws.ravel()[keep_c.ravel()]
    cast = sp.csr_matrix((np.ones(len(crow), np.float32), (crow, ccol)), shape=(T, C))
    cast.data[:] = 1.0  # a duplicate draw counts once
    cast.sort_indices()
    cast_latent = rng.standard_normal((C, CAST_DIM)).astype(np.float32)
    c_norm = sp.diags(1.0 / np.maximum(np.asarray(cast.sum(1)).ravel(), 1)) @ cast
    cast_vec = np.asarray(c_norm @ cast_latent, dtype=np.float32)
    star = (1.0 - np.log(fame_rank) / np.log(C + 1)).astype(np.float32)  # 1 for the most famous
    fame = np.asarray(cast.multiply(star[None, :]).max(axis=1).todense()).ravel().astype(np.float32)

    kind = (rng.random(T) < config.series_share).astype(np.int8)
    movie_rt = np.clip(rng.normal(108, 18, T), 75, 180)
    episode_rt = rng.choice([22, 30, 45, 55], size=T, p=[0.2, 0.25, 0.35, 0.2]) + rng.integers(-3, 4, T)
    runtime = np.where(kind == 1, episode_rt, movie_rt).astype(np.float32)
    episodes = np.where(kind == 1, rng.integers(6, 30, T), 1).astype(np.int16)

    back = rng.integers(-3 * 365, -config.new_title_window, size=T)
    fresh = rng.integers(-config.new_title_window, config.new_title_window, size=T)
    release_day = np.where(rng.random(T) < config.new_title_share, fresh, back).astype(np.int32)
    quality = rng.standard_normal(T).astype(np.float32)

    # artwork: 3-6 variants per title with a public theme and a hidden appeal and honesty
    n_art = rng.integers(config.min_artwork, config.max_artwork + 1, size=T)
    art_offsets = np.concatenate([[0], np.cumsum(n_art)]).astype(np.int64)
    A = int(art_offsets[-1])
    art_title = np.repeat(np.arange(T, dtype=np.int32), n_art)
    # every variant is drawn alike, the default (the first, what "fixed" shows) included: it may
    # play up any theme, and it may be the clickbait
    art_theme = rng.choice(3, size=A, p=[0.45, 0.3, 0.25]).astype(np.int8)
    # genre theme: one of the title's own genres
    g_start = genres.indptr[art_title]
    g_count = np.diff(genres.indptr)[art_title]
    g_pick = genres.indices[g_start + (rng.random(A) * g_count).astype(np.int64)]
    art_genre = np.where(art_theme == 0, g_pick, -1).astype(np.int16)
    c_start = cast.indptr[art_title]
    c_count = np.maximum(np.diff(cast.indptr)[art_title], 1)
    c_pick = cast.indices[np.minimum(c_start + (rng.random(A) * c_count).astype(np.int64), len(cast.indices) - 1)]
    art_cast = np.where(art_theme == 1, c_pick, -1).astype(np.int32)
    art_mood = np.where(art_theme == 2, rng.integers(0, len(MOODS), A), -1).astype(np.int8)

    appeal = rng.normal(0.0, 0.3, A)
    honesty = np.clip(rng.beta(8, 2, A), 0.05, 1.0)
    has_bait = rng.random(T) < config.clickbait_share
    bait_local = (rng.random(T) * n_art).astype(np.int64)
    bait = art_offsets[:-1] + bait_local
    bait = bait[has_bait]
    appeal[bait] += 0.9
    honesty[bait] = rng.uniform(0.05, 0.3, len(bait))

    names = _title_names(rng, T, kind)
    cast_names = _person_names(rng, C)
    catalog = Catalog(
        name=names, kind=kind, genres=genres, cast=cast, runtime=runtime, episodes=episodes,
        release_day=release_day, genre_names=genre_names, cast_names=cast_names,
        art_offsets=art_offsets, art_title=art_title, art_theme=art_theme, art_genre=art_genre,
        art_cast=art_cast, art_mood=art_mood,
    )
    truth = CatalogTruth(
        quality=quality, latent=latent, cast_vec=cast_vec, fame=fame, cast_latent=cast_latent,
        art_appeal=appeal.astype(np.float32), art_honesty=honesty.astype(np.float32),
        genre_latent=genre_latent,
    )
    return catalog, truth


def _title_names(rng: np.random.Generator, n: int, kind: np.ndarray) -> np.ndarray:
    adj = np.asarray(_ADJ, dtype=object)[rng.integers(0, len(_ADJ), n)]
    noun = np.asarray(_NOUN, dtype=object)[rng.integers(0, len(_NOUN), n)]
    base = "The " + adj + " " + noun
    suffix = np.where(kind == 1, " (series)", "")
    numbered = base + np.where(rng.random(n) < 0.3, " " + rng.integers(2, 5, n).astype(str).astype(object), "")
    return (numbered + suffix).astype(str)


_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jon", "Kai",
          "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Uma", "Viktor",
          "Wen", "Yara", "Zoe")
_LAST = ("Lind", "Okafor", "Moreau", "Sato", "Novak", "Reyes", "Berg", "Castro", "Haddad", "Ivanova",
         "Kowalski", "Mendes", "Nakamura", "Olsen", "Petrov", "Quist", "Rossi", "Silva", "Tanaka",
         "Varga", "Weber", "Yilmaz")


def _person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    first = np.asarray(_FIRST, dtype=object)[rng.integers(0, len(_FIRST), n)]
    last = np.asarray(_LAST, dtype=object)[rng.integers(0, len(_LAST), n)]
    return (first + " " + last).astype(str)
