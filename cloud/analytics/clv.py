"""Customer lifetime value: BG/NBD and Gamma-Gamma, fitted by maximum likelihood.

BG/NBD (Fader, Hardie & Lee 2005) models when a member buys and when they silently leave;
Gamma-Gamma (Fader, Hardie & Lee 2005b) models how much they spend per purchase. Both
log-likelihoods are in closed form, vectorised over members, and maximised with scipy on
log-parameters so every parameter stays positive.

Summary statistics per member (the models' only inputs), in the chosen time unit:
``frequency`` x = repeat purchase days, ``recency`` t_x = first purchase to last,
``T`` = first purchase to the end of observation, ``monetary`` = mean repeat spend.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from cloud.analytics.arrays import distinct_rows
from common.errors import VafaError

Array = npt.NDArray[np.float64]
UNIT_DAYS = {"days": 1.0, "weeks": 7.0}


class AnalyticsError(VafaError):
    """Analytics input that cannot be used (a bad row, too little data)."""

    fa = "داده‌ی تحلیل قابل استفاده نیست (جزئیات در پیام انگلیسی بالا)"


@dataclass(frozen=True)
class Summary:
    """Per-member RFM summary in model units (arrays aligned with ``members``)."""

    members: tuple[str, ...]
    frequency: Array
    recency: Array
    T: Array
    monetary: Array


def sample_of(s: Summary, n: int, seed: int = 0) -> Summary:
    """Return ``n`` members drawn at random without replacement (all if there are fewer).

    The analytics pass fits on a sample of a large chain: a million members' fit takes
    minutes, and the parameters of two hundred thousand differ from theirs by less than
    the models' own error; every member's predictions still come from the fitted models.
    """
    if len(s.members) <= n:
        return s
    pick = np.sort(np.random.default_rng(seed).choice(len(s.members), n, replace=False))
    return Summary(
        tuple(s.members[i] for i in pick.tolist()),
        s.frequency[pick],
        s.recency[pick],
        s.T[pick],
        s.monetary[pick],
    )


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD parameters."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma parameters."""

    p: float
    q: float
    v: float


def read_transactions(path: Path) -> list[tuple[str, dt.date, int]]:
    """Read ``member_id,date,amount`` rows; raise naming the line of a bad row."""
    rows: list[tuple[str, dt.date, int]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["member_id", "date", "amount"]:
            raise AnalyticsError(f"{path}: line 1 must be the header member_id,date,amount")
        for row in reader:
            rows.append(_parse_row(path, reader.line_num, row))
    return rows


def _parse_row(path: Path, line: int, row: list[str]) -> tuple[str, dt.date, int]:
    if len(row) != 3:
        raise AnalyticsError(f"{path}: line {line}: expected 3 fields, got {len(row)}")
    member, date, amount = (field.strip() for field in row)
    if not member:
        raise AnalyticsError(f"{path}: line {line}: member_id is empty")
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise AnalyticsError(f"{path}: line {line}: date {date!r} is not YYYY-MM-DD") from None
    if not amount.lstrip("-").isdigit() or int(amount) < 0:
        raise AnalyticsError(
            f"{path}: line {line}: amount {amount!r} is not a whole number of Rials >= 0"
        )
    return member, day, int(amount)


def summarise(
    rows: Iterable[tuple[str, dt.date, int]], observation_end: dt.date, unit: str = "days"
) -> Summary:
    """Reduce purchases up to ``observation_end`` to per-member frequency, recency, T, spend."""
    if unit not in UNIT_DAYS:
        raise AnalyticsError(f"time unit must be one of {sorted(UNIT_DAYS)}, not {unit!r}")
    daily: dict[str, dict[dt.date, int]] = {}
    for member, day, amount in rows:
        if day <= observation_end:  # same-day purchases are one purchase of their sum
            days = daily.setdefault(member, {})
            days[day] = days.get(day, 0) + amount
    members = tuple(sorted(daily))
    freq, rec, age, spend = (np.zeros(len(members)) for _ in range(4))
    for i, member in enumerate(members):
        when = sorted(daily[member])
        freq[i] = len(when) - 1
        rec[i] = (when[-1] - when[0]).days
        age[i] = (observation_end - when[0]).days
        repeat = [daily[member][d] for d in when[1:]]
        spend[i] = sum(repeat) / len(repeat) if repeat else 0.0
    scale = UNIT_DAYS[unit]
    return Summary(members, freq, rec / scale, age / scale, spend)


Distinct = tuple[Array, npt.NDArray[np.intp]]


def distinct_of(x: Array) -> Distinct:
    """Return the distinct values of ``x`` and each element's index into them."""
    values, index = np.unique(x, return_inverse=True)
    return values, index.ravel()


def bgnbd_log_likelihood(
    params: tuple[float, float, float, float],
    x: Array,
    t_x: Array,
    T: Array,
    distinct: Distinct | None = None,
) -> Array:
    """Return each member's BG/NBD log-likelihood.

    With ``distinct`` (``distinct_of(x)``), the terms that depend on ``x`` alone are
    computed once per distinct value (repeat counts are few): the same bits, a fraction of
    the special-function work.
    """
    r, alpha, a, b = params
    ux, at = distinct if distinct is not None else (x, np.arange(len(x)))
    a1 = (special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha))[at]
    a2 = (special.betaln(a, b + ux) - special.betaln(a, b))[at]
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where(
            x > 0,
            (np.log(a) - np.log(np.maximum(b + ux - 1, 1e-300)))[at]
            - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    # log(exp(a2 + a3) + exp(a2 + a4)) without overflow; a4 = -inf when x = 0.
    return a1 + np.logaddexp(a2 + a3, a2 + a4)  # type: ignore[no-any-return]


def gamma_gamma_log_likelihood(
    params: tuple[float, float, float], x: Array, m: Array, distinct: Distinct | None = None
) -> Array:
    """Return each repeat member's Gamma-Gamma log-likelihood of mean spend ``m`` over ``x``
    (``distinct`` as for ``bgnbd_log_likelihood``)."""
    p, q, v = params
    ux, at = distinct if distinct is not None else (x, np.arange(len(x)))
    per_x = (
        special.gammaln(p * ux + q) - special.gammaln(p * ux) - special.gammaln(q) + q * np.log(v)
    )
    return (  # type: ignore[no-any-return]
        per_x[at]
        + (p * x - 1) * np.log(m)
        + (p * ux * np.log(ux))[at]
        - (p * x + q) * np.log(x * m + v)
    )


def _fit(negative_ll: object, start: Array) -> Array:
    result = optimize.minimize(
        negative_ll, start, method="L-BFGS-B", bounds=[(-12, 12)] * len(start)
    )
    if not np.all(np.isfinite(result.x)):
        raise AnalyticsError(f"the model fit did not converge: {result.message}")
    return np.exp(result.x)  # type: ignore[no-any-return]


def fit_bgnbd(s: Summary, penalizer: float = 0.0) -> BGNBD:
    """Fit BG/NBD to the summary by maximum likelihood."""
    if len(s.members) < 2 or not np.any(s.frequency > 0):
        raise AnalyticsError("BG/NBD needs at least two members and one repeat purchase")
    scale = float(np.max(s.T)) or 1.0  # fit on T in [0, 1]; alpha scales back linearly
    # Members with the same (x, t_x, T) share a likelihood term: fit on distinct rows with
    # counts as weights (with whole days, a million members have far fewer distinct rows).
    rows, which = distinct_rows(np.column_stack((s.frequency, s.recency, s.T)))
    counts = np.bincount(which, minlength=len(rows))
    x, t_x, T = rows[:, 0], rows[:, 1] / scale, rows[:, 2] / scale
    weights = counts / counts.sum()
    distinct = distinct_of(x)

    def negative_ll(log_params: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood((r, alpha, a, b), x, t_x, T, distinct)
        return float(-(weights @ ll) + penalizer * np.sum(np.exp(log_params) ** 2))

    r, alpha, a, b = _fit(negative_ll, np.zeros(4))
    return BGNBD(float(r), float(alpha * scale), float(a), float(b))


def fit_gamma_gamma(s: Summary, penalizer: float = 0.0) -> GammaGamma:
    """Fit Gamma-Gamma to repeat members' mean spend by maximum likelihood."""
    repeat = (s.frequency > 0) & (s.monetary > 0)
    if np.count_nonzero(repeat) < 2:
        raise AnalyticsError("Gamma-Gamma needs at least two members with repeat purchases")
    x = s.frequency[repeat]
    scale = float(np.mean(s.monetary[repeat]))  # fit on spend near 1; v scales back linearly
    m = s.monetary[repeat] / scale

    distinct = distinct_of(x)

    def negative_ll(log_params: Array) -> float:
        p, q, v = np.exp(log_params)
        ll = gamma_gamma_log_likelihood((p, q, v), x, m, distinct)
        return float(-ll.mean() + penalizer * np.sum(np.exp(log_params) ** 2))

    p, q, v = _fit(negative_ll, np.zeros(3))
    return GammaGamma(float(p), float(q), float(v * scale))


def probability_alive(m: BGNBD, x: Array, t_x: Array, T: Array) -> Array:
    """Return P(alive) at T for members with history (x, t_x, T)."""
    log_ratio = (
        np.log(m.a)
        - np.log(np.maximum(m.b + x - 1, 1e-300))
        + (m.r + x) * np.log((m.alpha + T) / (m.alpha + t_x))
    )
    return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def expected_purchases(m: BGNBD, t: float, x: Array, t_x: Array, T: Array) -> Array:
    """Return each member's expected number of purchases in the next ``t`` units."""
    return _Expected(m, x, t_x, T).at(t)


class _Expected:
    """Expected purchases of fixed members at any horizon: what does not depend on the
    horizon is computed once (the CLV evaluates 52 horizons over every member)."""

    def __init__(self, m: BGNBD, x: Array, t_x: Array, T: Array) -> None:
        r, alpha, a, b = m.r, m.alpha, m.a, m.b
        self.rx, self.bx, self.abx = r + x, b + x, a + b + x - 1
        self.age = alpha + T
        self.scale = (a + b + x - 1) / (a - 1)
        log_tail = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * np.log((alpha + T) / (alpha + t_x))
        )
        self.tail = np.where(x > 0, np.exp(log_tail), 0.0)

    def at(self, t: float) -> Array:
        """Return the expected purchases in the next ``t`` units."""
        z = t / (self.age + t)
        hyp = special.hyp2f1(self.rx, self.bx, self.abx, z)
        first = self.scale * (1 - (self.age / (self.age + t)) ** self.rx * hyp)
        return first / (1 + self.tail)  # type: ignore[no-any-return]


def expected_spend(g: GammaGamma, x: Array, m: Array) -> Array:
    """Return each member's expected spend per purchase (population mean when x = 0)."""
    p, q, v = g.p, g.q, g.v
    return (p * (v + x * m)) / (p * x + q - 1)


def clv(
    bg: BGNBD,
    gg: GammaGamma,
    s: Summary,
    horizon: int,
    discount_rate: float,
) -> Array:
    """Return each member's discounted value over ``horizon`` periods (Rials, not rounded).

    ``discount_rate`` is per period of the model's time unit; purchases expected in each
    period are valued at expected spend and discounted to the observation end.
    """
    spend = expected_spend(gg, s.frequency, s.monetary)
    # Purchases expected per period depend on the history (x, t_x, T) alone, which members
    # share (with whole days, most do): they are summed once per distinct history, over
    # every period (a hypergeometric function each), and then scaled by each one's spend.
    rows, which = distinct_rows(np.column_stack((s.frequency, s.recency, s.T)))
    expected = _Expected(bg, rows[:, 0], rows[:, 1], rows[:, 2])
    discounted = np.zeros(len(rows))
    previous = np.zeros(len(rows))
    for period in range(1, horizon + 1):
        cumulative = expected.at(float(period))
        discounted += (cumulative - previous) / (1 + discount_rate) ** period
        previous = cumulative
    return discounted[which] * spend


def spend_frequency_correlation(s: Summary) -> float:
    """Return Pearson's r of repeat frequency and mean spend (Gamma-Gamma assumes near 0)."""
    repeat = s.frequency > 0
    x, m = s.frequency[repeat], s.monetary[repeat]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return math.nan  # undefined: fewer than three repeat members or no variation
    return float(np.corrcoef(x, m)[0, 1])


def fit_file(path: Path, observation_end: dt.date, unit: str) -> dict[str, object]:
    """Fit both models to a purchases CSV and return the parameters as plain data."""
    try:
        rows = read_transactions(path)
    except OSError as exc:
        raise AnalyticsError(f"cannot read {path}: {exc}") from exc
    s = summarise(rows, observation_end, unit)
    bg = fit_bgnbd(s)
    gg = fit_gamma_gamma(s)
    corr = spend_frequency_correlation(s)
    return {
        "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b},
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
        "members": len(s.members),
        "repeat_members": int(np.count_nonzero(s.frequency > 0)),
        "spend_frequency_correlation": None if math.isnan(corr) else round(corr, 4),
        "time_unit": unit,
        "observation_end": observation_end.isoformat(),
    }
