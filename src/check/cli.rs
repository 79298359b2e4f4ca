//! `scalelab check [--device D] [--json]`.

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
}

/// `scalelab check`: exit 1 when a check fails.
pub fn run(a: CheckArgs) -> Result<i32> {
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
