//! Configs: malformed or contradictory `tiny.toml` variants given to `train`.

use super::{run_fails, run_ok, setup, train_args, variant};

#[test]
fn config_malformed_toml() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = = 2");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["bad.toml"]);
}

#[test]
fn config_unknown_key() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = 2\nn_layers = 3");
    run_fails(
        &fx,
        train_args(&c, &fx.path("o")),
        &["bad.toml", "n_layers"],
    );
}

#[test]
fn config_unknown_section() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "[optim]", "[optimizer]");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["optimizer"]);
}

#[test]
fn config_n_head_does_not_divide_d_model() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_head = 2", "n_head = 3");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["n_head", "d_model"]);
}

#[test]
fn config_zero_base_width() {
    let (fx, _) = setup();
    let c = variant(
        &fx,
        "bad.toml",
        "n_layer = 2",
        "n_layer = 2\nbase_width = 0",
    );
    run_fails(&fx, train_args(&c, &fx.path("o")), &["model.base_width"]);
}

#[test]
fn config_unknown_parametrization() {
    let (fx, _) = setup();
    let c = variant(
        &fx,
        "bad.toml",
        "n_layer = 2",
        "n_layer = 2\nparametrization = \"ntk\"",
    );
    run_fails(&fx, train_args(&c, &fx.path("o")), &["ntk", "sp", "mup"]);
}

#[test]
fn config_zero_layers() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = 0");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["model.n_layer"]);
}

#[test]
fn config_negative_size() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "d_model = 32", "d_model = -32");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["d_model"]);
}

#[test]
fn config_absurd_size() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "d_model = 32", "d_model = 3200000");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["d_model", "absurd"]);
}

#[test]
fn config_missing_required_field() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "seq_len = 32", "");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["seq_len"]);
}

#[test]
fn config_depth_contradicts_explicit_dials() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = 2\ndepth = 3");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["depth", "n_layer"]);
}

#[test]
fn config_negative_learning_rate() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "optim.lr=-1".into()]);
    run_fails(&fx, a, &["optim.lr"]);
}

#[test]
fn config_min_lr_above_lr() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "min_lr=1".into()]);
    run_fails(&fx, a, &["min_lr"]);
}

#[test]
fn config_beta_out_of_range() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "optim.beta2=1.5".into()]);
    run_fails(&fx, a, &["beta2"]);
}

#[test]
fn config_no_stop_condition() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "max_steps = 12", "");
    run_fails(
        &fx,
        train_args(&c, &fx.path("o")),
        &["max_steps", "max_tokens", "max_flops"],
    );
}

#[test]
fn config_wrong_type() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.batch_size=\"big\"".into()]);
    run_fails(&fx, a, &["batch_size"]);
}

#[test]
fn config_file_missing() {
    let (fx, _) = setup();
    run_fails(&fx, train_args("nope.toml", &fx.path("o")), &["nope.toml"]);
}

#[test]
fn config_seq_len_longer_than_data() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    // Longer than the validation split (~8.7k tokens), short enough to fit in memory.
    a.extend(["--set".into(), "model.seq_len=9000".into()]);
    run_fails(&fx, a, &["seq_len", "longer than"]);
}

#[test]
fn config_vocab_smaller_than_tokenizer() {
    let (fx, cfg) = setup();
    // Prepare with the default 384-token BPE, then ask for a 300-entry model.
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=1".into()]);
    run_ok(&fx, &a);
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o2"));
    a.extend(["--set".into(), "model.vocab_size=300".into()]);
    run_fails(&fx, a, &["model.vocab_size", "tokenizer"]);
}

#[test]
fn config_ranks_on_cuda_without_nccl() {
    let (fx, _) = setup();
    let cfg = variant(
        &fx,
        "r.toml",
        "batch_size = 4",
        "batch_size = 4\nranks = 2\ndevice = \"cuda\"",
    );
    run_fails(
        &fx,
        train_args(&cfg, &fx.path("o")),
        &["train.ranks", "nccl"],
    );
}

#[test]
fn config_zero_batch_size() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.batch_size=0".into()]);
    run_fails(&fx, a, &["train.batch_size", "> 0"]);
}

#[test]
fn config_negative_steps() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=-3".into()]);
    run_fails(&fx, a, &["train.max_steps", "-3"]);
}

#[test]
fn config_unknown_nonfinite_policy() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.on_nonfinite=\"ignore\"".into()]);
    run_fails(&fx, a, &["train.on_nonfinite", "ignore"]);
}

#[test]
fn config_tokenizer_file_missing() {
    let (fx, _) = setup();
    let c = variant(
        &fx,
        "bad.toml",
        "[data]",
        "[data]\ntokenizer = \"nope.json\"",
    );
    run_fails(
        &fx,
        train_args(&c, &fx.path("o")),
        &["tokenizer", "nope.json"],
    );
}
