"""Charts as base64 PNG data URIs (matplotlib, Agg backend), so reports are self-contained."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def to_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def forest_plot(rows: list[dict], title: str) -> str:
    """Relative lift with its interval, one line per (metric, segment)."""
    rows = [r for r in rows if r.get("rel_lift") is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.2))
    for i, r in enumerate(rows):
        color = "#1a7f37" if r["significant"] else "#6e7781"
        ax.errorbar(100 * r["rel_lift"], i, xerr=[[100 * (r["rel_lift"] - r["rel_ci_low"])],
                                                  [100 * (r["rel_ci_high"] - r["rel_lift"])]],
                    fmt="o", color=color, capsize=3, ms=4)
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['metric']} · {r['segment']}" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("relative lift vs control (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return to_data_uri(fig)


def daily_curves(daily, value: str, title: str, ylabel: str) -> str:
    """One line per arm over days; ``daily`` has columns day, arm, ``value``."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for arm, d in daily.groupby("arm", sort=False):
        ax.plot(d["day"], d[value], marker="o", ms=3, label=str(arm))
    ax.set_xlabel("experiment day")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return to_data_uri(fig)
