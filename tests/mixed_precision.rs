//! The mixed-precision plumbing, checked on CPU (candle's CPU backend runs
//! bf16/f16 too, slowly): fp32 master weights and AdamW moments, forward and
//! backward in bf16/f16 through differentiable casts, loss statistics in fp32.
//! Every parameter must receive a gradient, the master weights must stay fp32,
//! and after a few steps the loss must track the fp32 run. The same code runs
//! on CUDA; the GPU figures are issue 5's.

use candle_core::{DType, Device};
use scalelab::check::precision::{losses, worst_gap, STEPS};
use scalelab::check::PRECISION_TOL;
use scalelab::device::DTypeSpec;

#[test]
fn bf16_and_f16_track_f32_with_fp32_masters() {
    let (f32_losses, _) = losses(DTypeSpec::F32, &Device::Cpu).unwrap();
    assert!(
        f32_losses[STEPS - 1] < f32_losses[0] - 0.5,
        "the fp32 run learns: {f32_losses:?}"
    );
    for dtype in [DTypeSpec::Bf16, DTypeSpec::F16] {
        let (l, params) = losses(dtype, &Device::Cpu).unwrap();
        for v in &params.vars {
            assert_eq!(
                v.dtype(),
                DType::F32,
                "{dtype:?}: master weights must stay fp32"
            );
        }
        // Within 2% of the fp32 loss at every step (bf16 has 8 mantissa bits: ~0.4% per rounding).
        let gap = worst_gap(&f32_losses, &l);
        assert!(
            gap < PRECISION_TOL,
            "{dtype:?}: loss {l:?} vs fp32 {f32_losses:?} (worst {:.2}%)",
            gap * 100.0
        );
    }
}
