"""The world's configuration: one frozen dataclass, loadable from a TOML ``[world]`` table.

Sizes, the page geometry and the attention curve, and every behavioural coefficient live here,
so that calibrating the world never means touching a policy. ``validate`` runs once, when the
config is built from user input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from recsys.core.config import from_mapping, to_mapping
from recsys.core.errors import InputError


#: how a page's slots come into view (docs/world.md, "Examination")
EXAMINATION_MODELS = ("cascade", "position")


@dataclass(frozen=True)
class Behaviour:
    """Coefficients of the user model (see docs/world.md for the equations)."""

    # click: logit = click_bias + utility + artwork terms - satiation - boredom - repetition + change
    click_bias: float = -2.9
    taste_weight: float = 3.2          # latent taste x title latent (cosine)
    genre_weight: float = 1.3          # explicit genre affinity
    cast_weight: float = 0.35          # affinity for the cast
    quality_weight: float = 0.35       # hidden title quality
    fame_weight: float = 0.2           # fame of the cast (pull of stars)
    novelty_weight: float = 0.9        # pull of a fresh release, scaled by novelty seeking
    novelty_halflife: float = 10.0     # days after release
    runtime_weight: float = 0.5        # penalty per hour beyond the user's tolerance
    appeal_weight: float = 1.0         # artwork's hidden appeal
    match_weight: float = 0.5          # artwork theme matches the user's taste
    satiation_weight: float = 0.2      # too much of the same genre lately (days)
    satiation_decay: float = 0.6       # per day
    repeat_weight: float = 0.45        # shown on the previous visit and passed over
    watched_weight: float = 1.6        # already played recently
    # boredom: genre-level, slower than satiation (weeks): the decayed share each genre took of the
    # user's viewing, so concentrated viewing tires and varied viewing does not; only the share above
    # a tolerance bores; it spoils watching (the play's utility) more than the card's pull
    boredom_weight: float = 40.0       # utility per unit (share above tolerance)^power, scaled by satiation sensitivity
    boredom_decay: float = 0.9         # per day
    boredom_tolerance: float = 0.25    # a genre's share of recent viewing below this does not bore ...
    boredom_power: float = 2.0         # ... and the excess bores as its power: over 1, a little variety relieves most
    boredom_click: float = 0.2         # the share of boredom a card's pull already feels (the rest spoils the play)
    boredom_habit: float = 0.16        # tolerance + boredom_habit x (habit - habit_reference): habitual viewers settle into comfort viewing
    # taste dynamics: tastes drift toward what is watched (per unit watch share of a play)
    taste_drift: float = 0.008           # latent taste moves toward the latent of titles watched
    genre_drift: float = 0.03          # genre affinity rises toward genre_ceiling for genres watched ...
    genre_ceiling: float = 1.0
    genre_forget: float = 0.03         # ... and relaxes toward the user's own (initial) affinity, per day
    drift_habit: float = 0.0           # genre drift x (1 - drift_habit x habit): settled habits, settled tastes
    # novelty and change aversion: a reaction to a page that looks unlike what the user is used to
    change_reaction: bool = True       # False: no reaction on any day, warm-up included
    change_reaction_until: int | None = None  # react only on days before this one; 0: an experiment's steady-state truth
    change_curiosity: float = 2.5      # logit per unit change, times the user's novelty seeking
    change_aversion: float = 2.0       # logit per unit change, times the user's habit
    change_adaptation: float = 0.4     # per active day: how far the familiar look moves toward today's page
    change_threshold: float = 0.1      # a change below this goes unnoticed (a steady page wobbles a little)
    change_rows: float = 0.5           # weights of the page's look: row kinds, ...
    change_titles: float = 0.2         # ... how well known its titles are (renown: quality and cast), ...
    change_artwork: float = 0.3        # ... share of cards not in the title's usual artwork
    # play outcome
    abandon_bias: float = -2.3
    abandon_utility: float = 0.8
    abandon_dishonesty: float = 4.0    # (1 - honesty) of the artwork that drew the click
    quit_after_abandon: float = 0.5    # an early abandonment ends the session (else: back to the page)
    complete_bias: float = 0.1
    complete_utility: float = 0.9
    complete_dishonesty: float = 1.0   # a misleading image leaves viewers less likely to finish
    binge_bias: float = -0.9           # series: another episode
    binge_utility: float = 0.6
    max_episodes: int = 4
    session_minutes_median: float = 27.0  # how long the user can sit and watch, lognormal
    session_minutes_sigma: float = 0.5
    session_minutes_utility: float = 0.45  # engaged viewers sit longer (log-minutes per unit utility)
    # looking elsewhere: a session with no satisfying play may end in a search
    search_probability: float = 0.2
    search_candidates: int = 24
    search_seconds: float = 25.0
    # time
    look_seconds: float = 2.2          # examining one card
    skim_seconds: float = 0.5          # scrolling past one card
    # visits (the daily return hazard), habit, satisfaction, churn
    sessions_max: int = 3
    extra_session_prob: float = 0.35
    satisfaction_memory: float = 0.8   # weight of yesterday's satisfaction
    visit_satisfaction: float = 2.0    # log-rate change in visits per unit satisfaction
    visit_habit: float = 0.5           # log-rate change in visits per unit habit (relative to habit_reference)
    habit_gain: float = 0.2           # an active day: habit += gain x (1 - habit)
    habit_decay: float = 0.1          # a day without a visit: habit *= 1 - decay
    habit_reference: float = 0.3       # a typical user's habit
    visit_new: float = 0.0             # log-rate change in visits while a user is new
    churn_base: float = 0.0015         # daily hazard of a typical user (reference satisfaction and habit)
    churn_new_multiplier: float = 2.0  # new users are likelier to leave
    new_user_days: int = 7             # ... for this many days after signing up
    churn_satisfaction: float = 4.0    # log-hazard change per unit satisfaction
    churn_habit: float = 1.0           # log-hazard change per unit habit (relative to habit_reference)
    satisfaction_reference: float = 0.38  # a typical user's satisfaction (and a new account's): hazard = churn_base there
    reward_complete: float = 1.0
    reward_long_play: float = 0.8      # per unit watch share of a play stopped after the first minutes
    penalty_abandon: float = 0.7
    penalty_no_play: float = 0.35
    penalty_repetition: float = 0.3


@dataclass(frozen=True)
class WorldConfig:
    """The synthetic world: catalog, users and their behaviour. Every size is a parameter."""

    users: int = 20_000
    titles: int = 3_000
    genres: int = 20
    cast: int = 1_500
    latent_dim: int = 16
    taste_clusters: int = 8
    series_share: float = 0.4
    new_title_share: float = 0.06      # titles released inside [-new_title_window, +new_title_window)
    new_title_window: int = 28
    min_artwork: int = 3
    max_artwork: int = 6
    clickbait_share: float = 0.3       # titles that have a clickbait variant
    new_user_share: float = 0.12       # users who signed up within the week before day 0
    activity_median: float = 0.42      # a user's visit rate per day (at reference satisfaction and habit): lognormal ...
    activity_sigma: float = 0.95       # ... with this spread of its log, ...
    activity_max: float = 3.0          # ... and at most this
    cast_zipf: float = 1.1
    rows: int = 5
    row_length: int = 8
    row_examination: tuple[float, ...] = (1.0, 0.8, 0.62, 0.48, 0.36)
    position_examination: tuple[float, ...] = (1.0, 0.86, 0.74, 0.63, 0.53, 0.45, 0.38, 0.32)
    profile_decay: float = 0.97        # per day: the service's observable genre profile of a user's plays
    examination: str = "cascade"       # "cascade": rows top to bottom, cards left to right; "position": each slot on its own
    behaviour: Behaviour = field(default_factory=Behaviour)

    @property
    def slots(self) -> int:
        return self.rows * self.row_length

    def validate(self) -> "WorldConfig":
        def positive(name: str) -> None:
            if getattr(self, name) <= 0:
                raise InputError(f"world.{name} must be positive, got {getattr(self, name)}")

        for name in ("users", "titles", "genres", "cast", "latent_dim", "taste_clusters",
                     "rows", "row_length", "min_artwork", "max_artwork", "activity_median", "activity_max"):
            positive(name)
        for name in ("series_share", "new_title_share", "clickbait_share", "new_user_share", "profile_decay"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise InputError(f"world.{name} must be in [0, 1], got {v}")
        if self.genres < 3:
            raise InputError(f"world.genres must be at least 3, got {self.genres}")
        if self.min_artwork > self.max_artwork:
            raise InputError("world.min_artwork must not exceed world.max_artwork")
        if self.titles < self.slots + 64:
            raise InputError(f"world.titles must be at least rows x row_length + 64 = {self.slots + 64}")
        if len(self.row_examination) != self.rows:
            raise InputError(f"world.row_examination needs {self.rows} values (one per row)")
        if len(self.position_examination) != self.row_length:
            raise InputError(f"world.position_examination needs {self.row_length} values (one per position)")
        for name in ("row_examination", "position_examination"):
            vals = getattr(self, name)
            if any(not 0.0 < v <= 1.0 for v in vals):
                raise InputError(f"world.{name} values must be in (0, 1]")
        if self.examination not in EXAMINATION_MODELS:
            raise InputError(f"world.examination must be one of {', '.join(EXAMINATION_MODELS)}, got {self.examination!r}")
        if self.examination == "cascade" and any(
                later > earlier for vals in (self.row_examination, self.position_examination)
                for earlier, later in zip(vals, vals[1:])):
            raise InputError("world.examination = \"cascade\" needs row_examination and position_examination "
                             "that do not rise (each step is a probability of going on)")
        b = self.behaviour
        for name in ("satiation_decay", "satisfaction_memory", "extra_session_prob", "churn_base",
                     "search_probability", "quit_after_abandon", "boredom_decay", "boredom_habit", "change_adaptation", "change_threshold", "genre_forget", "drift_habit", "boredom_click",
                     "habit_gain", "habit_decay", "habit_reference"):
            if not 0.0 <= getattr(b, name) <= 1.0:
                raise InputError(f"world.behaviour.{name} must be in [0, 1]")
        if b.sessions_max < 1 or b.max_episodes < 1:
            raise InputError("world.behaviour.sessions_max and max_episodes must be at least 1")
        return self

    def with_overrides(self, **kwargs: Any) -> "WorldConfig":
        return dataclasses.replace(self, **kwargs).validate()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "WorldConfig":
        return from_mapping(cls, data or {}, "world").validate()

    def to_dict(self) -> dict[str, Any]:
        return to_mapping(self)
