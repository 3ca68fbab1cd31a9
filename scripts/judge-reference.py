#!/usr/bin/env python3
"""Reference values for the canary judge's tests, computed independently of shipdeck.

    pip install scipy
    python3 scripts/judge-reference.py --generate   # (re)writes fixtures/judge/*.txt
    python3 scripts/judge-reference.py              # prints the values the tests pin

U and the p-value come from SciPy's `mannwhitneyu` (asymptotic, tie and continuity
corrected). The Hodges-Lehmann estimate is the median of every pairwise difference. The
confidence interval is R's `wilcox.test(exact = FALSE, correct = TRUE, conf.int = TRUE)`
(the algorithm Kayenta's MannWhitney ports) written out again here: ranks recomputed at
each trial shift, and SciPy's `brentq` finding where the corrected statistic crosses the
normal quantile. shipdeck reads the same interval off in closed form instead, so the two
agree only if both are right.
"""

import pathlib
import sys

import numpy as np
import scipy
from scipy import optimize, stats

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "judge"


def generate():
    rng = np.random.default_rng(20240615)
    sets = {
        # R's own wilcox.test example (Hollander & Wolfe): ties within the baseline.
        "depression-canary": [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30],
        "depression-baseline": [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29],
        # Small, no ties anywhere.
        "small-canary": rng.normal(10.0, 2.0, 7).round(6),
        "small-baseline": rng.normal(9.0, 2.0, 10).round(6),
        # Whole numbers: heavy ties within and across the arms.
        "ties-canary": rng.integers(1, 9, 30),
        "ties-baseline": rng.integers(1, 8, 25),
        # One hour of 15 s p95 latencies (ms, to 0.1 ms), canary 15% slower.
        "p95-canary": (rng.lognormal(np.log(320.0), 0.25, 240) * 1.15).round(1),
        "p95-baseline": rng.lognormal(np.log(320.0), 0.25, 240).round(1),
        # Unequal sizes, no shift, no ties.
        "null-canary": rng.normal(100.0, 15.0, 60),
        "null-baseline": rng.normal(100.0, 15.0, 400),
    }
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, values in sets.items():
        text = "".join(f"{float(v)!r}\n" for v in values)
        (FIXTURES / f"{name}.txt").write_text(text)


def load(name):
    return np.array([float(line) for line in (FIXTURES / f"{name}.txt").read_text().split()])


def r_interval(x, y, conf_level):
    """R's asymptotic wilcox.test interval, with its continuity correction."""
    nx, ny = len(x), len(y)

    def wdiff(d, zq):
        dr = stats.rankdata(np.concatenate([x - d, y]))
        _, ties = np.unique(dr, return_counts=True)
        dz = dr[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
        correction = np.sign(dz) * 0.5
        sigma = np.sqrt(
            (nx * ny / 12)
            * ((nx + ny + 1) - (ties**3 - ties).sum() / ((nx + ny) * (nx + ny - 1)))
        )
        return (dz - correction) / sigma - zq

    mumin, mumax = x.min() - y.max(), x.max() - y.min()

    def root(zq):
        lo, hi = wdiff(mumin, zq), wdiff(mumax, zq)
        if lo <= 0:
            return mumin
        if hi >= 0:
            return mumax
        return optimize.brentq(wdiff, mumin, mumax, args=(zq,), xtol=1e-12, rtol=1e-15)

    alpha = 1 - conf_level
    return root(stats.norm.isf(alpha / 2)), root(stats.norm.ppf(alpha / 2))


def main():
    if "--generate" in sys.argv:
        generate()
    print(f"scipy {scipy.__version__}, numpy {np.__version__}")
    for name in ["depression", "small", "ties", "p95", "null"]:
        x, y = load(f"{name}-canary"), load(f"{name}-baseline")
        res = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
        hl = float(np.median(np.subtract.outer(x, y)))
        print(f"{name}: n_canary={len(x)} n_baseline={len(y)}")
        print(f"  u={float(res.statistic)!r} p={float(res.pvalue)!r} hl={hl!r}")
        for conf in [0.98, 0.95]:
            lo, hi = r_interval(x, y, conf)
            print(f"  conf={conf}: ci=({float(lo)!r}, {float(hi)!r})")
    if len(sys.argv) > 1 and sys.argv[1] == "--exact-small":
        x, y = load("small-canary"), load("small-baseline")
        print(stats.mannwhitneyu(x, y, method="exact"))


if __name__ == "__main__":
    main()
