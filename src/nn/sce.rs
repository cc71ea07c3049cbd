//! The softmax cross-entropy head: softmax over the outputs, loss = mean
//! over the batch of `-log p(label)`.

/// Loss of logits `out` (`[batch, classes]`) against `labels`; writes
/// `dL/dout = (softmax - onehot) / batch` into `grad` when given. Uses the
/// log-sum-exp trick, so large logits neither overflow nor lose precision.
pub fn loss(out: &[f32], labels: &[u8], classes: usize, mut grad: Option<&mut [f32]>) -> f32 {
    let batch = labels.len();
    let mut total = 0.0f64;
    for (s, row) in out[..batch * classes].chunks_exact(classes).enumerate() {
        let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let sum: f64 = row.iter().map(|&o| ((o - max) as f64).exp()).sum();
        let lse = max as f64 + sum.ln();
        let y = labels[s] as usize;
        total += lse - row[y] as f64;
        if let Some(g) = grad.as_deref_mut() {
            let g = &mut g[s * classes..(s + 1) * classes];
            for (c, (g, &o)) in g.iter_mut().zip(row).enumerate() {
                let p = (o as f64 - lse).exp();
                let t = if c == y { 1.0 } else { 0.0 };
                *g = ((p - t) / batch as f64) as f32;
            }
        }
    }
    (total / batch as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::assert_close;

    #[test]
    fn value_gradient_and_stability() {
        let out = [0.5f32, -1.0, 2.0, 0.0, 1.0, 0.25];
        let labels = [2u8, 1];
        let lse0 = (0.5f64.exp() + (-1.0f64).exp() + 2.0f64.exp()).ln();
        let lse1 = (1.0 + 1.0f64.exp() + 0.25f64.exp()).ln();
        let want = ((lse0 - 2.0) + (lse1 - 1.0)) / 2.0;
        assert!((loss(&out, &labels, 3, None) as f64 - want).abs() < 1e-6);
        let mut g = [0.0; 6];
        loss(&out, &labels, 3, Some(&mut g));
        let h = 1e-3f32;
        for i in 0..6 {
            let mut p = out;
            p[i] += h;
            let mut m = out;
            m[i] -= h;
            let num =
                (loss(&p, &labels, 3, None) - loss(&m, &labels, 3, None)) as f64 / (2.0 * h as f64);
            assert_close("sce", i, g[i] as f64, num, 1e-3);
        }
        // Huge logits: finite loss, gradient rows still sum to zero.
        let big = [1000.0f32, -1000.0, 0.0];
        let mut g = [0.0; 3];
        let l = loss(&big, &[1], 3, Some(&mut g));
        assert!((l - 2000.0).abs() < 1e-3, "{l}");
        assert!(g.iter().sum::<f32>().abs() < 1e-6);
    }
}
