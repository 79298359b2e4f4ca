//! `scalelab check [--device D] [--json]` and `scalelab check coord --config FILE`.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub cmd: Option<CheckCmd>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum CheckCmd {
    /// μP coordinate check: activation RMS per layer across widths, SP and μP.
    Coord(CoordArgs),
}

#[derive(Args, Debug)]
pub struct CoordArgs {
    /// Run config: depth, heads, seq_len, vocab, base_width, batch, lr, kernels.
    #[arg(long)]
    pub config: PathBuf,
    /// Widths (d_model), each a multiple of model.n_head.
    #[arg(long, value_delimiter = ',', default_values_t = [64, 128, 256, 512])]
    pub widths: Vec<usize>,
    /// Optimizer steps (activations are measured before each and after the last).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Folder for coord.csv (`scalelab report DIR` charts it).
    #[arg(long, default_value = "coord")]
    pub out: PathBuf,
    /// `key=value` config overrides.
    #[arg(long = "set")]
    pub set: Vec<String>,
}

fn coord(a: CoordArgs) -> Result<i32> {
    if a.widths.len() < 2 || a.widths.contains(&0) {
        bail!("--widths: give at least two positive widths");
    }
    let cfg = crate::config::RunConfig::load(&a.config, &a.set)?;
    let rows = super::coord::coord_check(&cfg, &a.widths, a.steps)?;
    std::fs::create_dir_all(&a.out)?;
    let path = a.out.join(super::coord::COORD_CSV);
    crate::fsx::write_atomic(&path, super::coord::to_csv(&rows).as_bytes())?;
    use crate::config::Parametrization::{Mup, Sp};
    for layer in ["embed", "h.0.attn", "ln_f", "logits"] {
        println!(
            "{layer:<10} RMS widest/narrowest after {} steps: SP {:.2}x, μP {:.2}x",
            a.steps,
            super::coord::growth(&rows, Sp, layer),
            super::coord::growth(&rows, Mup, layer)
        );
    }
    println!(
        "wrote {} (chart: scalelab report {})",
        path.display(),
        a.out.display()
    );
    Ok(0)
}

/// `scalelab check`: exit 1 when a check fails.
pub fn run(a: CheckArgs) -> Result<i32> {
    if let Some(CheckCmd::Coord(c)) = a.cmd {
        return coord(c);
    }
    let dev =
        crate::device::open_device(&a.device).map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let name = crate::device::device_name(&dev).unwrap_or_else(|| a.device.clone());
    let rows = super::run(&dev);
    let failed = rows.iter().filter(|r| !r.pass).count();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"device": name, "failed": failed, "checks": rows})
            )?
        );
    } else {
        println!("checks on {name}:");
        for r in &rows {
            println!(
                "  {} {:<58} {:>9.2e} (tolerance {:.0e})  {}",
                if r.pass { "ok  " } else { "FAIL" },
                r.check,
                r.value,
                r.tolerance,
                r.detail
            );
        }
        println!("{} of {} checks passed", rows.len() - failed, rows.len());
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
