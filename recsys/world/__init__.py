"""The synthetic world: configuration, catalog, users, segments."""

from recsys.world.config import Behaviour, WorldConfig

__all__ = ["Behaviour", "WorldConfig"]
