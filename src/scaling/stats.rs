//! Small statistics the fits share: percentiles of bootstrap samples and
//! least-squares lines (in log space for the power laws).

use serde::{Deserialize, Serialize};

/// Linear percentile of sorted data (q in [0, 1]).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let x = q * (sorted.len() - 1) as f64;
    let (i, t) = (x.floor() as usize, x - x.floor());
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + t * (sorted[j] - sorted[i])
}

/// Least-squares line y = intercept + slope·x.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinFit {
    pub slope: f64,
    pub intercept: f64,
    pub r2: f64,
}

/// `None` with fewer than two distinct x.
pub fn linfit(x: &[f64], y: &[f64]) -> Option<LinFit> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    if sxx <= 1e-12 * (1.0 + mx * mx) * n {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy > 0.0 {
        (sxy * sxy) / (sxx * syy)
    } else {
        1.0
    };
    Some(LinFit {
        slope,
        intercept: my - slope * mx,
        r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linfit_and_percentile() {
        let f = linfit(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
        assert!(
            (f.slope - 2.0).abs() < 1e-12
                && (f.intercept - 1.0).abs() < 1e-12
                && (f.r2 - 1.0).abs() < 1e-12
        );
        assert!(linfit(&[1.0, 1.0], &[0.0, 1.0]).is_none());
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
    }
}
