//! `scalelab estimate claims`: each claim's recomputed figures and verdict, and
//! the command's text and JSON output.

mod common;

use common::estimate::{close, json_ok, scalelab, tmp};
use scalelab::estimate::{claims, presets::Presets};
use scalelab::hardware::Catalog;
use std::collections::HashMap;

fn claim_figures() -> HashMap<String, (String, HashMap<String, f64>)> {
    let all = claims::all(
        &Catalog::parse(include_str!("../configs/hardware.toml"), "test").unwrap(),
        &Presets::builtin().unwrap(),
    )
    .unwrap();
    all.into_iter()
        .map(|c| {
            (
                c.id.clone(),
                (
                    c.verdict.as_str().to_string(),
                    c.figures.into_iter().collect(),
                ),
            )
        })
        .collect()
}

#[test]
fn claims_recompute_each_figure() {
    let c = claim_figures();
    let f = |id: &str, k: &str| {
        *c[id]
            .1
            .get(k)
            .unwrap_or_else(|| panic!("claim {id} lacks {k}"))
    };
    let v = |id: &str| c[id].0.as_str();
    // 1. 6·175e9·300e9 within 1% of 3.14e23.
    close(f("1", "flops"), 3.14e23, 0.01, "GPT-3 FLOPs");
    assert_eq!(v("1"), "consistent");
    // 2. The 4070 Ti year: 40.1 TFLOP/s (its FP32 rate), 1.14e21, 0.36%, ~275 years.
    close(f("2", "implied_peak_tflops"), 40.1, 0.005, "implied peak");
    close(f("2", "flops_per_year"), 1.14e21, 0.005, "FLOPs per year");
    close(f("2", "share_percent"), 0.36, 0.02, "share");
    close(f("2", "gpu_years"), 275.0, 0.01, "GPU-years");
    // 3. 35 A100-years needs ~91% of the BF16 peak; Lambda's 355 V100-years = 28 TFLOP/s, $1.48/h.
    close(f("3a", "implied_mfu"), 0.911, 0.005, "A100 utilisation");
    assert_eq!(v("3a"), "inconsistent");
    close(f("3b", "sustained_tflops"), 28.0, 0.01, "V100 sustained");
    close(f("3b", "usd_per_gpu_hour"), 1.478, 0.005, "V100 price");
    // 4. nanochat: 264 H100-h, 8.49× at FP16 accumulate, 2,112–2,376 h, 88–99 days, 30 GB.
    assert_eq!(f("4", "h100_hours"), 264.0);
    close(f("4", "ratio_fp16acc"), 8.486, 0.001, "H100/4070 fp16-acc");
    close(f("4", "ratio_bf16"), 16.97, 0.001, "H100/4070 bf16");
    assert_eq!(
        (f("4", "hours_low"), f("4", "hours_high")),
        (2112.0, 2376.0)
    );
    close(f("4", "days_high"), 99.0, 0.001, "days");
    close(f("4", "memory_gb"), 30.06, 0.001, "nanochat memory");
    assert_eq!(f("4", "tdp_w"), 200.0);
    // 5. Llama: 1,720,320 is Llama 2 70B; 7.7M = Llama 3 8B + 70B; 5.39 GWh at 700 W.
    assert_eq!(f("5", "llama2_70b_gpu_hours"), 1_720_320.0);
    assert_eq!(f("5", "llama3_family_gpu_hours"), 7.7e6);
    assert_eq!(f("5", "llama31_405b_gpu_hours"), 30.84e6);
    close(f("5", "gwh_at_tdp"), 5.39, 0.001, "Llama GWh");
    // 6. Cost table.
    assert_eq!(f("6a", "usd"), 22_000.0);
    close(f("6b", "gpu_hours_low"), 8000.0, 1e-9, "20B GPU-h");
    close(
        f("6b", "tokens_per_param_low"),
        1.497,
        0.001,
        "20B tokens/param",
    );
    assert_eq!(f("6c", "min_gpus"), 14.0);
    close(
        f("6c", "chinchilla_usd"),
        3.60e6,
        0.005,
        "70B Chinchilla cost",
    );
    close(f("6e", "gpt3_usd"), 1.92e6, 0.005, "GPT-3 at table prices");
    assert_eq!(v("6e"), "unverifiable");
    // 7. Patterson et al.: 1,289 MWh.
    close(f("7a", "mwh"), 1287.0, 0.005, "GPT-3 MWh");
    // 8. Sardana example under Hoffmann's unrounded law: 1.64e22 (16.3%) with a 7.1B optimum.
    close(
        f("8", "hoffmann2022_saved_flops"),
        1.635e22,
        0.005,
        "Hoffmann saving",
    );
    close(
        f("8", "hoffmann2022_saved_fraction"),
        0.1632,
        0.005,
        "Hoffmann fraction",
    );
    close(
        f("8", "hoffmann2022_optimal_params"),
        7.12e9,
        0.005,
        "Hoffmann N",
    );
    close(
        f("8", "besiroglu2024_saved_fraction"),
        0.290,
        0.01,
        "Besiroglu fraction",
    );
    assert_eq!(v("8"), "consistent");
}

#[test]
fn claims_cli_text_and_json() {
    let d = tmp();
    let out = scalelab(d.path(), &["claims"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[8] Sardana") && text.contains("verdict:") && text.contains("claims: "),
        "{text}"
    );
    let j = json_ok(d.path(), &["claims"]);
    let arr = j.as_array().unwrap();
    assert!(arr.len() >= 15);
    assert!(arr
        .iter()
        .all(|c| ["consistent", "inconsistent", "unverifiable"]
            .contains(&c["verdict"].as_str().unwrap())));
}

// ---- the corrections of issue 16 ----

/// Claim 8 used to be judged against a box of constants that round to 0.34 / 0.28; with the
/// unrounded law it is reproduced directly, and the printed constants give much less.
#[test]
fn claim8_is_recomputed_with_the_unrounded_law() {
    let c = claim_figures();
    let f = |k: &str| c["8"].1[k];
    assert_eq!(c["8"].0, "consistent");
    close(f("hoffmann2022_saved_fraction"), 0.17, 0.10, "~17%");
    close(f("hoffmann2022_saved_flops"), 1.7e22, 0.10, "~1.7e22");
    close(f("hoffmann2022_optimal_params"), 7e9, 0.10, "~7B");
    // The rounded law as printed: 1.31e22 (10.1%) and 8.0B — outside the claim's "~".
    close(
        f("hoffmann2022-rounded_saved_fraction"),
        0.1011,
        0.005,
        "rounded fraction",
    );
    close(
        f("hoffmann2022-rounded_optimal_params"),
        8.02e9,
        0.005,
        "rounded N",
    );
}

/// Claims 2 and 3a state the same kind of thing (one GPU, so many FLOPs, so long) and are
/// judged by one rule: the implied share of the dense BF16 peak against PaLM's 46.2% MFU.
#[test]
fn claims_2_and_3a_share_one_utilisation_rule() {
    let c = claim_figures();
    let implied2 = c["2"].1["implied_mfu_bf16"];
    let implied3 = c["3a"].1["implied_mfu"];
    close(implied2, 0.4504, 0.005, "4070 Ti share of BF16 peak");
    close(implied3, 0.911, 0.005, "A100 share of BF16 peak");
    for (id, implied) in [("2", implied2), ("3a", implied3)] {
        let want = if implied <= 0.462 {
            "consistent"
        } else {
            "inconsistent"
        };
        assert_eq!(c[id].0, want, "claim {id} at {implied}");
    }
    let all = claims::all(
        &Catalog::parse(include_str!("../configs/hardware.toml"), "test").unwrap(),
        &Presets::builtin().unwrap(),
    )
    .unwrap();
    for id in ["2", "3a"] {
        let a = &all.iter().find(|c| c.id == id).unwrap().assumption;
        assert!(a.contains("best published MFU (46.2%"), "claim {id}: {a}");
    }
}

/// Claim 7b is not judged against the catalog's own unverified prices: the providers document
/// only "up to" ceilings, so it is unverifiable.
#[test]
fn claim7b_spot_is_unverifiable_against_documented_ranges() {
    let c = claim_figures();
    assert_eq!(c["7b"].0, "unverifiable");
    assert_eq!(c["7b"].1["documented_ceiling_low"], 0.90);
    close(c["7b"].1["catalog_saving_low"], 0.30, 0.01, "catalog low");
    close(
        c["7b"].1["catalog_saving_high"],
        0.545,
        0.01,
        "catalog high",
    );
}

/// Claim 9: two 24,576-GPU clusters (Meta, March 2024), but Llama 3 405B ran on up to 16,384.
#[test]
fn claim9_meta_clusters() {
    let c = claim_figures();
    let f = |k: &str| c["9"].1[k];
    assert_eq!(c["9"].0, "consistent");
    assert_eq!(f("cluster_gpus"), 24_576.0);
    assert_eq!(f("fleet_gpus"), 49_152.0);
    assert_eq!(f("max_gpus_405b"), 16_384.0);
    close(f("share_of_one_cluster"), 2.0 / 3.0, 1e-12, "16K of 24K");
    assert_eq!(f("gpu_hours_405b"), 30.84e6);
    assert_eq!(f("herd_gpu_hours"), 39.3e6);
    close(
        f("min_days_405b"),
        30.84e6 / 16_384.0 / 24.0,
        1e-12,
        "405B days",
    );
}
