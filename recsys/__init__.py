"""recsys: a personalization testbed.

A synthetic streaming world (``recsys.world``), a behaviour simulator that runs users through
it day by day (``recsys.simulate``), recommenders trained on its logs (``recsys.models``), an
offline A/B harness (``recsys.experiment``) and the statistics that judge it (``recsys.stats``).
"""

__version__ = "0.1.0"
