"""From analysed results to a verdict: the decision rule and its reasons as records.

:func:`decide` reads an :class:`~recsys.stats.analysis.Analysis`; the metric roles it needs
(:class:`~recsys.stats.roles.Roles`, :class:`~recsys.stats.roles.Guardrail`,
:class:`~recsys.stats.roles.Levels`) are defined with the statistics, which run a different
test per role, and re-exported here.
"""

from recsys.decision.rule import (GUARDRAIL_STATUSES, VERDICTS, ArmDecision, Decision, Reason, daily_verdicts, decide,
                                  effect, guardrail_status, rule, tradeoff_table)
from recsys.stats.roles import Guardrail, Levels, Roles, parse_guardrail

__all__ = ["ArmDecision", "Decision", "GUARDRAIL_STATUSES", "Guardrail", "Levels", "Reason", "Roles", "VERDICTS",
           "daily_verdicts", "decide", "effect", "guardrail_status", "parse_guardrail", "rule", "tradeoff_table"]
