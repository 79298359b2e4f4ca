//! Number formatting for console and report text, so that the same quantity
//! prints the same way everywhere. Bottom layer: imports nothing from the crate.
//!
//! | function | for | example |
//! |---|---|---|
//! | [`si`] | counts: parameters, tokens, tok/s, GPU-hours, kWh | `1.23M`, `70.554B` |
//! | [`sci`] | FLOPs and other wide-ranging values | `3.142e23` |
//! | [`compact`] | report-table values of any size | `406.4`, `1.234e7` |
//! | [`param`], [`param_interval`] | fitted law parameters and their intervals | `0.3382`, `[0.3288, 0.3478]` |
//! | [`percent`] | fractions | `41.2%` |
//! | [`usd`], [`gigabytes`] | money, memory | `$13.33M`, `1.5 GB` |
//! | [`model_size`] | a model size as a label | `125M`, `1.3B` |
//! | [`budget_tag`] | a budget inside a run name (file-name safe; names are stable) | `3e12` |
//! | [`axis_tick`], [`log_axis_tick`] | chart axis labels | `0.25`, `1e18` |

/// Shown for a missing or non-finite value.
pub const DASH: &str = "–";

/// `f(v)`, or [`DASH`] when there is no value.
pub fn or_dash<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map_or_else(|| DASH.to_string(), f)
}

/// `x` with `decimals` digits after the point, or [`DASH`].
pub fn fixed_or_dash(v: Option<f64>, decimals: usize) -> String {
    or_dash(v, |x| format!("{x:.decimals$}"))
}

/// `1234567` → `1.235M` (decimals 3): k, M, B, T, P, E; plain below 1000. "B" (billion), not
/// "G", as model and token counts are quoted ("a 70B model").
pub fn si(x: f64, decimals: usize) -> String {
    const UNITS: [(f64, &str); 6] = [
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "B"),
        (1e6, "M"),
        (1e3, "k"),
    ];
    UNITS
        .iter()
        .find(|(s, _)| x.abs() >= *s)
        .map(|(s, u)| format!("{:.decimals$}{u}", x / s))
        .unwrap_or_else(|| format!("{x:.decimals$}"))
}

/// Scientific notation with `decimals` digits after the point: `3.142e23`.
pub fn sci(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$e}")
}

/// A value of unknown range in a table: 4 digits (3 decimals below 10, fewer above),
/// [`sci`] outside [0.01, 1e5), [`DASH`] if not finite.
pub fn compact(x: f64) -> String {
    if !x.is_finite() {
        DASH.into()
    } else if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-2) {
        sci(x, 3)
    } else {
        let decimals = (3 - x.abs().max(1.0).log10().floor() as i64).max(0) as usize;
        format!("{x:.decimals$}")
    }
}

/// A fitted law parameter (E, A, B, α, β) or interval end: 4 decimals, [`sci`] outside
/// [1e-3, 1e5).
pub fn param(x: f64) -> String {
    if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) {
        sci(x, 3)
    } else {
        format!("{x:.4}")
    }
}

/// A fitted parameter's interval, `[0.3288, 0.3478]`, or [`DASH`].
pub fn param_interval(ci: Option<&[f64; 2]>) -> String {
    or_dash(ci, |[lo, hi]| format!("[{}, {}]", param(*lo), param(*hi)))
}

/// A fraction as a percentage: `percent(0.4123, 1)` → `41.2%`.
pub fn percent(frac: f64, decimals: usize) -> String {
    format!("{:.decimals$}%", frac * 100.0)
}

/// An MFU with what it is measured against: `mfu 12.3% of measured peak,
/// 4.1% of vendor peak`; `None` when neither peak is known.
pub fn mfu(measured: Option<f64>, vendor: Option<f64>) -> Option<String> {
    let parts: Vec<String> = [(measured, "measured"), (vendor, "vendor")]
        .into_iter()
        .filter_map(|(m, what)| m.map(|m| format!("{} of {what} peak", percent(m, 1))))
        .collect();
    (!parts.is_empty()).then(|| format!("mfu {}", parts.join(", ")))
}

/// US dollars: `$13.33M`, `$4.6k`, `$12.50`.
pub fn usd(v: f64) -> String {
    if v >= 1e6 {
        format!("${:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("${:.1}k", v / 1e3)
    } else {
        format!("${v:.2}")
    }
}

/// Bytes in binary units: `812.4 MiB` below a GiB, `2.05 GiB` from there.
pub fn bytes(b: f64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    if b < GIB {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.2} GiB", b / GIB)
    }
}

/// Bytes in decimal gigabytes: `1.5 GB`.
pub fn gigabytes(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// A parameter count as a size label: whole millions below 1e9 (`125M`), else billions to
/// one decimal without trailing zeros (`1.3B`, `7B`).
pub fn model_size(n: f64) -> String {
    if n >= 1e9 {
        format!("{}B", (n / 1e9 * 10.0).round() / 10.0)
    } else {
        format!("{}M", (n / 1e6).round())
    }
}

/// A budget inside a sweep run's name (`d32-c3e12`): mantissa to 2 decimals without trailing
/// zeros, no `+` or `.0`. Part of the run folder names, so its output must never change.
pub fn budget_tag(v: f64) -> String {
    let e = v.abs().log10().floor() as i32;
    let m = format!("{:.2}", v / 10f64.powi(e));
    let m = m.trim_end_matches('0').trim_end_matches('.');
    format!("{m}e{e}")
}

/// A linear chart axis label: 3 decimals without trailing zeros, [`sci`] (1 decimal) outside
/// [0.01, 1e4).
pub fn axis_tick(v: f64) -> String {
    if v.abs() >= 1e4 || (v != 0.0 && v.abs() < 1e-2) {
        sci(v, 1)
    } else {
        trimmed(v, 3)
    }
}

/// `decimals` decimals without trailing zeros: `trimmed(0.34, 5)` → `0.34`, `trimmed(0.339171, 5)` → `0.33917`.
pub fn trimmed(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// A log-scale chart axis label for the value 10^`exp`: `1e18` at whole powers, else `3.16e18`.
pub fn log_axis_tick(exp: f64) -> String {
    if (exp - exp.round()).abs() < 1e-9 {
        format!("1e{}", exp.round() as i64)
    } else {
        sci(10f64.powf(exp), 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_prefixes() {
        assert_eq!(si(1_234_567.0, 3), "1.235M");
        assert_eq!(si(70.554e9, 3), "70.554B");
        assert_eq!(si(15e12, 3), "15.000T");
        assert_eq!(si(12_345.0, 1), "12.3k");
        assert_eq!(si(-2_500.0, 1), "-2.5k");
        assert_eq!(si(812.4, 1), "812.4");
        assert_eq!(si(812.4, 0), "812");
        assert_eq!(si(3.2e18, 1), "3.2E");
    }

    #[test]
    fn compact_keeps_four_digits() {
        assert_eq!(compact(406.43), "406.4");
        assert_eq!(compact(1.6912), "1.691");
        assert_eq!(compact(0.3382), "0.338");
        assert_eq!(compact(12345.6), "12346");
        assert_eq!(compact(123456.0), "1.235e5");
        assert_eq!(compact(0.001234), "1.234e-3");
        assert_eq!(compact(0.0), "0.000");
        assert_eq!(compact(f64::NAN), DASH);
        assert_eq!(compact(f64::INFINITY), DASH);
    }

    #[test]
    fn param_has_four_decimals() {
        assert_eq!(param(0.33824), "0.3382");
        assert_eq!(param(398.57051), "398.5705");
        assert_eq!(param(0.0), "0.0000");
        assert_eq!(param(2.5e-4), "2.500e-4");
        assert_eq!(param(1.5e5), "1.500e5");
        assert_eq!(param_interval(Some(&[0.32884, 0.3478])), "[0.3288, 0.3478]");
        assert_eq!(param_interval(None), DASH);
    }

    #[test]
    fn percent_money_memory() {
        assert_eq!(percent(0.4123, 1), "41.2%");
        assert_eq!(percent(0.101, 0), "10%");
        assert_eq!(usd(13.33e6), "$13.33M");
        assert_eq!(usd(4_560.0), "$4.6k");
        assert_eq!(usd(12.5), "$12.50");
        assert_eq!(gigabytes(1.5e9), "1.5 GB");
        assert_eq!(sci(3.14159e23, 3), "3.142e23");
    }

    #[test]
    fn dashes_for_missing_values() {
        assert_eq!(fixed_or_dash(Some(1.23456), 2), "1.23");
        assert_eq!(fixed_or_dash(None, 2), DASH);
        assert_eq!(or_dash(Some(2.0), |x| sci(x, 1)), "2.0e0");
    }

    #[test]
    fn size_labels() {
        assert_eq!(model_size(124.4e6), "124M");
        assert_eq!(model_size(1.34e9), "1.3B");
        assert_eq!(model_size(7e9), "7B");
    }

    #[test]
    fn budget_tags_are_stable_file_names() {
        assert_eq!(budget_tag(3e12), "3e12");
        assert_eq!(budget_tag(1.5e7), "1.5e7");
        assert_eq!(budget_tag(20.0), "2e1");
        assert_eq!(budget_tag(1e11), "1e11");
        assert_eq!(budget_tag(9e11), "9e11");
        assert_eq!(budget_tag(1.234e15), "1.23e15");
    }

    #[test]
    fn axis_ticks() {
        assert_eq!(axis_tick(0.25), "0.25");
        assert_eq!(axis_tick(3.0), "3");
        assert_eq!(axis_tick(0.0), "0");
        assert_eq!(axis_tick(25_000.0), "2.5e4");
        assert_eq!(axis_tick(0.005), "5.0e-3");
        assert_eq!(log_axis_tick(18.0), "1e18");
        assert_eq!(log_axis_tick(18.5), "3.16e18");
    }
}
