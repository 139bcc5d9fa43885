"""The whole world in one object, built from a config and a seed."""

from __future__ import annotations

from dataclasses import dataclass

from recsys.world.catalog import Catalog, CatalogTruth, make_catalog
from recsys.world.config import WorldConfig
from recsys.world.users import TasteClusters, Users, UserTruth, make_clusters, make_users


@dataclass(frozen=True, eq=False)
class World:
    """Public parts (``catalog``, ``users``) and hidden parts (``truth``, ``user_truth``)."""

    config: WorldConfig
    seed: int
    catalog: Catalog
    truth: CatalogTruth
    users: Users
    user_truth: UserTruth
    clusters: TasteClusters

    @property
    def n_users(self) -> int:
        return len(self.users)


def build_world(config: WorldConfig | None = None, seed: int = 0) -> World:
    config = (config or WorldConfig()).validate()
    catalog, truth = make_catalog(config, seed)
    clusters = make_clusters(config, truth, seed)
    users, user_truth = make_users(config, truth, clusters, seed)
    return World(config, seed, catalog, truth, users, user_truth, clusters)
