"""Statistics for A/B tests on per-user tables, computed from summary statistics.

Modules, each with one job: ``metrics`` (the registry), ``table`` (validation), ``summary``
(sums and cross sums per arm x segment), ``inference`` (Welch, delta method, proportion z),
``cuped``, ``bootstrap``, ``srm``, ``corrections``, ``heterogeneity``, ``sequential``,
``power``, ``synthetic`` (tables with known effects) and ``analysis`` (all of it, as the JSON
of docs/contracts.md section 3). Nothing here imports the world or the simulator.
"""
