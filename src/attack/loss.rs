//! Per-image attack losses on a model's raw outputs and their input
//! gradients: cross-entropy, the difference of logits ratio (DLR, Croce &
//! Hein 2020), untargeted and targeted, and the margin Square attack uses.
//!
//! Every loss here is one an attacker *raises*: CE of the true label,
//! `DLR = -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3 + 1e-12)` and targeted
//! `-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)` (with
//! `z_pi1 >= z_pi2 >= ...` the sorted outputs), as in the AutoAttack code. DLR does not
//! change when the outputs are scaled by `c > 0` or shifted, so it is not
//! fooled by a model whose softmax saturates.

use crate::model::Model;
use crate::nn::{Mode, head::argmax_rows, sce};

/// Which loss an attack climbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Softmax cross-entropy of the true label.
    Ce,
    /// Untargeted difference of logits ratio.
    Dlr,
    /// Targeted DLR; the target of each image is given beside its label.
    DlrTargeted,
}

/// Indices of the four largest values of `z` (fewer if `z` is shorter),
/// largest first; ties keep the lower index first.
fn top4(z: &[f32]) -> [usize; 4] {
    let mut top = [usize::MAX; 4];
    for (i, &v) in z.iter().enumerate() {
        let mut k = 4;
        while k > 0 && (top[k - 1] == usize::MAX || v > z[top[k - 1]]) {
            k -= 1;
        }
        if k < 4 {
            top.copy_within(k..3, k + 1);
            top[k] = i;
        }
    }
    let last = top.iter().rposition(|&t| t != usize::MAX).unwrap_or(0);
    let fill = top[last];
    for t in top.iter_mut().filter(|t| **t == usize::MAX) {
        *t = fill;
    }
    top
}

/// Loss of one image's outputs `z` with label `y` (and `target` for the
/// targeted DLR); writes `dL/dz` into `grad` when given.
pub fn row_loss(
    kind: LossKind,
    z: &[f32],
    y: usize,
    target: usize,
    grad: Option<&mut [f32]>,
) -> f32 {
    match kind {
        LossKind::Ce => sce::loss(z, &[y as u8], z.len(), grad),
        LossKind::Dlr | LossKind::DlrTargeted => {
            let t = top4(z);
            let other = if kind == LossKind::Dlr {
                // The largest output other than the label.
                if t[0] == y { t[1] } else { t[0] }
            } else {
                target
            };
            let num = z[y] as f64 - z[other] as f64;
            let (den, w3, w4) = if kind == LossKind::Dlr {
                (z[t[0]] as f64 - z[t[2]] as f64 + 1e-12, 1.0, 0.0)
            } else {
                (
                    z[t[0]] as f64 - 0.5 * (z[t[2]] as f64 + z[t[3]] as f64) + 1e-12,
                    0.5,
                    0.5,
                )
            };
            if let Some(g) = grad {
                g.fill(0.0);
                // L = -num / den: dL = -dnum / den + num / den^2 * dden.
                let a = 1.0 / den;
                let b = num / (den * den);
                let mut add = |i: usize, v: f64| g[i] += v as f32;
                add(y, -a);
                add(other, a);
                add(t[0], b);
                add(t[2], -b * w3);
                if w4 != 0.0 {
                    add(t[3], -b * w4);
                }
            }
            (-num / den) as f32
        }
    }
}

/// Margin of one image's outputs: `z_y - max_{i!=y} z_i` (positive while
/// the image is classified correctly).
pub fn margin(z: &[f32], y: usize) -> f32 {
    let other = z
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != y)
        .fold(f32::NEG_INFINITY, |m, (_, &v)| m.max(v));
    z[y] - other
}

/// Forward the `n` images `x`, write each image's loss into `loss`, its
/// predicted class into `pred`, and the gradient of the summed loss with
/// respect to `x` into `dx`. `targets` is read by the targeted DLR only.
#[allow(clippy::too_many_arguments)]
pub fn loss_gradient(
    model: &mut Model,
    kind: LossKind,
    x: &[f32],
    labels: &[u8],
    targets: &[usize],
    loss: &mut Vec<f32>,
    pred: &mut Vec<usize>,
    dx: &mut [f32],
) {
    let n = labels.len();
    let classes = model.arch.classes;
    let in_len = model.arch.in_len();
    model.net.forward(&x[..n * in_len], n, Mode::Eval);
    let (out, grad) = model.net.output_and_grad_mut();
    pred.clear();
    pred.extend(argmax_rows(out, classes));
    loss.clear();
    for (i, (z, g)) in out
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .take(n)
        .enumerate()
    {
        let t = targets.get(i).copied().unwrap_or(0);
        loss.push(row_loss(kind, z, labels[i] as usize, t, Some(g)));
    }
    // See `input_gradient`: tiny probabilities would send subnormals
    // through the backward pass.
    for g in grad.iter_mut() {
        if g.abs() < f32::MIN_POSITIVE {
            *g = 0.0;
        }
    }
    model
        .net
        .backward(&x[..n * in_len], Some(&mut dx[..n * in_len]), false);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(kind: LossKind, z: &[f32], y: usize, t: usize) -> Vec<f32> {
        let h = 1e-3f32;
        (0..z.len())
            .map(|i| {
                let mut p = z.to_vec();
                p[i] += h;
                let mut m = z.to_vec();
                m[i] -= h;
                (row_loss(kind, &p, y, t, None) - row_loss(kind, &m, y, t, None)) / (2.0 * h)
            })
            .collect()
    }

    #[test]
    fn dlr_gradients_match_finite_differences() {
        let z = [0.3f32, 2.0, -1.0, 1.1, 0.7, -0.2];
        for (kind, y, t) in [
            (LossKind::Dlr, 1, 0),
            (LossKind::Dlr, 4, 0),
            (LossKind::DlrTargeted, 1, 3),
            (LossKind::DlrTargeted, 3, 5),
            (LossKind::Ce, 2, 0),
        ] {
            let mut g = vec![0.0; z.len()];
            row_loss(kind, &z, y, t, Some(&mut g));
            let n = numeric(kind, &z, y, t);
            for (a, b) in g.iter().zip(&n) {
                assert!((a - b).abs() < 2e-3, "{kind:?} y={y}: {g:?} vs {n:?}");
            }
        }
    }

    #[test]
    fn dlr_is_invariant_to_scaling_and_shifting_the_outputs() {
        let z = [0.3f32, 2.0, -1.0, 1.1, 0.7, -0.2];
        for kind in [LossKind::Dlr, LossKind::DlrTargeted] {
            let base = row_loss(kind, &z, 3, 5, None);
            for (c, s) in [(1e-3f32, 0.0f32), (7.0, -3.0), (1e6, 5.0)] {
                let zz: Vec<f32> = z.iter().map(|v| v * c + s).collect();
                let l = row_loss(kind, &zz, 3, 5, None);
                assert!(
                    (l - base).abs() < 1e-4 * base.abs().max(1.0),
                    "{kind:?} x{c}: {l} vs {base}"
                );
            }
            // CE is not: a large scale saturates it.
        }
        let ce1 = row_loss(LossKind::Ce, &z, 3, 0, None);
        let zz: Vec<f32> = z.iter().map(|v| v * 100.0).collect();
        assert!((row_loss(LossKind::Ce, &zz, 3, 0, None) - ce1).abs() > 1.0);
    }

    #[test]
    fn top4_and_margin() {
        let z = [0.5f32, 3.0, 3.0, -1.0, 2.0];
        assert_eq!(top4(&z), [1, 2, 4, 0]);
        assert_eq!(top4(&[1.0, 2.0]), [1, 0, 0, 0]);
        assert_eq!(margin(&z, 4), -1.0);
        assert_eq!(margin(&z, 1), 0.0);
    }
}
