"""recsys: a personalization testbed.

A synthetic streaming world (``recsys.world``), a behaviour simulator that runs users through
it day by day (``recsys.simulate``), recommenders trained on its logs (``recsys.models``,
``recsys.policies``), an offline A/B harness (``recsys.experiment``), the statistics that judge
it (``recsys.stats``) and the decision rule (``recsys.decision``).

The public API (:mod:`recsys.api`) is importable from here, DataFrames in and out::

    import recsys
    exp = recsys.run_experiment(["popularity", "hybrid"], users=2000, days=7)
    exp.analysis.to_frame(); exp.decision.verdict; recsys.write_report(exp, "report.html")

The names load on first use, so ``import recsys`` stays cheap for the command line.
"""

__version__ = "0.1.0"

#: the public API's names, loaded from recsys.api on first access
_API = ("build_world", "interaction_matrix", "run_experiment", "analyze", "decide", "evaluate_models",
        "write_report", "load_experiment", "Analysis", "Decision", "Experiment", "ExperimentConfig",
        "WorldConfig", "World")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from recsys import api

        return getattr(api, name)
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
