//! The command layer: the argument tree and its dispatch. Each domain's
//! `cli.rs` holds its commands' arguments and a `run` entry point.

use crate::data::cli::DataCommand;
use crate::flops::cli::{FlopsArgs, FlopsCommand};
use crate::{bench, check, data, estimate, flops, interop, report, sample, scaling, sweep, train};
use anyhow::Result;
use clap::{Parser, Subcommand};
use interop::cli::InteropCommand;

#[derive(Parser, Debug)]
#[command(
    name = "scalelab",
    version,
    about = "Train small GPTs, count their FLOPs, fit scaling laws, estimate the cost of big ones"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from a TOML config.
    Train(train::cli::TrainArgs),
    /// Dataset preparation.
    #[command(subcommand)]
    Data(DataCommand),
    /// Generate text from a trained run.
    Sample(sample::cli::SampleArgs),
    /// Parameter counts and FLOPs per token of a config.
    Info(flops::cli::InfoArgs),
    /// Exact FLOP breakdown and the published conventions side by side.
    Flops(FlopsArgs),
    /// Training throughput on synthetic batches.
    Bench(bench::cli::BenchArgs),
    /// Measure this device (GEMM rates, bandwidth, per-op overhead), fit the step-time model, write a device profile.
    Calibrate(bench::cli::CalibrateArgs),
    /// Correctness checks on a device: gradients vs finite differences, device vs CPU, bf16/f16 vs fp32.
    Check(check::cli::CheckArgs),
    /// Run a scaling sweep (IsoFLOP, token or tokens-per-parameter grid).
    Sweep(sweep::cli::SweepArgs),
    /// Training cost, memory and scaling-law estimates; `estimate claims` checks the cost articles.
    Estimate(estimate::cli::EstimateArgs),
    /// Fit scaling laws (Chinchilla approaches 1–3) to a sweep's results CSV.
    Fit(scaling::cli::FitArgs),
    /// Write report.md and charts (SVG + PNG) for a run or sweep folder.
    Report(report::cli::ReportArgs),
    /// Write a run's checkpoint as a Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer.json).
    Export(interop::cli::ExportArgs),
    /// Read a Hugging Face GPT-2 folder into a new run folder (for `sample`, `logits`, `train --resume`).
    Import(interop::cli::ImportArgs),
    /// Logits of a run's model on given token ids (checks against other implementations).
    Logits(interop::cli::LogitsArgs),
}

/// Run the CLI; the returned code is the process exit status.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Train(a) => train::cli::run(a),
        Command::Data(c) => data::cli::run(c),
        Command::Sample(a) => sample::cli::run(a),
        Command::Info(a) => flops::cli::run(FlopsCommand::Info(a)),
        Command::Flops(a) => flops::cli::run(FlopsCommand::Flops(a)),
        Command::Bench(a) => bench::cli::run(a),
        Command::Calibrate(a) => bench::cli::calibrate(a),
        Command::Check(a) => check::cli::run(a),
        Command::Sweep(a) => sweep::cli::run(a),
        Command::Estimate(a) => estimate::cli::run(a),
        Command::Fit(a) => scaling::cli::run(a),
        Command::Report(a) => report::cli::run(a),
        Command::Export(a) => interop::cli::run(InteropCommand::Export(a)),
        Command::Import(a) => interop::cli::run(InteropCommand::Import(a)),
        Command::Logits(a) => interop::cli::run(InteropCommand::Logits(a)),
    }
}
