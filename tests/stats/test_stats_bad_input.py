"""Bad input: one line naming the problem, exit code 2, and no output file written."""

from __future__ import annotations

import pytest

from recsys.cli import main
from recsys.stats.synthetic import synthetic_table


@pytest.fixture()
def table():
    return synthetic_table(300, ("popularity", "hybrid"), seed=3)


def _run(capsys, tmp_path, df, *extra, control="popularity", suffix=".csv"):
    path = tmp_path / f"users{suffix}"
    if df is not None:
        if suffix == ".csv":
            df.to_csv(path, index=False)
        else:
            df.to_parquet(path, index=False)
    out = tmp_path / "out.json"
    argv = ["analyze", str(path), "--control", control, "--json", str(out), *extra]
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err, out


def _mutate(df, col, row, value):
    df = df.copy()
    if df[col].dtype.kind in "iuf" and isinstance(value, str):
        df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


CASES = [
    ("missing column", lambda d: d.drop(columns=["clicks"]), (), ["missing required column", "clicks"]),
    ("one arm", lambda d: d.assign(arm="popularity"), (), ["only one arm", "arm"]),
    ("negative count", lambda d: _mutate(d, "plays", 4, -2), (), ["plays", "negative", "row 5"]),
    ("clicks over impressions", lambda d: _mutate(d, "clicks", 2, 10_000), (), ["clicks", "impressions", "row 3"]),
    ("non-numeric", lambda d: _mutate(d, "impressions", 6, "lots"), (), ["impressions", "non-numeric", "row 7"]),
    ("empty count", lambda d: _mutate(d, "sessions", 1, None), (), ["sessions", "empty", "row 2"]),
    ("churn not binary", lambda d: _mutate(d, "churned", 0, 2), (), ["churned", "0 or 1", "row 1"]),
    ("duplicate user", lambda d: _mutate(d, "user_id", 9, 0), (), ["user_id", "duplicate", "row 10"]),
    ("empty arm", lambda d: _mutate(d, "arm", 3, None), (), ["arm", "empty", "row 4"]),
    ("alpha too big", None, ("--alpha", "1.5"), ["alpha", "(0, 1)"]),
    ("alpha zero", None, ("--alpha", "0"), ["alpha", "(0, 1)"]),
    ("shares off", None, ("--shares", "popularity=0.6", "--shares", "hybrid=0.6"), ["shares", "sum"]),
    ("shares unknown arm", None, ("--shares", "popularity=0.5", "--shares", "nope=0.5"), ["no share", "hybrid"]),
    ("unknown metric", None, ("--metrics", "ctr,nonsense"), ["unknown metric", "nonsense"]),
    ("unknown primary", None, ("--primary", "happiness"), ["unknown metric", "happiness"]),
    ("bad guardrail", None, ("--guardrail", "churn_rate"), ["--guardrail", "METRIC=MARGIN"]),
    ("bad margin", None, ("--guardrail", "churn_rate=lots"), ["churn_rate", "not a number"]),
    ("margin of the wrong sign", None, ("--guardrail", "churn_rate=-0.1"), ["churn_rate", "wrong sign", "positive"]),
    ("falling margin on a higher-is-better metric", None, ("--guardrail", "completion_rate=0.02"),
     ["completion_rate", "wrong sign", "negative"]),
    ("zero margin", None, ("--guardrail", "churn_rate=0"), ["churn_rate", "margin of 0"]),
    ("guardrail not in the table", lambda d: d.drop(columns=["early_abandons"]), (),
     ["missing required column", "early_abandons"]),
    ("post-period covariate", None, ("--covariate", "watch_minutes=sessions"), ["sessions", "pre-period"]),
    ("metric in two roles", None, ("--guardrail", "ctr=-0.05"), ["ctr", "two roles"]),
    ("composite as success", None, ("--primary", "engagement_efficiency"), ["composite", "success"]),
    ("bad correction", None, ("--correction", "bonferroni"), ["correction", "bonferroni"]),
]


@pytest.mark.parametrize("name,mutate,extra,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_output(capsys, tmp_path, table, name, mutate, extra, needles):
    df = mutate(table) if mutate else table
    rc, err, out = _run(capsys, tmp_path, df, *extra)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recsys: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists()


def test_unknown_control_arm(capsys, tmp_path, table):
    rc, err, out = _run(capsys, tmp_path, table, control="oracle")
    assert rc == 2 and "unknown control arm 'oracle'" in err and "hybrid" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_parquet_input_errors_the_same_way(capsys, tmp_path, table):
    rc, err, out = _run(capsys, tmp_path, table.drop(columns=["impressions"]), suffix=".parquet")
    assert rc == 2 and "impressions" in err and not out.exists()


def test_missing_and_unreadable_files(capsys, tmp_path):
    rc, err, out = _run(capsys, tmp_path, None)
    assert rc == 2 and "file not found" in err and not out.exists()
    bad = tmp_path / "users.parquet"
    bad.write_bytes(b"not parquet at all")
    rc = main(["analyze", str(bad), "--control", "a", "--json", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot read" in err and len(err.strip().splitlines()) == 1


def test_json_into_a_missing_directory_creates_it(capsys, tmp_path, table):
    """Like --out, --json creates its folder (when the work succeeds), and a path under a file
    is one line, exit 2."""
    path = tmp_path / "users.csv"
    table.to_csv(path, index=False)
    target = tmp_path / "nope" / "deeper" / "o.json"
    assert main(["analyze", str(path), "--control", "popularity", "--json", str(target)]) == 0
    assert target.is_file()
    rc = main(["analyze", str(path), "--control", "popularity", "--json", str(path / "o.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a directory" in err and len(err.strip().splitlines()) == 1


def test_unknown_role_in_a_config(capsys, tmp_path, table):
    path = tmp_path / "users.csv"
    table.to_csv(path, index=False)
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[experiment]\ncontrol = "popularity"\n\n[metrics]\nprimary = "ctr"\nguardrial = ["churn_rate"]\n')
    out = tmp_path / "o.json"
    rc = main(["analyze", str(path), "--config", str(cfg), "--json", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown role metrics.guardrial" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_empty_table(capsys, tmp_path, table):
    rc, err, out = _run(capsys, tmp_path, table.iloc[:0])
    assert rc == 2 and "no rows" in err and not out.exists()


def test_extra_columns_and_empty_time_to_first_play_are_fine(capsys, tmp_path, table):
    df = table.assign(country="NL", device=1.5)
    assert df.time_to_first_play_s.isna().any()
    rc, err, out = _run(capsys, tmp_path, df)
    assert rc == 0 and err == "" and out.exists()


@pytest.mark.parametrize("argv,needle", [
    (["power", "--metric", "watch_minutes", "--baseline", "180", "--mde", "5"], "--sd is required"),
    (["power", "--metric", "churn_rate", "--baseline", "0.1", "--mde", "0.01", "--alpha", "2"], "alpha"),
    (["power", "--metric", "churn_rate", "--baseline", "0.1"], "exactly one of --mde and --users"),
    (["power", "--metric", "churn_rate", "--baseline", "0.1", "--mde", "0.01", "--users", "10"],
     "exactly one of --mde and --users"),
    (["power", "--mde", "0.05"], "give --from users.parquet"),
    (["power", "--metric", "nope", "--baseline", "0.1", "--mde", "0.01"], "unknown metric"),
    (["power", "--metric", "churn_rate", "--baseline", "0.1", "--users", "-5"], "--users"),
])
def test_power_bad_arguments(capsys, tmp_path, argv, needle):
    out = tmp_path / "p.json"
    rc = main(argv + ["--json", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
