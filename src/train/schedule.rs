//! Learning-rate schedules, matched to the run's own length.

use crate::config::{OptimConfig, Schedule};

/// Learning rate for 0-based optimizer step `step` of a run of `total` steps.
pub fn lr_at(o: &OptimConfig, step: usize, total: usize) -> f64 {
    let warmup = o.warmup_steps.min(total.saturating_sub(1));
    if step < warmup {
        return o.lr * (step + 1) as f64 / warmup as f64;
    }
    let last = total.saturating_sub(1).max(1) as f64;
    match o.schedule {
        Schedule::Constant => o.lr,
        Schedule::Cosine => {
            // Reaches min_lr exactly at the final step.
            let p = ((step - warmup) as f64 / (last - warmup as f64).max(1.0)).clamp(0.0, 1.0);
            o.min_lr + 0.5 * (1.0 + (std::f64::consts::PI * p).cos()) * (o.lr - o.min_lr)
        }
        Schedule::Wsd => {
            let decay_steps = ((o.decay_frac * total as f64).round() as usize).max(1);
            let start = total.saturating_sub(decay_steps).max(warmup);
            if step < start {
                o.lr
            } else {
                let p = ((step - start) as f64 / (last - start as f64).max(1.0)).clamp(0.0, 1.0);
                o.lr + p * (o.min_lr - o.lr)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(schedule: Schedule) -> OptimConfig {
        OptimConfig {
            lr: 1.0,
            min_lr: 0.1,
            warmup_steps: 10,
            schedule,
            decay_frac: 0.2,
            ..Default::default()
        }
    }

    #[test]
    fn shapes() {
        let c = cfg(Schedule::Cosine);
        assert!((lr_at(&c, 0, 100) - 0.1).abs() < 1e-12);
        assert!((lr_at(&c, 9, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(&c, 99, 100) - 0.1).abs() < 1e-12);
        let mid = lr_at(&c, 10 + 89 / 2, 100);
        assert!(mid > 0.5 && mid < 0.6, "{mid}");
        let w = cfg(Schedule::Wsd);
        assert_eq!(lr_at(&w, 79, 100), 1.0);
        assert!((lr_at(&w, 99, 100) - 0.1).abs() < 1e-12);
        assert!(lr_at(&w, 90, 100) < 1.0 && lr_at(&w, 90, 100) > 0.1);
        assert_eq!(lr_at(&cfg(Schedule::Constant), 50, 100), 1.0);
    }
}
