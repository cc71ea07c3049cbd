//! The fast gradient sign method (Goodfellow et al. 2015): one step of size
//! `eps` along the sign of the input gradient of the loss, then clipped to
//! [0, 1]. Untargeted it climbs the loss of the true label; targeted it
//! descends the loss of the target.

use super::{Outcome, input_gradient, is_fooled, predict_rows, sign};
use crate::model::{Model, eval::EVAL_BATCH};

/// FGSM on the images `x` (`labels.len()` of them) with radius `eps`.
/// Runs with subnormals flushed to zero (see [`super::flush_denormals`]).
///
/// ```
/// use parana::attack::fgsm::fgsm;
/// use parana::model::{Arch, Model, init};
/// use parana::nn::Head;
/// let arch = Arch::custom(vec![32], vec![]).unwrap(); // 784-32-10
/// let mut m = Model::new(arch, Head::Sce);
/// init::init(&mut m, 7);
/// let x: Vec<f32> = (0..3 * 784).map(|i| (i % 17) as f32 / 16.0).collect();
/// let out = fgsm(&mut m, &x, &[1, 2, 3], 0.1, None);
/// // Every adversarial pixel is within eps of its image and within [0, 1].
/// assert!(out.adv.iter().zip(&x).all(|(a, x)| (a - x).abs() <= 0.1 + 1e-6 && (0.0..=1.0).contains(a)));
/// assert_eq!((out.pred.len(), out.fooled.len()), (3, 3));
/// ```
pub fn fgsm(model: &mut Model, x: &[f32], labels: &[u8], eps: f32, target: Option<u8>) -> Outcome {
    super::flush_denormals();
    let len = model.arch.in_len();
    let n = labels.len();
    let mut adv = x[..n * len].to_vec();
    let mut dx = vec![0.0f32; EVAL_BATCH.min(n.max(1)) * len];
    let mut pred = Vec::new();
    let mut all_pred = Vec::with_capacity(n);
    let mut goal = Vec::new();
    for start in (0..n).step_by(EVAL_BATCH) {
        let b = EVAL_BATCH.min(n - start);
        let xs = &x[start * len..(start + b) * len];
        goal.clear();
        match target {
            None => goal.extend_from_slice(&labels[start..start + b]),
            Some(t) => goal.resize(b, t),
        }
        input_gradient(model, xs, &goal, b, &mut dx, &mut pred);
        // Untargeted: raise the loss of the true label; targeted: lower the
        // loss of the target.
        let dir = if target.is_some() { -eps } else { eps };
        let a = &mut adv[start * len..(start + b) * len];
        for ((a, &x), &g) in a.iter_mut().zip(xs).zip(&dx[..b * len]) {
            *a = (x + dir * sign(g)).clamp(0.0, 1.0);
        }
        predict_rows(model, a, b, &mut pred);
        all_pred.extend_from_slice(&pred);
    }
    let fooled = all_pred
        .iter()
        .zip(&labels[..n])
        .map(|(&p, &y)| is_fooled(p, y, target))
        .collect();
    Outcome {
        adv,
        pred: all_pred,
        fooled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, Model};
    use crate::nn::Head;
    use crate::rng::Rng;

    /// A linear model `out = W x + b` (no hidden layer) with random weights.
    fn linear_model(seed: u64) -> Model {
        let mut m = Model::new(Arch::custom(vec![], vec![]).unwrap(), Head::Lq);
        let mut r = Rng::new(seed);
        for p in m.net.params_mut() {
            for v in p.value.iter_mut() {
                *v = (r.uniform_f32() - 0.5) * 0.2;
            }
        }
        m
    }

    /// For a linear model the input gradient of softmax cross-entropy is
    /// `Wᵀ (softmax(Wx + b) - onehot(y))`, so FGSM has a closed form.
    #[test]
    fn fgsm_on_a_linear_model_equals_the_closed_form() {
        let mut m = linear_model(5);
        let w = m.net.params().next().unwrap().value.clone();
        let b = m.net.params().nth(1).unwrap().value.clone();
        let mut r = Rng::new(9);
        let n = 7;
        let x: Vec<f32> = (0..n * 784).map(|_| r.uniform_f32()).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i * 3 % 10) as u8).collect();
        for (eps, target) in [(0.1f32, None), (0.3, Some(4u8))] {
            let got = fgsm(&mut m, &x, &labels, eps, target);
            for i in 0..n {
                let xi = &x[i * 784..(i + 1) * 784];
                let logits: Vec<f64> = (0..10)
                    .map(|c| {
                        b[c] as f64
                            + (0..784)
                                .map(|j| w[c * 784 + j] as f64 * xi[j] as f64)
                                .sum::<f64>()
                    })
                    .collect();
                let mx = logits.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = logits.iter().map(|l| (l - mx).exp()).sum();
                let y = target.unwrap_or(labels[i]) as usize;
                let d: Vec<f64> = (0..10)
                    .map(|c| (logits[c] - mx).exp() / z - if c == y { 1.0 } else { 0.0 })
                    .collect();
                for j in 0..784 {
                    let g: f64 = (0..10).map(|c| w[c * 784 + j] as f64 * d[c]).sum();
                    if g.abs() < 1e-7 {
                        continue; // f32 rounding could flip the sign
                    }
                    let s = if target.is_some() {
                        -g.signum()
                    } else {
                        g.signum()
                    };
                    let want = (xi[j] + eps * s as f32).clamp(0.0, 1.0);
                    assert!(
                        (got.adv[i * 784 + j] - want).abs() < 1e-6,
                        "image {i} pixel {j}: {} vs {want}",
                        got.adv[i * 784 + j]
                    );
                }
            }
        }
    }
}
