"""Statistics for A/B tests on per-user tables, computed from summary statistics.

Modules, each with one job: ``metrics`` (the registry), ``table`` (validation), ``summary``
(sums and cross sums per arm x segment), ``inference`` (Welch, delta method, proportion z),
``cuped``, ``bootstrap``, ``srm``, ``corrections``, ``heterogeneity``, ``sequential``,
``power``, ``synthetic`` (tables with known effects) and ``analysis`` (all of it, as the JSON
of docs/contracts.md section 3), ``roles`` (what each metric does in a decision), ``planning``
(power of the whole decision rule), ``decision_study`` (the rule's closed loop). The toolkit of issue 21: ``estimate`` (an effect as moments, the
estimators' common output), ``bayes`` (gbstats' Bayesian readout), ``capping``, ``poststrat``
(gbstats' post-stratified estimator), ``regression`` (several covariates, CUPAC),
``quantiles``, ``group_sequential`` (alpha spending) and ``calibration`` (their closed loop).
Nothing here imports the world or the simulator.
"""
