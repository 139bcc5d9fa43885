"""The event logs the simulator writes: column names, dtypes, and the container passed around.

Observations sit beside ground truth, as in the Open Bandit Pipeline's synthetic data: each
impression carries the true click probability (``p_click``) and the artwork policy's
propensity, so estimates can be checked against the truth. Models must read only the
observational columns (:data:`OBSERVED_IMPRESSION_COLUMNS`, :data:`OBSERVED_PLAY_COLUMNS`).

Days: warm-up days are negative (``-warmup_days .. -1``), experiment days ``0 .. days-1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: impression log: one row per examined title (a card that came into view)
IMPRESSION_SCHEMA = {
    "user_id": np.int64,
    "day": np.int16,
    "session": np.int8,        # index of the session within the day
    "row": np.int8,
    "position": np.int8,
    "title": np.int32,
    "artwork": np.int32,
    "clicked": np.bool_,
    "p_click": np.float32,     # ground truth: the true click probability
    "propensity": np.float32,  # the artwork policy's probability of the variant shown
    "title_propensity": np.float32,  # the page policy's probability of this title in this slot (1: deterministic)
    "team": np.int8,           # interleaving: the ranker that contributed the card (0 or 1); -1 otherwise
}
OBSERVED_IMPRESSION_COLUMNS = tuple(c for c in IMPRESSION_SCHEMA if c != "p_click")
#: values of columns a writer may leave out (logs written before the column existed, hand-made tables)
COLUMN_DEFAULTS = {"title_propensity": 1.0, "team": -1}

#: play log: one row per play started (a click, or a play found off the homepage)
PLAY_SCHEMA = {
    "user_id": np.int64,
    "day": np.int16,
    "session": np.int8,
    "title": np.int32,
    "artwork": np.int32,       # -1 for plays found off the homepage
    "source": np.int8,         # 0 homepage, 1 off the homepage (search, links)
    "minutes": np.float32,
    "completed": np.bool_,     # movie finished, or the last episode started was finished
    "abandoned_early": np.bool_,  # stopped within 2 minutes
    "episodes": np.int8,
    "p_abandon": np.float32,   # ground truth: probability of early abandonment
}
OBSERVED_PLAY_COLUMNS = tuple(c for c in PLAY_SCHEMA if c != "p_abandon")
SOURCE_HOME, SOURCE_OFF_HOME = 0, 1

#: session log: one row per visit
SESSION_SCHEMA = {
    "user_id": np.int64,
    "day": np.int16,
    "session": np.int8,
    "impressions": np.int16,
    "clicks": np.int16,
    "plays": np.int16,
    "seconds_to_first_play": np.float32,  # NaN when the session had no play
    "repetition": np.float32,  # share of examined titles also shown on the user's previous page
}

#: daily user log: one row per user and experiment day (for retention curves and churn)
USER_DAY_SCHEMA = {
    "user_id": np.int64,
    "day": np.int16,
    "active": np.bool_,
    "churned": np.bool_,       # churned at the end of this day (observable: the account lapsed)
}

ABANDON_MINUTES = 2.0
#: the smallest weight a play counts for: an abandoned click is evidence, if little
MIN_WATCH_SHARE = 0.05


def watch_share(minutes, possible):
    """A play's watch share: minutes watched over the minutes it could have lasted (runtime x
    episodes started), clipped to [MIN_WATCH_SHARE, 1]: the weight a play counts for in the
    observable history and the interaction matrix (dtype follows the inputs)."""
    return np.clip(minutes / possible, MIN_WATCH_SHARE, 1.0)


def empty_frame(schema: dict) -> pd.DataFrame:
    return pd.DataFrame({c: np.empty(0, dtype=t) for c, t in schema.items()})


def frame(schema: dict, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A DataFrame with the schema's columns, order and dtypes (a column of
    :data:`COLUMN_DEFAULTS` left out takes its default)."""
    n = len(next(iter(columns.values()))) if columns else 0

    def col(c, t):
        if c not in columns and c in COLUMN_DEFAULTS:
            return np.full(n, COLUMN_DEFAULTS[c], dtype=t)
        return np.asarray(columns[c]).astype(t, copy=False)
    return pd.DataFrame({c: col(c, t) for c, t in schema.items()})


@dataclass
class Logs:
    """Event logs of some period. ``impressions`` may be None when only plays were kept."""

    plays: pd.DataFrame = field(default_factory=lambda: empty_frame(PLAY_SCHEMA))
    sessions: pd.DataFrame = field(default_factory=lambda: empty_frame(SESSION_SCHEMA))
    impressions: pd.DataFrame | None = field(default_factory=lambda: empty_frame(IMPRESSION_SCHEMA))

    @staticmethod
    def concat(parts: list["Logs"]) -> "Logs":
        parts = [p for p in parts if p is not None]
        if not parts:
            return Logs()
        imps = [p.impressions for p in parts]
        return Logs(
            plays=pd.concat([p.plays for p in parts], ignore_index=True),
            sessions=pd.concat([p.sessions for p in parts], ignore_index=True),
            impressions=None if any(i is None for i in imps) else pd.concat(imps, ignore_index=True),
        )

    def observed(self) -> "Logs":
        """The logs without ground-truth columns: what a real service would have recorded."""
        return Logs(
            plays=self.plays[list(OBSERVED_PLAY_COLUMNS)],
            sessions=self.sessions,
            impressions=None if self.impressions is None else self.impressions[list(OBSERVED_IMPRESSION_COLUMNS)],
        )

    def between(self, first_day: int, last_day: int) -> "Logs":
        """Rows with ``first_day <= day <= last_day``."""
        def cut(df):
            if df is None:
                return None
            return df[(df["day"] >= first_day) & (df["day"] <= last_day)].reset_index(drop=True)
        return Logs(cut(self.plays), cut(self.sessions), cut(self.impressions))
