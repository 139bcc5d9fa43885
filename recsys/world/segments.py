"""Engagement segments, computed from observable history only.

An analyst can compute the same labels from real logs: the signup day and the days a user
visited in the ``window`` days before ``as_of``.

* ``new``: signed up within the last ``new_days`` days (little or no history);
* ``low_engagement``: fewer than ``low_max + 1`` active days in the window;
* ``regular``: up to ``regular_max`` active days;
* ``power``: more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("new", "low_engagement", "regular", "power")


def active_days(sessions: pd.DataFrame, n_users: int, first_day: int, last_day: int) -> np.ndarray:
    """Distinct days with a session per user, for days in [first_day, last_day]."""
    s = sessions[(sessions["day"] >= first_day) & (sessions["day"] <= last_day)]
    ud = s[["user_id", "day"]].drop_duplicates()
    return np.bincount(ud["user_id"].to_numpy(np.int64), minlength=n_users)[:n_users]


def segment_codes(signup_day: np.ndarray, active: np.ndarray, *, as_of: int = 0, new_days: int = 7,
                  low_max: int = 3, regular_max: int = 11) -> np.ndarray:
    """Segment index (into :data:`SEGMENTS`) per user from signup day and active-day counts."""
    code = np.where(active <= low_max, 1, np.where(active <= regular_max, 2, 3))
    code = np.where(signup_day > as_of - new_days, 0, code)
    return code.astype(np.int8)


def segments_from_logs(sessions: pd.DataFrame, signup_day: np.ndarray, *, as_of: int = 0,
                       window: int = 28, **thresholds) -> np.ndarray:
    """Segment labels (object array) per user id ``0..N-1`` from the session log."""
    act = active_days(sessions, len(signup_day), as_of - window, as_of - 1)
    return np.asarray(SEGMENTS, dtype=object)[segment_codes(signup_day, act, as_of=as_of, **thresholds)]
