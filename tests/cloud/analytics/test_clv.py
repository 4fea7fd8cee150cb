"""BG/NBD and Gamma-Gamma: recovery of known parameters, hand-checked values, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cloud.analytics import clv
from cloud.cli import main
from tests.support.clv_simulation import simulate

TRUE_BG = (0.25, 4.0, 0.8, 2.5)
TRUE_GG = (6.0, 4.0, 15.0)


@pytest.fixture(scope="module")
def simulated() -> clv.Summary:
    return simulate(4000, 40.0, TRUE_BG, TRUE_GG, seed=11)


def test_bgnbd_fit_recovers_simulated_parameters(simulated: clv.Summary) -> None:
    fitted = clv.fit_bgnbd(simulated)
    got = (fitted.r, fitted.alpha, fitted.a, fitted.b)
    for value, true in zip(got, TRUE_BG, strict=True):
        assert value == pytest.approx(true, rel=0.3)


def test_gamma_gamma_fit_recovers_simulated_parameters(simulated: clv.Summary) -> None:
    fitted = clv.fit_gamma_gamma(simulated)
    assert fitted.p == pytest.approx(TRUE_GG[0], rel=0.3)
    assert fitted.q == pytest.approx(TRUE_GG[1], rel=0.3)
    assert fitted.v == pytest.approx(TRUE_GG[2], rel=0.3)
    # Spend is drawn independently of frequency, as the model assumes.
    assert abs(clv.spend_frequency_correlation(simulated)) < 0.1


def test_fit_maximises_the_likelihood(simulated: clv.Summary) -> None:
    fitted = clv.fit_bgnbd(simulated)
    args = (simulated.frequency, simulated.recency, simulated.T)
    best = clv.bgnbd_log_likelihood((fitted.r, fitted.alpha, fitted.a, fitted.b), *args).sum()
    assert best >= clv.bgnbd_log_likelihood(TRUE_BG, *args).sum()
    nudged = (fitted.r * 1.05, fitted.alpha, fitted.a, fitted.b)
    assert best > clv.bgnbd_log_likelihood(nudged, *args).sum()


# CDNOW (Fader, Hardie & Lee 2005) fitted parameters, weeks: r, alpha, a, b.
CDNOW = clv.BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_one_time_buyer_is_alive_and_repeat_buyer_long_silent_is_not() -> None:
    x, t_x, T = np.array([0.0, 2.0, 2.0]), np.array([0.0, 30.0, 2.0]), np.array([38.0] * 3)
    alive = clv.probability_alive(CDNOW, x, t_x, T)
    assert alive[0] == 1.0  # BG/NBD: no drop-out before a repeat purchase
    assert alive[1] > alive[2]  # a recent last purchase means more likely alive
    # By hand: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) for x=2, t_x=2, T=38.
    by_hand = 1 / (1 + 0.793 / 3.426 * ((4.414 + 38) / (4.414 + 2)) ** 2.243)
    assert alive[2] == pytest.approx(by_hand, rel=1e-12)


def test_expected_purchases_match_the_paper_example() -> None:
    # Fader, Hardie & Lee (2005) §5: x=2, t_x=30.43, T=38.86 expects 1.226 in 39 weeks.
    got = clv.expected_purchases(CDNOW, 39.0, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert got[0] == pytest.approx(1.226, abs=0.01)


def test_expected_spend_shrinks_toward_the_population_mean() -> None:
    gg = clv.GammaGamma(p=6.25, q=3.74, v=15.44)  # CDNOW spend model (Fader et al. 2005b)
    population = gg.p * gg.v / (gg.q - 1)
    spend = clv.expected_spend(gg, np.array([0.0, 1.0, 50.0]), np.array([0.0, 100.0, 100.0]))
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < 100.0


def test_clv_is_discounted_and_grows_with_the_horizon(simulated: clv.Summary) -> None:
    bg, gg = clv.fit_bgnbd(simulated), clv.fit_gamma_gamma(simulated)
    short = clv.clv(bg, gg, simulated, horizon=10, discount_rate=0.01)
    long = clv.clv(bg, gg, simulated, horizon=20, discount_rate=0.01)
    undiscounted = clv.clv(bg, gg, simulated, horizon=20, discount_rate=0.0)
    assert np.all(long >= short) and np.all(undiscounted >= long)
    assert np.any(undiscounted > long)
    spend = clv.expected_spend(gg, simulated.frequency, simulated.monetary)
    purchases = clv.expected_purchases(
        bg, 20.0, simulated.frequency, simulated.recency, simulated.T
    )
    assert undiscounted == pytest.approx(purchases * spend, rel=1e-9)


def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "purchases.csv"
    path.write_text("member_id,date,amount\n" + body)
    return path


def test_summary_counts_same_day_purchases_once_and_ignores_later_ones(tmp_path: Path) -> None:
    rows = clv.read_transactions(
        _csv(
            tmp_path,
            "a,2025-01-01,100\na,2025-01-01,50\na,2025-01-15,300\na,2025-01-15,100\n"
            "a,2025-03-01,999\nb,2025-01-08,70\n",
        )
    )
    s = clv.summarise(rows, dt.date(2025, 1, 29), "weeks")
    assert s.members == ("a", "b")
    assert list(s.frequency) == [1.0, 0.0]
    assert list(s.recency) == [2.0, 0.0]
    assert list(s.T) == [4.0, 3.0]
    assert list(s.monetary) == [400.0, 0.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,2025-01-01,100\nb,2025-13-01,5\n", "line 3: date '2025-13-01'"),
        ("a,2025-01-01,-5\n", "line 2: amount '-5'"),
        ("a,2025-01-01,12.5\n", "line 2: amount '12.5'"),
        ("a,2025-01-01\n", "line 2: expected 3 fields"),
        (",2025-01-01,5\n", "line 2: member_id is empty"),
    ],
)
def test_bad_rows_are_refused_naming_the_line(
    tmp_path: Path, body: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path, body)
    code = main(
        [
            "analytics",
            "clv-fit",
            "--transactions",
            str(path),
            "--observation-end",
            "2025-06-01",
            "--time-unit",
            "days",
            "--format",
            "json",
        ]
    )
    assert code == 1
    assert message in capsys.readouterr().err


def test_clv_fit_command_prints_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = simulate(600, 52.0, TRUE_BG, TRUE_GG, seed=3)
    start = dt.date(2024, 1, 1)
    lines = []
    for i, member in enumerate(s.members):  # first purchase and last purchase of each member
        first = start + dt.timedelta(days=i % 30)
        lines.append(f"{member},{first},{10_000}")
        for k in range(int(s.frequency[i])):
            offset = round(s.recency[i] * 7 * (k + 1) / s.frequency[i])
            day = first + dt.timedelta(days=max(offset, k + 1))
            lines.append(f"{member},{day},{round(s.monetary[i] * 10_000)}")
    path = _csv(tmp_path, "\n".join(lines) + "\n")
    code = main(
        [
            "analytics",
            "clv-fit",
            "--transactions",
            str(path),
            "--observation-end",
            "2025-02-01",
            "--time-unit",
            "weeks",
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert out.count("\n") == 1
    assert result["members"] == 600
    assert result["repeat_members"] == int(np.count_nonzero(s.frequency))
    assert set(result["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(result["gamma_gamma"]) == {"p", "q", "v"}
    assert all(v > 0 and math.isfinite(v) for v in result["bgnbd"].values())
    assert result["bgnbd"]["r"] == pytest.approx(TRUE_BG[0], rel=0.5)
    assert abs(result["spend_frequency_correlation"]) < 0.2


def test_likelihoods_per_distinct_frequency_are_the_same_bits(simulated: clv.Summary) -> None:
    s = simulated
    distinct = clv.distinct_of(s.frequency)
    assert len(distinct[0]) < len(s.frequency) / 10  # repeat counts are few
    for params in (TRUE_BG, (1.3, 0.7, 2.2, 0.4)):
        plain = clv.bgnbd_log_likelihood(params, s.frequency, s.recency, s.T)
        grouped = clv.bgnbd_log_likelihood(params, s.frequency, s.recency, s.T, distinct)
        assert np.array_equal(plain, grouped)
    repeat = (s.frequency > 0) & (s.monetary > 0)
    x, m = s.frequency[repeat], s.monetary[repeat]
    plain = clv.gamma_gamma_log_likelihood(TRUE_GG, x, m)
    grouped = clv.gamma_gamma_log_likelihood(TRUE_GG, x, m, clv.distinct_of(x))
    assert np.array_equal(plain, grouped) and np.isfinite(plain).all()


def test_a_random_sample_predicts_what_the_whole_does(simulated: clv.Summary) -> None:
    sample = clv.sample_of(simulated, 2000, seed=3)
    assert len(sample.members) == 2000 and len(set(sample.members)) == 2000
    at = [simulated.members.index(m) for m in sample.members[:5]]
    assert sample.T[:5].tolist() == simulated.T[at].tolist()  # rows kept whole
    assert clv.sample_of(simulated, 10_000) is simulated
    # a and b trade off against each other in a small sample; what the pass stores from
    # them, every member's expected purchases and P(alive), barely moves.
    s = simulated

    def predicted(fitted: clv.BGNBD) -> tuple[float, float]:
        expected = clv.expected_purchases(fitted, 10.0, s.frequency, s.recency, s.T)
        alive = clv.probability_alive(fitted, s.frequency, s.recency, s.T)
        return float(expected.mean()), float(alive.mean())

    whole, part = predicted(clv.fit_bgnbd(s)), predicted(clv.fit_bgnbd(sample))
    assert part == pytest.approx(whole, rel=0.05)
    assert part != whole  # fitted on other data
