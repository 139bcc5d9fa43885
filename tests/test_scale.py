"""Scale and robustness: streamed logs, interruption and --resume, workers and Dask give one result."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from recsys.cli import main
from recsys.simulate import runner

CONFIG = """
[experiment]
name = "scale-test"
seed = 11
users = 2400
days = 3
warmup_days = 7
control = "popularity"
retrain_every = 1

[world]
titles = 300

[[arms]]
name = "popularity"
policy = "popularity"
share = 0.5

[[arms]]
name = "hybrid"
policy = "hybrid"
share = 0.5
[arms.params]
diversity = 0.3
artwork = "bandit-play"

[metrics]
primary = "ctr"
secondary = ["watch_minutes"]
guardrails = { churn_rate = 0.1 }
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "SHARD_SIZE", 600)  # four shards
    path = tmp_path / "exp.toml"
    path.write_text(CONFIG)
    return path


def _outputs(out: Path):
    table = pd.read_parquet(out / "users.parquet")
    analysis = json.loads((out / "analysis.json").read_text())
    return table, analysis


def _ab(config, out, *extra):
    return main(["ab", str(config), "--out", str(out), "--quiet", *extra])


@pytest.fixture
def reference(config, tmp_path):
    out = tmp_path / "reference"
    assert _ab(config, out) == 0
    return _outputs(out)


def test_streamed_logs_are_partitioned_parquet(config, reference, tmp_path):
    out = tmp_path / "reference"
    for kind in ("impressions", "plays", "sessions"):
        files = sorted((out / "experiment" / "logs" / kind).glob("day=*/shard=*.parquet"))
        assert len(files) == 3 * 4, kind
    imps = pd.concat([pd.read_parquet(f) for f in (out / "experiment" / "logs" / "impressions").rglob("*.parquet")])
    assert imps["clicks" if "clicks" in imps else "clicked"].sum() == reference[0]["clicks"].sum()
    assert not list(out.rglob("state")), "checkpoints are removed from a finished run"
    assert not (tmp_path / ".reference.partial").exists()


def test_interrupted_run_leaves_nothing_then_resumes_only_missing_shards(config, reference, tmp_path, monkeypatch,
                                                                         capsys):
    real = runner.simulate_day
    calls = []

    def failing(state, model, policies, day, *args, **kwargs):
        calls.append((day, state.start))
        if day == 1 and state.start == 1200:
            raise KeyboardInterrupt
        return real(state, model, policies, day, *args, **kwargs)

    out = tmp_path / "interrupted"
    monkeypatch.setattr(runner, "simulate_day", failing)
    assert _ab(config, out) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "--resume" in err[0]
    assert not out.exists()
    assert (tmp_path / ".interrupted.partial").is_dir()

    calls.clear()
    monkeypatch.setattr(runner, "simulate_day", lambda *a, **k: (calls.append((a[3], a[0].start)), real(*a, **k))[1])
    assert _ab(config, out, "--resume") == 0
    # the warm-up and experiment day 0 are replayed from disk; of day 1 only the shards that
    # had not finished (the failing one and those after it) run again
    assert min(d for d, _ in calls) == 1
    assert sorted(s for d, s in calls if d == 1) == [1200, 1800]
    assert sorted(s for d, s in calls if d == 2) == [0, 600, 1200, 1800]
    table, analysis = _outputs(out)
    pd.testing.assert_frame_equal(table, reference[0])
    assert analysis == reference[1]
    assert not (tmp_path / ".interrupted.partial").exists()


def test_resume_refuses_a_different_configuration(config, tmp_path, monkeypatch, capsys):
    def interrupt(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "simulate_day", interrupt)
    out = tmp_path / "x"
    assert _ab(config, out) == 130
    capsys.readouterr()
    assert _ab(config, out, "--resume", "--seed", "12") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different configuration" in err[0]
    assert not out.exists()


def test_one_worker_two_workers_and_dask_agree(config, reference, tmp_path):
    pytest.importorskip("distributed")
    for name, extra in (("two", ["--workers", "2"]), ("dask", ["--workers", "2", "--dask"])):
        out = tmp_path / name
        assert _ab(config, out, *extra) == 0
        table, analysis = _outputs(out)
        pd.testing.assert_frame_equal(table, reference[0])
        assert analysis == reference[1], name


def test_sigterm_stops_with_one_line_and_no_output(tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text(CONFIG.replace("days = 3", "days = 40").replace("users = 2400", "users = 20000"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "recsys", "ab", str(config), "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    partial = tmp_path / ".out.partial"
    deadline = time.monotonic() + 120
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "terminated" in lines[0], err
    assert not out.exists()
    assert "Traceback" not in err
