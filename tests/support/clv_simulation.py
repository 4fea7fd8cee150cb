"""Draw member histories from the BG/NBD and Gamma-Gamma models (seeded)."""

from __future__ import annotations

import numpy as np

from cloud.analytics.clv import Summary


def simulate(
    n: int,
    T: float,
    bg: tuple[float, float, float, float],
    gg: tuple[float, float, float] = (6.0, 4.0, 15.0),
    seed: int = 7,
) -> Summary:
    """Return a summary of ``n`` members observed for ``T`` units after their first purchase."""
    r, alpha, a, b = bg
    p, q, v = gg
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    nu = rng.gamma(q, 1 / v, n)  # Gamma-Gamma: spend per purchase ~ Gamma(p, nu)
    freq, rec, spend = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, last, count = 0.0, 0.0, 0
        while True:
            if count and rng.random() < drop[i]:
                break  # left after the previous purchase
            t += rng.exponential(1 / rate[i])
            if t > T:
                break
            count, last = count + 1, t
        freq[i], rec[i] = count, last
        if count:
            spend[i] = rng.gamma(p, 1 / nu[i], count).mean()
    members = tuple(f"m{i}" for i in range(n))
    return Summary(members, freq, rec, np.full(n, T), spend)
