//! Sweep specs (configs/sweeps/*.toml): a base run config, a list of sizes and
//! a design, expanded into one `scalelab train` run per (size, budget).
//!
//! ```toml
//! base = "../quickstart.toml"          # relative to the spec file
//! set = ["model.seq_len=64"]           # overrides for every run (optional)
//! evals_per_run = 8                    # points on each training curve
//! warmup_frac = 0.1                    # warm-up as a fraction of each run's steps
//! seeds = [1, 2, 3]                    # replicates: each run once per seed (optional)
//! [axes]                               # optional hyperparameter grid (src/sweep/axes.rs):
//! lr = [1e-3, 3e-3, 1e-2]              # each run once per combination; lr scales min_lr too,
//! batch_size = [16, 32]                # batch_size keeps the budget (steps change),
//! beta2 = [0.95, 0.99]                 # beta2 is AdamW's β2; fits use the best of the grid
//! [sizes]
//! depth = [1, 2, 3]                    # the size dial, or
//! # shapes = [{ n_layer = 2, n_head = 2, d_model = 64 }]
//! [design]
//! isoflop = [1e12, 3e12]               # exactly one of: isoflop (FLOP budgets),
//! # tokens = [1e6, 4e6]                # token budgets, tokens_per_param = [10, 20]
//! [validation]                         # optional, isoflop only: runs never fitted
//! multiple = 4                         # budget = 4 × the largest isoflop budget
//! off_optimum = 4                      # a second run at 4 × the fitted N_opt
//! ```

use crate::config::RunConfig;
use crate::flops::total_steps;
use crate::model::params::param_counts;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub n_layer: usize,
    pub n_head: usize,
    pub d_model: usize,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sizes {
    #[serde(default)]
    pub depth: Vec<usize>,
    #[serde(default)]
    pub shapes: Vec<Shape>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Design {
    /// Compute budgets C (training FLOPs, exact matmul count): tokens = C / FLOPs per token.
    pub isoflop: Option<Vec<f64>>,
    /// Token budgets D.
    pub tokens: Option<Vec<f64>>,
    /// Tokens per parameter R (D = R·N, N = total parameters).
    pub tokens_per_param: Option<Vec<f64>>,
    /// Skip (size, budget) pairs whose tokens per parameter fall outside
    /// [lo, hi]: IsoFLOP profiles then centre each budget on sizes near its
    /// optimum, as Chinchilla did, instead of training hopeless extremes.
    pub tokens_per_param_range: Option<[f64; 2]>,
    /// Adaptive IsoFLOP design ([`super::design`]): this many sizes of the
    /// family per budget, centred on the optimum predicted from the budgets
    /// already trained.
    pub sizes_per_budget: Option<usize>,
    /// Ratio of N between neighbouring sizes of a budget (default 1.6).
    pub size_ratio: Option<f64>,
    /// Tokens per parameter taken as optimal for the first budget (default 20).
    pub prior_tokens_per_param: Option<f64>,
    /// Sizes a budget may add to bracket its minimum (default 3).
    pub max_extend: Option<usize>,
}

/// Runs beyond the fitted compute that check the law's predictions: one at
/// the fitted optimum of a budget `multiple` × the largest, one at
/// `off_optimum` × that optimum's parameters. They never enter a fit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    #[serde(default = "default_multiple")]
    pub multiple: f64,
    #[serde(default = "default_multiple")]
    pub off_optimum: f64,
}

fn default_multiple() -> f64 {
    4.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub base: PathBuf,
    #[serde(default)]
    pub set: Vec<String>,
    #[serde(default = "default_evals")]
    pub evals_per_run: usize,
    pub warmup_frac: Option<f64>,
    /// Replicates: every (size, budget) is trained once per seed (`train.seed`);
    /// empty: once, with the base config's seed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Hyperparameter grid: every (size, budget) once per combination.
    #[serde(default, skip_serializing_if = "super::axes::Axes::is_empty")]
    pub axes: super::axes::Axes,
    pub sizes: Sizes,
    pub design: Design,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSpec>,
}

fn default_evals() -> usize {
    8
}

/// Which budget a run spends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    Flops(f64),
    Tokens(f64),
    TokensPerParam(f64),
}

impl Budget {
    pub fn kind(&self) -> &'static str {
        match self {
            Budget::Flops(_) => "isoflop",
            Budget::Tokens(_) => "tokens",
            Budget::TokensPerParam(_) => "tokens_per_param",
        }
    }

    pub fn value(&self) -> f64 {
        match *self {
            Budget::Flops(v) | Budget::Tokens(v) | Budget::TokensPerParam(v) => v,
        }
    }

    pub(super) fn tag(&self) -> String {
        match *self {
            Budget::Flops(v) => format!("c{}", crate::fmt::budget_tag(v)),
            Budget::Tokens(v) => format!("t{}", crate::fmt::budget_tag(v)),
            Budget::TokensPerParam(v) => format!("r{v}"),
        }
    }
}

/// One planned run: its name, size label, budget and resolved config.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub name: String,
    pub size: String,
    pub budget: Budget,
    pub cfg: RunConfig,
    /// A validation run: trained after the fit, scored against it, never fitted.
    pub validation: bool,
}

impl Spec {
    pub fn load(path: &Path) -> Result<(Self, PathBuf)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("sweep spec {}: cannot read", path.display()))?;
        let mut spec: Spec = toml::from_str(&text).map_err(|e| {
            anyhow!(
                "sweep spec {}: {}",
                path.display(),
                crate::config::one_line(&e.to_string())
            )
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if spec.base.is_relative() {
            spec.base = dir.join(&spec.base);
        }
        spec.validate()
            .map_err(|e| anyhow!("sweep spec {}: {e}", path.display()))?;
        Ok((spec, path.to_path_buf()))
    }

    fn validate(&self) -> Result<()> {
        let designs = [
            self.design.isoflop.is_some(),
            self.design.tokens.is_some(),
            self.design.tokens_per_param.is_some(),
        ];
        match designs.iter().filter(|d| **d).count() {
            0 => bail!("design: give one of isoflop, tokens, tokens_per_param"),
            1 => {}
            _ => bail!("design: isoflop, tokens and tokens_per_param are contradictory designs; give exactly one"),
        }
        for (name, v) in [
            ("isoflop", &self.design.isoflop),
            ("tokens", &self.design.tokens),
            ("tokens_per_param", &self.design.tokens_per_param),
        ] {
            if let Some(v) = v {
                if v.is_empty() {
                    bail!("design.{name} is empty");
                }
                if let Some(bad) = v.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                    bail!("design.{name}: budgets must be positive numbers, got {bad}");
                }
            }
        }
        if let Some([lo, hi]) = self.design.tokens_per_param_range {
            if !(lo > 0.0 && hi > lo && hi.is_finite()) {
                bail!("design.tokens_per_param_range must be [lo, hi] with 0 < lo < hi, got [{lo}, {hi}]");
            }
        }
        self.validate_adaptive()?;
        if self.sizes.depth.is_empty() && self.sizes.shapes.is_empty() {
            bail!("sizes: give depth = [...] or shapes = [...]");
        }
        if self.sizes.depth.contains(&0) {
            bail!("sizes.depth: depths must be > 0");
        }
        let mut seeds = self.seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        if seeds.len() != self.seeds.len() {
            bail!("seeds: each seed once, got {:?}", self.seeds);
        }
        self.axes.validate()?;
        if self.evals_per_run == 0 {
            bail!("evals_per_run must be > 0");
        }
        if let Some(f) = self.warmup_frac {
            if !(0.0..1.0).contains(&f) {
                bail!("warmup_frac must be in [0, 1), got {f}");
            }
        }
        if let Some(v) = &self.validation {
            if self.design.isoflop.is_none() {
                bail!("validation needs an isoflop design (its runs get a FLOP budget)");
            }
            for (f, x) in [("multiple", v.multiple), ("off_optimum", v.off_optimum)] {
                if !(x.is_finite() && x > 1.0) {
                    bail!("validation.{f} must be a number > 1, got {x}");
                }
            }
        }
        Ok(())
    }

    fn validate_adaptive(&self) -> Result<()> {
        let d = &self.design;
        let Some(k) = d.sizes_per_budget else {
            for (f, set) in [
                ("size_ratio", d.size_ratio.is_some()),
                ("prior_tokens_per_param", d.prior_tokens_per_param.is_some()),
                ("max_extend", d.max_extend.is_some()),
            ] {
                if set {
                    bail!("design.{f} needs design.sizes_per_budget (an adaptive design)");
                }
            }
            return Ok(());
        };
        if d.isoflop.is_none() {
            bail!("design.sizes_per_budget needs an isoflop design (it brackets each budget's minimum)");
        }
        if k < 3 {
            bail!("design.sizes_per_budget must be at least 3 (a minimum needs a size on each side), got {k}");
        }
        if d.tokens_per_param_range.is_some() {
            bail!("design.tokens_per_param_range and design.sizes_per_budget both choose the sizes; give one");
        }
        if let Some(r) = d.size_ratio.filter(|r| !(r.is_finite() && *r > 1.0)) {
            bail!("design.size_ratio must be a number > 1, got {r}");
        }
        if let Some(r) = d
            .prior_tokens_per_param
            .filter(|r| !(r.is_finite() && *r > 0.0))
        {
            bail!("design.prior_tokens_per_param must be a positive number, got {r}");
        }
        Ok(())
    }

    /// The adaptive design's settings, if the spec has one.
    pub fn adaptive(&self) -> Option<super::design::Adaptive> {
        let d = &self.design;
        Some(super::design::Adaptive {
            sizes_per_budget: d.sizes_per_budget?,
            size_ratio: d.size_ratio.unwrap_or(1.6),
            prior_tokens_per_param: d.prior_tokens_per_param.unwrap_or(20.0),
            max_extend: d.max_extend.unwrap_or(3),
        })
    }

    fn budgets(&self) -> Vec<Budget> {
        let d = &self.design;
        let (v, f): (&Vec<f64>, fn(f64) -> Budget) = if let Some(v) = &d.isoflop {
            (v, Budget::Flops)
        } else if let Some(v) = &d.tokens {
            (v, Budget::Tokens)
        } else {
            (
                d.tokens_per_param.as_ref().expect("validated"),
                Budget::TokensPerParam,
            )
        };
        v.iter().map(|x| f(*x)).collect()
    }

    /// Size overrides and a short label for each size.
    fn sizes(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .sizes
            .depth
            .iter()
            .map(|d| (format!("d{d}"), vec![format!("model.depth={d}")]))
            .collect();
        out.extend(self.sizes.shapes.iter().map(shape_size));
        out
    }

    /// Each size's config, loaded (and validated) once with the spec's overrides.
    fn sized(&self, sizes: Vec<(String, Vec<String>)>) -> Result<Vec<(String, RunConfig)>> {
        sizes
            .into_iter()
            .map(|(size, size_ov)| {
                let ov: Vec<String> = self.set.iter().cloned().chain(size_ov).collect();
                let cfg =
                    RunConfig::load(&self.base, &ov).map_err(|e| anyhow!("size {size}: {e:#}"))?;
                Ok((size, cfg))
            })
            .collect()
    }

    /// The run of one size at one budget; `None` when the design's
    /// tokens-per-parameter range excludes it (`in_range` false skips the check).
    pub(super) fn run_for(
        &self,
        size: &str,
        sized_cfg: &RunConfig,
        budget: Budget,
        in_range: bool,
    ) -> Result<Option<PlannedRun>> {
        let mut cfg = sized_cfg.clone();
        // The base's stop conditions are dropped: the budget alone decides the length.
        let t = &mut cfg.train;
        (t.max_steps, t.max_tokens, t.max_flops) = (None, None, None);
        match budget {
            Budget::Flops(c) => t.max_flops = Some(c),
            Budget::Tokens(d) => t.max_tokens = Some(d.round() as u64),
            Budget::TokensPerParam(r) => {
                t.max_tokens = Some((r * param_counts(&cfg.model).total as f64).round() as u64)
            }
        }
        let steps = self.pace(size, budget, &mut cfg)?;
        if let (true, Some([lo, hi])) = (in_range, self.design.tokens_per_param_range) {
            let r = (steps as u64 * cfg.tokens_per_step()) as f64
                / param_counts(&cfg.model).total as f64;
            if r < lo || r > hi {
                return Ok(None);
            }
        }
        cfg.validate()
            .map_err(|e| anyhow!("size {size}, budget {}: {e:#}", budget.value()))?;
        Ok(Some(PlannedRun {
            name: format!("{size}-{}", budget.tag()),
            size: size.to_string(),
            budget,
            cfg,
            validation: false,
        }))
    }

    /// Fit the step-dependent settings to the run's length (set by its budget
    /// and batch size): the evaluation interval and the warm-up. Returns the
    /// steps; an error when a FLOP budget is below one step.
    pub(super) fn pace(&self, size: &str, budget: Budget, cfg: &mut RunConfig) -> Result<usize> {
        if let Budget::Flops(c) = budget {
            let per_step = crate::flops::StepFlops::for_run(cfg).matmul_step as f64;
            if per_step > c {
                bail!("design.isoflop: budget {c:e} is smaller than one training step of size {size} ({per_step:.3e} FLOPs)");
            }
        }
        let steps = total_steps(cfg);
        cfg.train.eval_every = (steps / self.evals_per_run).max(1);
        if let Some(f) = self.warmup_frac {
            cfg.optim.warmup_steps = (f * steps as f64).round() as usize;
        }
        Ok(steps)
    }

    /// Expand into runs, budget-major (the smallest budgets first: early results
    /// are cheap), each with its config resolved and validated. An adaptive
    /// design plans only what needs no results: its first budget.
    pub fn plan(&self) -> Result<Vec<PlannedRun>> {
        if self.adaptive().is_some() {
            let family = self.family()?;
            return Ok(self
                .plan_with(&family, &|_| super::design::Outcome::Pending)?
                .runs);
        }
        // Budgets only change the stop condition, the evaluation interval and the warm-up.
        let sized = self.sized(self.sizes())?;
        let mut runs = Vec::new();
        for budget in self.budgets() {
            for (size, sized_cfg) in &sized {
                runs.extend(self.run_for(size, sized_cfg, budget, true)?);
            }
        }
        if runs.is_empty() {
            bail!("design.tokens_per_param_range leaves no runs");
        }
        super::axes::expand(self, runs)
    }

    /// The plan as far as the finished runs allow (`outcome` says what each
    /// planned run became): the whole static expansion, or an adaptive
    /// design's budgets up to the first one still training.
    pub fn plan_with(
        &self,
        family: &[(String, RunConfig)],
        outcome: &dyn Fn(&PlannedRun) -> super::design::Outcome,
    ) -> Result<super::design::Plan> {
        let Some(a) = self.adaptive() else {
            return Ok(super::design::Plan {
                runs: self.plan()?,
                budgets: Vec::new(),
                complete: true,
            });
        };
        let budgets: Vec<f64> = self.budgets().iter().map(Budget::value).collect();
        super::design::plan(self, &a, &budgets, family, outcome)
    }

    /// Sizes of the spec's family beyond its list, for validation runs: the
    /// size dial at every depth up to 64, or — for listed shapes — the largest
    /// shape's depth and head width at every width up to 4096.
    pub fn family(&self) -> Result<Vec<(String, RunConfig)>> {
        let mut sizes = Vec::new();
        if !self.sizes.depth.is_empty() {
            sizes
                .extend((1..=64usize).map(|d| (format!("d{d}"), vec![format!("model.depth={d}")])));
        }
        if let Some(s) = self
            .sizes
            .shapes
            .iter()
            .max_by_key(|s| s.n_layer * s.d_model)
        {
            let head = s.d_model / s.n_head.max(1);
            for h in 1..=(4096 / head.max(1)) {
                let shape = Shape {
                    n_layer: s.n_layer,
                    n_head: h,
                    d_model: h * head,
                };
                sizes.push(shape_size(&shape));
            }
        }
        // Sizes the base cannot take (e.g. a dial step that breaks head_dim) are skipped.
        Ok(sizes
            .into_iter()
            .filter_map(|(size, ov)| self.sized(vec![(size, ov)]).ok())
            .flatten()
            .collect())
    }
}

/// A listed shape's label and overrides.
fn shape_size(s: &Shape) -> (String, Vec<String>) {
    (
        format!("l{}h{}d{}", s.n_layer, s.n_head, s.d_model),
        vec![
            format!("model.n_layer={}", s.n_layer),
            format!("model.n_head={}", s.n_head),
            format!("model.d_model={}", s.d_model),
        ],
    )
}
