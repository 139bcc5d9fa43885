"""What a newcomer meets first (issue 15): --version, one progress display with named stages, a
size warning before a run the machine cannot hold, outputs with the umask's permissions, a
folder made for --json, and --resume on a finished run."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest

from recsys import __version__
from recsys.cli import main
from recsys.cli.args import announce
from recsys.experiment.config import ExperimentConfig

CONFIG = """
[experiment]
name = "newcomer"
seed = 4
users = 500
days = 2
warmup_days = 7
control = "popularity"

[world]
titles = 150

[[arms]]
name = "popularity"
policy = "popularity"
share = 0.5

[[arms]]
name = "cf"
policy = "cf"
share = 0.5

[metrics]
primary = "ctr"
guardrails = { churn_rate = 0.1 }
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small `recsys ab --report --json` under umask 022, with its stderr."""
    folder = tmp_path_factory.mktemp("newcomer")
    (folder / "exp.toml").write_text(CONFIG)
    old = os.umask(0o022)
    cwd = os.getcwd()
    try:
        os.chdir(folder)
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["ab", "exp.toml", "--out", "out", "--report", "--json", "json/deep/analysis.json"])
    finally:
        os.chdir(cwd)
        os.umask(old)
    assert rc == 0, err.getvalue()
    return folder, err.getvalue()


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"recsys {__version__}"


def test_one_progress_display_names_every_stage(run):
    _, err = run
    for stage in ("warm-up day 7/7", "fit popularity, cf", "experiment day 2/2", "analysis",
                  "monitoring day by day", "report"):
        assert stage in err, stage
    assert "warm-up 0/7" not in err   # no separate bar per batch of days


def test_outputs_follow_the_umask_and_json_gets_its_folder(run):
    folder, _ = run
    for name in ("out/users.parquet", "out/analysis.json", "out/config.toml", "out/report.html",
                 "json/deep/analysis.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644, name
    for name in ("out", "json", "json/deep"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o755, name
    assert json.loads((folder / "json/deep/analysis.json").read_text()) == \
        json.loads((folder / "out/analysis.json").read_text())


def test_resume_on_a_finished_run_prints_its_result(run, capsys, monkeypatch):
    folder, _ = run
    monkeypatch.chdir(folder)
    before = pd.read_parquet(folder / "out/users.parquet")
    assert main(["ab", "exp.toml", "--out", "out", "--resume", "--quiet", "--json", "again.json"]) == 0
    captured = capsys.readouterr()
    assert "already holds this finished run" in captured.err
    assert "Decision:" in captured.out
    assert json.loads((folder / "again.json").read_text()) == json.loads((folder / "out/analysis.json").read_text())
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "out/users.parquet"), before)


def test_a_run_too_big_for_the_machine_is_announced(monkeypatch, capsys):
    from recsys import jobs

    config = ExperimentConfig().replace(users=50_000_000)
    monkeypatch.setattr(jobs, "available_memory", lambda: 16e9)
    announce(config, 1)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "warning" in err[0] and "50,000,000 users" in err[0] and "GB" in err[0]
    announce(ExperimentConfig().replace(users=400_000), 2)   # large but fits: time and memory, no warning
    note = capsys.readouterr().err
    assert "note:" in note and "min" in note and "warning" not in note
    announce(ExperimentConfig().replace(users=2_000), 1)     # small: nothing
    assert capsys.readouterr().err == ""
