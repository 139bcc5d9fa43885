"""The offline-online scatter chart: each offline figure of a policy against its A/B lift.

Renders what :func:`recsys.evaluate.offline_online.offline_online` computed (a frame with one row
per policy and the taus); returns the figure's bytes in PNG or SVG.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from recsys.report.charts import STYLE  # noqa: E402

LABELS = {"ndcg": "offline NDCG@10", "coverage": "offline catalog coverage@10",
          "ope_ctr": "off-policy estimate of CTR", "ope_qualified": "off-policy estimate of qualified plays / card",
          "ctr_lift": "A/B CTR lift over popularity", "watch_minutes_lift": "A/B watch-minutes lift over popularity"}


def agreement_chart(policies: pd.DataFrame, taus: pd.DataFrame, *, online: str = "ctr_lift",
                    offline=("ndcg", "coverage", "ope_ctr", "ope_qualified"), fmt: str = "png") -> bytes:
    """One panel per offline figure: policies as points (the A/B lift's interval as a vertical bar,
    an off-policy estimate's as a horizontal one), Kendall's tau in the title."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(offline), figsize=(4.2 * len(offline), 4.0), sharey=True)
        y = 100 * policies[online].to_numpy(float)
        ylo = y - 100 * policies[f"{online}_ci_low"].to_numpy(float)
        yhi = 100 * policies[f"{online}_ci_high"].to_numpy(float) - y
        for ax, off in zip(np.atleast_1d(axes), offline):
            x = policies[off].to_numpy(float)
            xerr = None
            if f"{off}_ci_low" in policies:
                xerr = [x - policies[f"{off}_ci_low"].to_numpy(float), policies[f"{off}_ci_high"].to_numpy(float) - x]
            ax.errorbar(x, y, yerr=[ylo, yhi], xerr=xerr, fmt="o", ms=4, color="#0969da", ecolor="#8c959f",
                        elinewidth=0.8, capsize=0)
            for xi, yi, name in zip(x, y, policies["arm"]):
                ax.annotate(name, (xi, yi), fontsize=6.5, xytext=(3, 3), textcoords="offset points", color="#24292f")
            t = taus[(taus["offline"] == off) & (taus["online"] == online)].iloc[0]
            ax.set_title(f"{LABELS.get(off, off)}\nKendall tau {t['tau']:+.2f} [{t['ci_low']:+.2f}, {t['ci_high']:+.2f}]")
            ax.set_xlabel(LABELS.get(off, off))
            ax.axhline(0, color="#6e7781", lw=0.6)
        np.atleast_1d(axes)[0].set_ylabel(LABELS.get(online, online) + " (%)")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=130, bbox_inches="tight", facecolor="white")
        plt.close(fig)
    return buf.getvalue()
