"""The shared contracts at the bottom of the package, importing nothing else of it.

``errors`` (InputError), ``rng`` (keyed randomness), ``page`` (Page, UserContext, Layout: what a
policy hands the simulator), ``logs`` (the event logs' schemas), ``format`` (numbers for
people), ``config`` (frozen dataclasses from TOML), ``io`` (whole-or-nothing output),
``progress`` (one progress display per job) and ``parallel`` (executors and shared objects).
"""
