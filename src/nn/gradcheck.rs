//! Test helper: check a layer's backward against central finite
//! differences of the scalar `L = sum(y * r)` for a fixed random `r`.

use super::{Layer, Mode};
use crate::rng::Rng;

/// Random vector with entries in [-1, 1).
pub fn rand_vec(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| 2.0 * rng.uniform_f32() - 1.0).collect()
}

fn loss(layer: &mut dyn Layer, x: &[f32], r: &[f32], batch: usize, mode: Mode) -> f64 {
    let mut y = vec![0.0; batch * layer.out_len()];
    layer.forward(x, &mut y, batch, mode);
    y.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// Compare analytic input and parameter gradients with finite differences
/// (step `h`) at `x`; panics naming the first entry off by more than `tol`
/// (relative to the larger magnitude, absolute below 1). Checks at most
/// `max_checks` entries per tensor, spread evenly.
pub fn check(
    layer: &mut dyn Layer,
    x: &[f32],
    batch: usize,
    mode: Mode,
    h: f32,
    tol: f64,
    max_checks: usize,
) {
    let mut rng = Rng::new(99);
    let mut y = vec![0.0; batch * layer.out_len()];
    layer.forward(x, &mut y, batch, mode);
    let r = rand_vec(&mut rng, y.len());
    let mut dx = vec![0.0; x.len()];
    layer.backward(x, &y, &r, Some(&mut dx), batch, true);

    let pick = |n: usize| -> Vec<usize> {
        let step = (n / max_checks.max(1)).max(1);
        (0..n).step_by(step).collect()
    };
    let mut xp = x.to_vec();
    for i in pick(x.len()) {
        let orig = xp[i];
        xp[i] = orig + h;
        let lp = loss(layer, &xp, &r, batch, mode);
        xp[i] = orig - h;
        let lm = loss(layer, &xp, &r, batch, mode);
        xp[i] = orig;
        let num = (lp - lm) / (2.0 * h as f64);
        assert_close("input", i, dx[i] as f64, num, tol);
    }
    let grads: Vec<Vec<f32>> = layer.params().iter().map(|p| p.grad.clone()).collect();
    for (pi, g) in grads.iter().enumerate() {
        let name = layer.params()[pi].name;
        for i in pick(g.len()) {
            let orig = layer.params()[pi].value[i];
            layer.params_mut()[pi].value[i] = orig + h;
            let lp = loss(layer, x, &r, batch, mode);
            layer.params_mut()[pi].value[i] = orig - h;
            let lm = loss(layer, x, &r, batch, mode);
            layer.params_mut()[pi].value[i] = orig;
            let num = (lp - lm) / (2.0 * h as f64);
            assert_close(name, i, g[i] as f64, num, tol);
        }
    }
}

/// Assert that `got` and `want` agree within `tol`, relative to the larger
/// magnitude (absolute when both are below 1).
pub fn assert_close(what: &str, i: usize, got: f64, want: f64, tol: f64) {
    let scale = got.abs().max(want.abs()).max(1.0);
    assert!(
        (got - want).abs() <= tol * scale,
        "{what}[{i}]: analytic {got} vs numeric {want}"
    );
}
