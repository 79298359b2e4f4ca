//! The report's account of how the sweep was designed (design.json of an
//! adaptive design) and of repeated data (runs past one epoch).

use crate::fmt;
use crate::rundir::results::{BudgetDesign, Row, DESIGN_FILE};
use std::fmt::Write as _;
use std::path::Path;

/// The "Design" section, if the sweep folder has a design.json.
pub fn design_section(dir: &Path) -> Option<String> {
    let budgets: Vec<BudgetDesign> = crate::fsx::read_json(&dir.join(DESIGN_FILE)).ok()?;
    let mut md = String::from(
        "## Design\n\nEach budget's sizes were centred on the optimum predicted before it was trained, spaced evenly in ln N; a budget whose best size sat at an edge got more sizes on that side.\n\n| budget (FLOPs) | predicted N_opt | from | sizes (N) | added | best N | minimum inside |\n|---|---|---|---|---|---|---|\n",
    );
    for b in &budgets {
        let sizes: Vec<String> = b.params.iter().map(|n| fmt::si(*n, 1)).collect();
        let _ = writeln!(
            md,
            "| {:.2e} | {} | {} | {} | {} | {} | {} |",
            b.flops,
            fmt::si(b.predicted_n, 1),
            b.predicted_from,
            sizes.join(", "),
            if b.extended.is_empty() {
                "–".into()
            } else {
                b.extended.join(", ")
            },
            b.n_opt.map(|n| fmt::si(n, 1)).unwrap_or_else(|| "–".into()),
            match (b.interior, &b.note) {
                (Some(true), _) => "yes".to_string(),
                (_, Some(n)) => format!("no: {n}"),
                (Some(false), None) => "no".into(),
                (None, _) => "training".into(),
            }
        );
    }
    md.push('\n');
    Some(md)
}

/// A line on repeated data when any finished run went past one epoch.
pub fn repeated_data(rows: &[Row]) -> Option<String> {
    let over: Vec<(&str, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.run.as_str(), r.epochs?)))
        .filter(|(_, e)| *e > 1.0)
        .collect();
    let (worst, max) = over.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(format!(
        "**Repeated data:** {} of {} runs trained past one epoch of the corpus's training split (most: {worst}, {max:.2} epochs). Muennighoff et al. 2023 find up to ~4 epochs worth almost as much as fresh tokens, and less beyond; these runs' losses are slightly optimistic for their token counts if the corpus were larger.\n\n",
        over.len(),
        rows.len()
    ))
}
