"""Descriptive aggregates of an experiment's logs, beside the per-user table: day-by-day curves
and retention per arm (``daily``), and who gets seen (``exposure``: catalog coverage, long-tail
share, genre shares, homogenisation). No inference here: that is :mod:`recsys.stats`."""
