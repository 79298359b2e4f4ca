//! Claim [7b], "spot instances save 40–70%": judged against what the providers
//! document, not against the catalog's own (unverified) typical prices.

use super::{claim, Claim, Verdict};
use crate::hardware::Catalog;

/// The discounts providers document, as (provider, ceiling, where). Each is an "up to" over all
/// machine types; none documents a range for GPU instances.
const DOCUMENTED: [(&str, f64, &str); 2] = [
    // docs.cloud.google.com/compute/docs/instances/create-use-spot: "a discount of up to 91% off
    // of the on-demand price" (earlier versions of the page: "60-91%").
    (
        "Google Cloud Spot VMs",
        0.91,
        "Compute Engine docs, create-use-spot",
    ),
    // AWS's EC2 Spot page advertises "up to 90%" off On-Demand (quoted by secondary sources; the
    // AWS page itself was not re-read here).
    ("AWS EC2 Spot", 0.90, "aws.amazon.com/ec2/spot"),
];

pub(super) fn spot_savings(cat: &Catalog) -> Claim {
    let savings: Vec<(String, f64)> = cat
        .entries
        .iter()
        .filter_map(|(id, h)| {
            Some((
                id.clone(),
                1.0 - h.price_spot_usd_h? / h.price_on_demand_usd_h?,
            ))
        })
        .collect();
    let lo = savings.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let hi = savings
        .iter()
        .map(|s| s.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let list = savings
        .iter()
        .map(|(id, s)| format!("{id} {:.0}%", 100.0 * s))
        .collect::<Vec<_>>()
        .join(", ");
    let documented = DOCUMENTED
        .iter()
        .map(|(who, up_to, src)| format!("{who} up to {:.0}% ({src})", 100.0 * up_to))
        .collect::<Vec<_>>()
        .join("; ");
    claim(
        "7b",
        "Spot instances save 40–70%",
        format!("documented discounts: {documented} — ceilings over all machine types, no GPU-specific range; for reference only, the catalog's unverified typical prices: {list} → {:.0}–{:.0}%", 100.0 * lo, 100.0 * hi),
        Verdict::Unverifiable,
        "40–70% lies inside the documented ceilings (0 to ~90%), which neither confirm nor refute it: no provider documents the discount on GPU instances, spot prices move with demand and region, and the catalog's prices are not verified; spot capacity is also preemptible, which adds restart overhead".into(),
        &[("documented_ceiling_low", DOCUMENTED.iter().map(|d| d.1).fold(f64::INFINITY, f64::min)), ("catalog_saving_low", lo), ("catalog_saving_high", hi)],
    )
}
