//! canary::normal: the standard normal distribution's tail and quantile, the two the rank
//! test needs. Pure arithmetic.

// AS 241's coefficients stay digit for digit as published, to be checked against the paper.
#![allow(clippy::excessive_precision)]

/// P(Z > z) for a standard normal Z, accurate far into the tail (no `1 − Φ` cancellation).
pub fn upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The `p` quantile of the standard normal: Wichura's algorithm AS 241 (Applied Statistics
/// 37(3), 1988), good to about 1 part in 10^16. `p` outside (0, 1) gives ∓∞ (NaN for NaN).
pub fn quantile(p: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * horner(&A, r) / horner(&B, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let z = if r <= 5.0 {
        horner(&C, r - 1.6) / horner(&D, r - 1.6)
    } else {
        horner(&E, r - 5.0) / horner(&F, r - 5.0)
    };
    if q < 0.0 { -z } else { z }
}

/// c[0] + c[1]·x + … + c[7]·x^7.
fn horner(c: &[f64; 8], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

#[rustfmt::skip]
const A: [f64; 8] = [
    3.387_132_872_796_366_608, 1.331_416_678_917_843_774_5e2, 1.971_590_950_306_551_442_7e3,
    1.373_169_376_550_946_112_5e4, 4.592_195_393_154_987_145_7e4, 6.726_577_092_700_870_085_3e4,
    3.343_057_558_358_812_810_5e4, 2.509_080_928_730_122_672_7e3,
];
#[rustfmt::skip]
const B: [f64; 8] = [
    1.0, 4.231_333_070_160_091_125_2e1, 6.871_870_074_920_579_083_0e2,
    5.394_196_021_424_751_107_7e3, 2.121_379_430_158_659_586_7e4, 3.930_789_580_009_271_061_0e4,
    2.872_908_573_572_194_267_4e4, 5.226_495_278_852_854_561_0e3,
];
#[rustfmt::skip]
const C: [f64; 8] = [
    1.423_437_110_749_683_577_34, 4.630_337_846_156_545_295_90, 5.769_497_221_460_691_405_50,
    3.647_848_324_763_204_605_04, 1.270_458_252_452_368_382_58, 2.417_807_251_774_506_117_70e-1,
    2.272_384_498_926_918_458_33e-2, 7.745_450_142_783_414_076_40e-4,
];
#[rustfmt::skip]
const D: [f64; 8] = [
    1.0, 2.053_191_626_637_758_821_87, 1.676_384_830_183_803_849_40,
    6.897_673_349_851_000_045_50e-1, 1.481_039_764_274_800_745_90e-1,
    1.519_866_656_361_645_719_66e-2, 5.475_938_084_995_344_946_00e-4,
    1.050_750_071_644_416_843_24e-9,
];
#[rustfmt::skip]
const E: [f64; 8] = [
    6.657_904_643_501_103_777_20, 5.463_784_911_164_114_369_90, 1.784_826_539_917_291_335_80,
    2.965_605_718_285_048_912_30e-1, 2.653_218_952_657_612_309_30e-2,
    1.242_660_947_388_078_438_60e-3, 2.711_555_568_743_487_578_15e-5,
    2.010_334_399_292_288_132_65e-7,
];
#[rustfmt::skip]
const F: [f64; 8] = [
    1.0, 5.998_322_065_558_879_376_90e-1, 1.369_298_809_227_358_053_10e-1,
    1.487_536_129_085_061_485_25e-2, 7.868_691_311_456_132_591_00e-4,
    1.846_318_317_510_054_681_80e-5, 1.421_511_758_316_445_888_70e-7,
    2.044_263_103_389_939_785_64e-15,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: `scipy.special.ndtri(p)`, SciPy 1.17.1 (NumPy 2.4.6).
    #[test]
    fn quantile_matches_scipy_ndtri() {
        let cases = [
            (0.5, 0.0),
            (0.9, 1.2815515655446004),
            (0.975, 1.959963984540054),
            (0.99, 2.3263478740408408),
            (0.995, 2.5758293035489004),
            (0.999, 3.090232306167813),
            (1e-3, -3.090232306167813),
            (0.08, -1.4050715603096329),
            (0.93, 1.475791028179171),
            (1e-8, -5.612001244174789),
            (1e-12, -7.034483825301131),
            (1e-15, -7.941345326170998),
            (1e-20, -9.262340089798409),
        ];
        for (p, want) in cases {
            let got = quantile(p);
            assert!(
                (got - want).abs() <= 1e-14 * want.abs().max(1.0),
                "quantile({p}) = {got}, scipy says {want}"
            );
        }
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0), f64::INFINITY);
    }

    /// Reference values: `scipy.stats.norm.sf(z)`, SciPy 1.17.1.
    #[test]
    fn upper_tail_matches_scipy_norm_sf() {
        let cases = [
            (0.0, 0.5),
            (1.0, 0.15865525393145707),
            (-1.0, 0.8413447460685429),
            (2.326347874040841, 0.009999999999999992),
            (5.0, 2.866515718791933e-07),
            (10.0, 7.61985302416047e-24),
        ];
        for (z, want) in cases {
            let got = upper_tail(z);
            assert!(
                (got - want).abs() <= 1e-13 * want,
                "upper_tail({z}) = {got}, scipy says {want}"
            );
        }
    }
}
