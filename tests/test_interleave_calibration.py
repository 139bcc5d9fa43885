"""A-vs-A interleaving in the world rejects at the nominal rate (slow: 2 x 1,000 small worlds).

Measured figures are quoted in docs/interleaving.md ("Calibration")."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.core.parallel import executor
from recsys.experiment.interleave import a_vs_a

REPLICATES = 1000


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["popularity", "random"])
def test_a_vs_a_interleaving_rejects_at_the_nominal_rate(policy):
    """popularity against popularity: the same page, every card's team a coin flip; random
    against random: two different, exchangeable pages. Over 1,000 worlds (800 users, 7 warm-up
    and 3 experiment days each) the 5% test rejects within the binomial 99% band of 5% (3.2% to
    6.8%) on clicks and on qualified plays."""
    with executor(2) as ex:
        df = a_vs_a(range(REPLICATES), policy, executor=ex)
    band = 2.576 * np.sqrt(0.05 * 0.95 / REPLICATES)
    for credit in ("clicks", "qualified_plays"):
        rate = float((df[f"{credit}_p"] < 0.05).mean())
        print(f"{policy} {credit}: rejects {rate:.3f} over {len(df)} replicates, "
              f"median users with credit {df[f'{credit}_n'].median():.0f}, sign test {(df[f'{credit}_sign_p'] < 0.05).mean():.3f}")
        assert abs(rate - 0.05) < band, (credit, rate)
