//! scalelab: a miniature but real LLM-training engine on candle for scaling
//! experiments. Layout follows the data path: config → data → model → train →
//! flops / hardware → (estimate, scaling, report).

pub mod bench;
pub mod check;
pub mod cli;
pub mod config;
pub mod crash;
pub mod data;
pub mod device;
pub mod estimate;
pub mod fault;
pub mod flops;
pub mod fmt;
pub mod fsx;
pub mod hardware;
pub mod interop;
pub mod memory;
pub mod model;
pub mod profile;
pub mod report;
pub mod rundir;
pub mod sample;
pub mod scaling;
pub mod sweep;
pub mod train;
