"""Post-stratification: gbstats' own test cases, and the estimator's behaviour on tables.

Cases from GrowthBook's ``packages/stats/tests/frequentist/test_post_strat.py`` (commit
6199daa8b635, ``TestPostStratification.setUp``): five strata of a mean, a ratio, and both with a
pre-period covariate, with gbstats' published point estimates and standard errors (absolute and
relative). Sums are written as (n, sum, sum of squares) for a mean; (n, numerator sum, its sum of
squares, denominator sum, its sum of squares, their cross sum) for a ratio; (post, pre, cross)
with CUPED. The revenue case (``test_post_strat_dimension``'s cells) was run through gbstats'
``EffectMomentsPostStratification`` at that commit.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.core.errors import InputError
from recsys.stats.estimate import two_arm_effect
from recsys.stats.poststrat import poststratified_effect, poststratify
from recsys.stats.summary import CupedStats, MeanStats, RatioStats
from recsys.stats.synthetic import synthetic_table

COUNT = [((21, 330.0696210595999, 5377.811252605509), (42, 708.1220000911836, 12249.255519049513)),
         ((65, 1391.96628040659, 30546.63404187155), (75, 1807.4703052657744, 45000.287664918586)),
         ((102, 2916.824124651419, 86396.06886690554), (101, 3104.5399914554023, 98365.40553530994)),
         ((151, 5172.587929941052, 182453.04528037464), (121, 4613.696610070716, 180520.64781229294)),
         ((160, 6539.348445231273, 274981.98909352464), (162, 7431.953259880505, 349244.6690736718))]

RATIO = [((21, 330.0696210595999, 5377.811252605509, 890.9766550739607, 38220.95223835553,
           14263.937571840695),
          (42, 708.1220000911836, 12249.255519049513, 1745.9858250014954, 73194.53424221886,
           29826.620793423102)),
         ((65, 1391.96628040659, 30546.63404187155, 2769.8126179473184, 118719.96077578884,
           59924.702385890436),
          (75, 1807.4703052657744, 45000.287664918586, 3184.8395612061063, 136710.92474497214,
           78119.14871556411)),
         ((102, 2916.824124651419, 86396.06886690554, 4445.780384331884, 195387.7733842407,
           129041.55268673625),
          (101, 3104.5399914554023, 98365.40553530994, 4235.277718489282, 179690.4720421368,
           132444.36911739354)),
         ((151, 5172.587929941052, 182453.04528037464, 6510.170220892494, 283094.7243365024,
           226127.20135744457),
          (121, 4613.696610070716, 180520.64781229294, 5079.943060454901, 215529.32009367683,
           196562.8269130501)),
         ((160, 6539.348445231273, 274981.98909352464, 6906.305872710853, 300900.3106781779,
           286483.9732935189),
          (162, 7431.953259880505, 349244.6690736718, 6899.004661928157, 296839.44355002965,
           321057.8410309036))]

COUNT_CUPED = [(((21, 330.0696210595999, 5377.811252605509), (21, 104.90748970535698, 544.8528083123211),
                 1709.8485612477339),
                ((42, 708.1220000911836, 12249.255519049513), (42, 205.17072061676208, 1040.6742753852225),
                 3561.161673449451)),
               (((65, 1391.96628040659, 30546.63404187155), (65, 315.83926510817054, 1578.8689285910423),
                 6938.770455871619),
                ((75, 1807.4703052657744, 45000.287664918586), (75, 377.29540367369503, 1981.0803020754106),
                 9428.146405105292)),
               (((102, 2916.824124651419, 86396.06886690554), (102, 523.2717238353379, 2797.158898626946),
                 15535.162216800189),
                ((101, 3104.5399914554023, 98365.40553530994), (101, 501.0447878972627, 2596.899156698453),
                 15962.754636573465)),
               (((151, 5172.587929941052, 182453.04528037464), (151, 758.3911049329452, 3955.922281372593),
                 26846.415701194885),
                ((121, 4613.696610070716, 180520.64781229294), (121, 603.9456523430367, 3144.0820997706583),
                 23789.82730157116)),
               (((160, 6539.348445231273, 274981.98909352464), (160, 823.2824168385916, 4389.893995072177),
                 34727.84795433773),
                ((162, 7431.953259880505, 349244.6690736718), (162, 832.356528363269, 4439.253146704266),
                 39332.667494781235))]

RATIO_CUPED = [(((21, 330.0696210595999, 5377.811252605509, 890.9766550739607, 38220.95223835553,
                  14263.937571840695),
                 (21, 104.90748970535698, 544.8528083123211, 207.89392275808956, 2084.9576141182224,
                  1060.4394881503144),
                 ((1709.8485612477339, 3331.5604732242236), (4536.239751943664, 8924.759241535443))),
                ((42, 708.1220000911836, 12249.255519049513, 1745.9858250014954, 73194.53424221886,
                  29826.620793423102),
                 (42, 205.17072061676208, 1040.6742753852225, 412.711880878505, 4096.604057794132,
                  2052.459256425701),
                 ((3561.161673449451, 7054.607772583746), (8661.515319014929, 17309.48641894266)))),
               (((65, 1391.96628040659, 30546.63404187155, 2769.8126179473184, 118719.96077578884,
                  59924.702385890436),
                 (65, 315.83926510817054, 1578.8689285910423, 642.2456105047289, 6391.278897716863,
                  3159.649493130578),
                 ((6938.770455871619, 13907.522729117181), (13603.664018221429, 27539.520078090354))),
                ((75, 1807.4703052657744, 45000.287664918586, 3184.8395612061063, 136710.92474497214,
                  78119.14871556411),
                 (75, 377.29540367369503, 1981.0803020754106, 758.076359391088, 7750.7726864492015,
                  3894.390731281282),
                 ((9428.146405105292, 18589.628595670973), (16346.199623884253, 32540.687226429243)))),
               (((102, 2916.824124651419, 86396.06886690554, 4445.780384331884, 195387.7733842407,
                  129041.55268673625),
                 (102, 523.2717238353379, 2797.158898626946, 1036.3070573097948, 10619.969725470164,
                  5404.918238379167),
                 ((15535.162216800189, 30084.67030990572), (23168.39181193194, 45542.18577719637))),
                ((101, 3104.5399914554023, 98365.40553530994, 4235.277718489282, 179690.4720421368,
                  132444.36911739354),
                 (101, 501.0447878972627, 2596.899156698453, 1010.378433449463, 10223.916200184585,
                  5115.7607599471585),
                 ((15962.754636573465, 31588.028767759377), (21431.70320453045, 42848.21621273023)))),
               (((151, 5172.587929941052, 182453.04528037464, 6510.170220892494, 283094.7243365024,
                  226127.20135744457),
                 (151, 758.3911049329452, 3955.922281372593, 1512.006054112595, 15285.151021409667,
                  7722.607914963395),
                 ((26846.415701194885, 52549.76208497923), (33204.9846415661, 65760.83670959483))),
                ((121, 4613.696610070716, 180520.64781229294, 5079.943060454901, 215529.32009367683,
                  196562.8269130501),
                 (121, 603.9456523430367, 3144.0820997706583, 1204.8449120624373, 12136.926835557133,
                  6133.9761958037225),
                 ((23789.82730157116, 46652.31675719776), (25819.033228132084, 51127.544981001134)))),
               (((160, 6539.348445231273, 274981.98909352464, 6906.305872710853, 300900.3106781779,
                  286483.9732935189),
                 (160, 823.2824168385916, 4389.893995072177, 1614.6469506831402, 16462.430726309674,
                  8454.545756182042),
                 ((34727.84795433773, 67017.16816048721), (36121.28274124097, 70363.18868076446))),
                ((162, 7431.953259880505, 349244.6690736718, 6899.004661928157, 296839.44355002965,
                  321057.8410309036),
                 (162, 832.356528363269, 4439.253146704266, 1645.0526462449084, 16880.972871039336,
                  8606.62830914991),
                 ((39332.667494781235, 76550.57235527673), (36071.28512692181, 70764.05432525955))))]

REVENUE = [((175, 188.0319661707135, 501.8913204449768), (175, 299.63429043852784, 861.0349484333065)),
           ((175, 1223.848778242483, 8902.145582035047), (175, 1403.4670379247032, 11598.22989980456)),
           ((175, 506.41423076347513, 1748.2322349152037), (175, 662.4820101138217, 2854.4018208604734)),
           ((175, 1916.9226474898192, 21236.13825459178), (175, 2089.9655982163963, 25337.209946187293))]


def _count(cells):
    return [(MeanStats(*a), MeanStats(*b)) for a, b in cells]


def _ratio(cells):
    return [(RatioStats(*a), RatioStats(*b)) for a, b in cells]


def _count_cuped(cells):
    return [tuple(CupedStats(MeanStats(*post), MeanStats(*pre), ((cross,),)) for post, pre, cross in pair)
            for pair in cells]


def _ratio_cuped(cells):
    return [tuple(CupedStats(RatioStats(*post), RatioStats(*pre), cross) for post, pre, cross in pair)
            for pair in cells]


# (cells, kind, (absolute estimate, relative estimate), (absolute se, relative se)), from gbstats
GBSTATS = {
    "mean": (_count(COUNT), "mean", (3.548094377986586, 0.10994584851937336),
             (0.37634374823059685, 0.012225394656480164)),
    "mean+cuped": (_count_cuped(COUNT_CUPED), "mean", (3.7116918650826394, 0.11529547657147865),
                   (0.07390409644392272, 0.002206093195330933)),
    "ratio": (_ratio(RATIO), "ratio", (0.10008903417216031, 0.13371299783026003),
              (0.005071004003792392, 0.007131233706378072)),
    "ratio+cuped": (_ratio_cuped(RATIO_CUPED), "ratio", (0.10399412678968833, 0.13929489348144797),
                    (0.0012269621176865127, 0.0012316128268122996)),
}


@pytest.mark.parametrize("name", list(GBSTATS))
def test_matches_gbstats_published_cases(name):
    """Agreement to 1e-9 relative (gbstats' test asserts 5 decimals)."""
    cells, kind, (est_abs, est_rel), (se_abs, se_rel) = GBSTATS[name]
    eff, merged = poststratified_effect(kind, cells)
    assert merged == []
    assert eff.diff == pytest.approx(est_abs, rel=1e-9)
    assert eff.se == pytest.approx(se_abs, rel=1e-9)
    assert eff.rel_lift == pytest.approx(est_rel, rel=1e-9)
    assert eff.rel_se == pytest.approx(se_rel, rel=1e-9)


@pytest.mark.parametrize("cells, expected", [
    (REVENUE[::2], (0.764771724623317, 0.10251128023553648, 0.385443976509425, 0.06163458654126477)),
    (REVENUE[1::2], (1.0076034583108497, 0.10338811014731325, 0.1122849015752781, 0.012158670479901155)),
    (REVENUE, (0.8861875914670834, 0.07286937518649385, 0.1617460533036621, 0.014499726704934853)),
])
def test_matches_gbstats_revenue_cells(cells, expected):
    eff, _ = poststratified_effect("mean", _count(cells))
    np.testing.assert_allclose((eff.diff, eff.se, eff.rel_lift, eff.rel_se), expected, rtol=1e-9)


def test_one_cell_is_the_unstratified_test():
    a, b = MeanStats(*COUNT[0][0]), MeanStats(*COUNT[0][1])
    eff, _ = poststratified_effect("mean", [(a, b)])
    ref = two_arm_effect("mean", a, b)
    assert (eff.diff, eff.se, eff.rel_se) == pytest.approx((ref.diff, ref.se, ref.rel_se), rel=1e-12)


def test_cell_without_one_arm_joins_the_largest():
    """gbstats' combine_cells_for_analysis: a cell with one user in an arm pools into the largest."""
    cells = _count(COUNT) + [(MeanStats(1, 5.0, 25.0), MeanStats(3, 12.0, 50.0))]
    eff, merged = poststratified_effect("mean", cells)
    assert merged == [5]
    assert eff.n_control == sum(c[0][0] for c in COUNT) + 1


@pytest.fixture(scope="module")
def table():
    return synthetic_table(20000, ("A", "B"), seed=31, effects={"B": {"watch_minutes": 1.03}})


def test_segments_remove_variance_on_watch_minutes(table):
    res = poststratify(table, "A", "B", "watch_minutes", "mean", by="segment",
                       cuped_covariate="pre_watch_minutes")
    assert res.cells == ("low_engagement", "new", "power", "regular") and res.merged == ()
    assert res.variance_reduction > 0.08         # segments carry part of the activity (12% here)
    assert res.effect.n_control + res.effect.n_treatment == len(table)
    d = res.to_dict()
    assert d["by"] == "segment" and d["variance_reduction"] == pytest.approx(res.variance_reduction)
    assert res.variance_reduction_vs_cuped is not None


def test_cuped_within_segments_beats_plain_cuped(table):
    res = poststratify(table, "A", "B", "watch_minutes", "mean", covariate="pre_watch_minutes")
    assert res.effect.method == "poststrat+cuped"
    assert res.variance_reduction == pytest.approx(res.variance_reduction_vs_cuped)
    assert res.variance_reduction > 0.0


def test_ratio_and_proportion_from_a_table(table):
    ratio = poststratify(table, "A", "B", ("clicks", "impressions"), "ratio",
                         covariate=("pre_clicks", "pre_impressions"))
    assert np.isfinite(ratio.effect.se) and ratio.effect.se > 0
    prop = poststratify(table, "A", "B", "churned", "proportion")
    assert prop.variance_reduction > 0.0         # churn depends on activity, so on segment


def test_a_label_that_explains_nothing_changes_little(table):
    rng = np.random.default_rng(0)
    df = table.assign(coin=rng.choice(["h", "t"], size=len(table)))
    res = poststratify(df, "A", "B", "watch_minutes", "mean", by="coin")
    assert abs(res.variance_reduction) < 0.01


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "watch_minutes", "kind": "mean", "by": "country"}, "column 'country' is not in the table"),
    ({"metric": "watch_minutes", "kind": "ratio"}, "a ratio metric takes two columns, got ('watch_minutes',)"),
    ({"metric": "watch_minutes", "kind": "mean", "covariate": ("pre_clicks", "pre_impressions")},
     "the covariate of watch_minutes must have 1 column(s), got ('pre_clicks', 'pre_impressions')"),
])
def test_bad_input(table, kwargs, message):
    with pytest.raises(InputError) as err:
        poststratify(table.head(500), "A", "B", **kwargs)
    assert str(err.value) == message
    with pytest.raises(InputError, match="arm 'C' is not in the table"):
        poststratify(table.head(500), "A", "C", "watch_minutes", "mean")
