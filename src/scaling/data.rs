//! Loading sweep results and training curves from CSV.
//!
//! Results: one row per run with columns `params`, `tokens`, `loss` or
//! `val_loss` (`val_loss` wins when both exist), and optionally `flops`
//! (6·N·D when absent or empty), `run`, `budget`, `status` (rows whose status is
//! not `ok` are skipped), `wall_s`, `tok_per_s`, `mfu`, `device`, and `design`
//! (rows whose design is `validation` are kept apart: they score a fit and
//! never enter one), and the hyperparameters `seed`, `lr`, `batch_size`,
//! `beta2` (a sweep's `[axes]`). Other columns are ignored. Curves: one row per evaluation with `run`, `params`, `tokens`,
//! `loss`/`val_loss` and optionally `flops`.

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One finished run (or one evaluation of a run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub run: String,
    pub params: f64,
    pub tokens: f64,
    pub flops: f64,
    pub loss: f64,
    /// The compute budget the sweep aimed at (groups IsoFLOP profiles exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tok_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The run's seed and hyperparameters, where the table has them: a
    /// sweep's `[axes]` vary these, and the fit keeps the best of each grid
    /// ([`super::tuned`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f64>,
}

impl Point {
    /// A point with `flops = 6·params·tokens` and no cost columns.
    pub fn new(run: impl Into<String>, params: f64, tokens: f64, loss: f64) -> Self {
        Point {
            run: run.into(),
            params,
            tokens,
            flops: 6.0 * params * tokens,
            loss,
            ..Default::default()
        }
    }
}

/// One evaluation on a training curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    pub tokens: f64,
    pub flops: f64,
    pub loss: f64,
}

/// The evaluations of one run, sorted by FLOPs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub run: String,
    pub params: f64,
    pub evals: Vec<Eval>,
}

impl Curve {
    pub fn new(run: impl Into<String>, params: f64, mut evals: Vec<Eval>) -> Self {
        evals.sort_by(|a, b| a.flops.total_cmp(&b.flops));
        Curve {
            run: run.into(),
            params,
            evals,
        }
    }

    /// A one-point curve: the final result of a run.
    pub fn from_point(p: &Point) -> Self {
        Curve::new(
            p.run.clone(),
            p.params,
            vec![Eval {
                tokens: p.tokens,
                flops: p.flops,
                loss: p.loss,
            }],
        )
    }

    pub fn flops_range(&self) -> (f64, f64) {
        (
            self.evals.first().map_or(f64::NAN, |e| e.flops),
            self.evals.last().map_or(f64::NAN, |e| e.flops),
        )
    }

    /// (loss, tokens) at `flops`, interpolated linearly in log-FLOPs (tokens in
    /// log-log); `None` outside the curve's range (a relative slack of 1e-9).
    pub fn at(&self, flops: f64) -> Option<(f64, f64)> {
        let (lo, hi) = self.flops_range();
        let x = flops.ln();
        if x < lo.ln() - 1e-9 || x > hi.ln() + 1e-9 {
            return None;
        }
        let i = self.evals.partition_point(|e| e.flops < flops);
        if i == 0 {
            let e = self.evals[0];
            return Some((e.loss, e.tokens));
        }
        if i >= self.evals.len() {
            let e = self.evals[self.evals.len() - 1];
            return Some((e.loss, e.tokens));
        }
        let (a, b) = (self.evals[i - 1], self.evals[i]);
        let t = (x - a.flops.ln()) / (b.flops.ln() - a.flops.ln());
        let t = if t.is_finite() { t } else { 0.0 };
        let loss = a.loss + t * (b.loss - a.loss);
        let tokens = (a.tokens.ln() + t * (b.tokens.ln() - a.tokens.ln())).exp();
        Some((loss, tokens))
    }
}

/// The `design` of a results row that validates a fit instead of entering it.
pub const VALIDATION_DESIGN: &str = "validation";

/// What `load_points` read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub points: Vec<Point>,
    /// Rows whose `design` is `validation`: runs beyond the fitted compute
    /// that score the law and never enter a fit.
    pub validation: Vec<Point>,
    /// Rows skipped because their `status` was not `ok`.
    pub skipped: usize,
    /// The CSV had a `flops` column (otherwise flops = 6·N·D).
    pub has_flops: bool,
}

/// Column lookup over a header row (trimmed, case-insensitive).
struct Columns {
    names: Vec<String>,
}

impl Columns {
    /// The header of `file`; a name given twice is an error (which would count?).
    fn new(h: &csv::StringRecord, file: &Path) -> Result<Self> {
        let names: Vec<String> = h
            .iter()
            .map(|s| s.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        for (i, n) in names.iter().enumerate() {
            if !n.is_empty() && names[..i].contains(n) {
                bail!(
                    "{}: column `{n}` appears twice in the header (columns {} and {})",
                    file.display(),
                    names[..i].iter().position(|m| m == n).unwrap_or(0) + 1,
                    i + 1
                );
            }
        }
        Ok(Columns { names })
    }
    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    fn require(&self, name: &str, file: &Path) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            anyhow!(
                "{}: missing column `{name}` (header: {})",
                file.display(),
                self.names.join(",")
            )
        })
    }
    fn loss(&self, file: &Path) -> Result<usize> {
        self.find("val_loss")
            .or_else(|| self.find("loss"))
            .ok_or_else(|| {
                anyhow!(
                    "{}: missing column `loss` (or `val_loss`) (header: {})",
                    file.display(),
                    self.names.join(",")
                )
            })
    }
}

/// Cell access with errors that name file, row and column.
struct Row<'a> {
    file: &'a Path,
    rec: &'a csv::StringRecord,
    cols: &'a Columns,
    line: u64,
    row: usize,
}

impl Row<'_> {
    fn where_(&self, col: usize) -> String {
        format!("{}, column `{}`", self.at(), self.cols.names[col])
    }
    fn at(&self) -> String {
        format!(
            "{}: row {} (line {})",
            self.file.display(),
            self.row,
            self.line
        )
    }
    /// The `flops` cell (column `fc`), else 6·params·tokens, which must stay finite.
    fn flops(&self, fc: Option<usize>, params: f64, tokens: f64) -> Result<f64> {
        if let Some(f) = self.opt_positive(fc)? {
            return Ok(f);
        }
        let f = 6.0 * params * tokens;
        if !f.is_finite() {
            bail!(
                "{}: flops = 6·params·tokens overflows (columns `params` = {params:e}, `tokens` = {tokens:e})",
                self.at()
            );
        }
        Ok(f)
    }
    fn text(&self, col: usize) -> &str {
        self.rec.get(col).unwrap_or("").trim()
    }
    /// A finite number, or None for an empty cell.
    fn opt_num(&self, col: usize) -> Result<Option<f64>> {
        let s = self.text(col);
        if s.is_empty() {
            return Ok(None);
        }
        let v: f64 = s
            .parse()
            .map_err(|_| anyhow!("{}: `{s}` is not a number", self.where_(col)))?;
        if !v.is_finite() {
            bail!("{}: `{s}` is not a finite number", self.where_(col));
        }
        Ok(Some(v))
    }
    /// A finite number > 0.
    fn positive(&self, col: usize) -> Result<f64> {
        let v = self
            .opt_num(col)?
            .ok_or_else(|| anyhow!("{}: empty cell", self.where_(col)))?;
        if v <= 0.0 {
            bail!("{}: must be > 0, got {v}", self.where_(col));
        }
        Ok(v)
    }
    /// A whole number ≥ 0, or None for an empty cell or no column.
    fn opt_seed(&self, col: Option<usize>) -> Result<Option<u64>> {
        let Some(c) = col else { return Ok(None) };
        let s = self.text(c);
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .map_err(|_| anyhow!("{}: `{s}` is not a whole number ≥ 0", self.where_(c)))
    }
    /// A number in (0, 1), or None.
    fn opt_beta2(&self, col: Option<usize>) -> Result<Option<f64>> {
        let Some(c) = col else { return Ok(None) };
        match self.opt_num(c)? {
            Some(v) if !(v > 0.0 && v < 1.0) => {
                bail!("{}: must be in (0, 1), got {v}", self.where_(c))
            }
            v => Ok(v),
        }
    }
    fn opt_positive(&self, col: Option<usize>) -> Result<Option<f64>> {
        let Some(c) = col else { return Ok(None) };
        match self.opt_num(c)? {
            Some(v) if v <= 0.0 => bail!("{}: must be > 0, got {v}", self.where_(c)),
            v => Ok(v),
        }
    }
}

fn open(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(f))
}

fn records(path: &Path) -> Result<(Columns, Vec<(u64, csv::StringRecord)>)> {
    let mut rd = open(path)?;
    let cols = Columns::new(
        rd.headers()
            .map_err(|e| anyhow!("{}: cannot read the header: {e}", path.display()))?,
        path,
    )?;
    let mut out = Vec::new();
    for (i, r) in rd.records().enumerate() {
        let rec = r.map_err(|e| anyhow!("{}: data row {}: {e}", path.display(), i + 1))?;
        let line = rec.position().map_or(0, |p| p.line());
        out.push((line, rec));
    }
    Ok((cols, out))
}

/// Read a results CSV (see the module docs).
pub fn load_points(path: &Path) -> Result<Loaded> {
    let (cols, recs) = records(path)?;
    let (pc, tc, lc) = (
        cols.require("params", path)?,
        cols.require("tokens", path)?,
        cols.loss(path)?,
    );
    let fc = cols.find("flops");
    let (runc, bc, sc) = (cols.find("run"), cols.find("budget"), cols.find("status"));
    let design = cols.find("design");
    let (wc, tpc, mc, dc) = (
        cols.find("wall_s"),
        cols.find("tok_per_s"),
        cols.find("mfu"),
        cols.find("device"),
    );
    let (seedc, lrc, bsc, b2c) = (
        cols.find("seed"),
        cols.find("lr"),
        cols.find("batch_size"),
        cols.find("beta2"),
    );
    let mut out = Loaded {
        has_flops: fc.is_some(),
        ..Default::default()
    };
    for (i, (line, rec)) in recs.iter().enumerate() {
        let row = Row {
            file: path,
            rec,
            cols: &cols,
            line: *line,
            row: i + 1,
        };
        if let Some(s) = sc {
            if !row.text(s).eq_ignore_ascii_case("ok") {
                out.skipped += 1;
                continue;
            }
        }
        let (params, tokens, loss) = (row.positive(pc)?, row.positive(tc)?, row.positive(lc)?);
        let flops = row.flops(fc, params, tokens)?;
        let run = runc
            .map(|c| row.text(c).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("row{}", i + 1));
        let is_validation = design.is_some_and(|c| row.text(c) == VALIDATION_DESIGN);
        let to = if is_validation {
            &mut out.validation
        } else {
            &mut out.points
        };
        to.push(Point {
            run,
            params,
            tokens,
            flops,
            loss,
            budget: row.opt_positive(bc)?,
            wall_s: row.opt_positive(wc)?,
            tok_per_s: row.opt_positive(tpc)?,
            mfu: row.opt_positive(mc)?,
            device: dc
                .map(|c| row.text(c).to_string())
                .filter(|s| !s.is_empty()),
            seed: row.opt_seed(seedc)?,
            lr: row.opt_positive(lrc)?,
            batch_size: row.opt_positive(bsc)?,
            beta2: row.opt_beta2(b2c)?,
        });
    }
    Ok(out)
}

/// Read a curves CSV into one curve per run (in order of first appearance).
pub fn load_curves(path: &Path) -> Result<Vec<Curve>> {
    let (cols, recs) = records(path)?;
    let (rc, pc, tc, lc) = (
        cols.require("run", path)?,
        cols.require("params", path)?,
        cols.require("tokens", path)?,
        cols.loss(path)?,
    );
    let fc = cols.find("flops");
    let mut order: Vec<String> = Vec::new();
    let mut by_run: BTreeMap<String, (f64, Vec<Eval>)> = BTreeMap::new();
    for (i, (line, rec)) in recs.iter().enumerate() {
        let row = Row {
            file: path,
            rec,
            cols: &cols,
            line: *line,
            row: i + 1,
        };
        let run = row.text(rc).to_string();
        if run.is_empty() {
            bail!("{}: empty cell", row.where_(rc));
        }
        let (params, tokens, loss) = (row.positive(pc)?, row.positive(tc)?, row.positive(lc)?);
        let flops = row.flops(fc, params, tokens)?;
        let entry = by_run.entry(run.clone()).or_insert_with(|| {
            order.push(run.clone());
            (params, Vec::new())
        });
        if (entry.0 - params).abs() > 1e-9 * params {
            bail!(
                "{}: run `{run}` has params {} here but {} earlier",
                row.where_(pc),
                params,
                entry.0
            );
        }
        entry.1.push(Eval {
            tokens,
            flops,
            loss,
        });
    }
    Ok(order
        .into_iter()
        .map(|r| {
            let (p, e) = by_run.remove(&r).unwrap();
            Curve::new(r, p, e)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_interpolates_in_log_flops() {
        let c = Curve::new(
            "r",
            10.0,
            vec![
                Eval {
                    tokens: 100.0,
                    flops: 1e4,
                    loss: 3.0,
                },
                Eval {
                    tokens: 10.0,
                    flops: 1e2,
                    loss: 5.0,
                },
            ],
        );
        let (l, t) = c.at(1e3).unwrap();
        assert!((l - 4.0).abs() < 1e-12 && (t - 31.6227766).abs() < 1e-6);
        assert!(c.at(1e5).is_none() && c.at(10.0).is_none());
        assert_eq!(c.at(1e4).unwrap().0, 3.0);
    }
}
