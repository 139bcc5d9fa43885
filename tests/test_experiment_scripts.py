"""The scripts in experiments/ run end to end, tiny (tests never import from experiments/)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from recsys.experiment.config import ExperimentConfig
from recsys.tune.config import TuneConfig

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"


def _run(*args, cwd):
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in EXPERIMENTS.glob("*.toml")))
def test_every_experiment_file_is_valid(name):
    text = (EXPERIMENTS / name).read_text()
    if "[tune]" in text:                              # a sweep file: the arms come from its grid
        assert TuneConfig.load(EXPERIMENTS / name).tune.replicates >= 1
    else:
        assert ExperimentConfig.load(EXPERIMENTS / name).users >= 2


def test_train_and_evaluate_script(tmp_path):
    out = _run(EXPERIMENTS / "train_and_evaluate.py", "--planted", cwd=tmp_path)
    assert "ndcg" in out and "hybrid + mmr 1.0" in out


def test_segment_ab_script(tmp_path):
    out = _run(EXPERIMENTS / "segment_ab.py", EXPERIMENTS / "new_users_only.toml", "--users", "3000", "--days", "2",
               "--out", "res", cwd=tmp_path)
    assert "verdict:" in out
    table = pd.read_parquet(tmp_path / "res" / "users.parquet")
    assert set(table["segment"]) == {"new"}          # the file targets new users only
    assert set(table["arm"]) == {"popularity", "hybrid"}


def test_custom_model_script(tmp_path):
    out = _run(EXPERIMENTS / "custom_model.py", "--users", "1200", "--days", "2", "--out", "run", cwd=tmp_path)
    assert "mine" in out and "verdict:" in out
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000
