//! The linear-quadratic head (the article's "LQ" cost): no softmax, the
//! loss is the mean over batch and outputs of `(onehot - out)² / 2` on the
//! raw outputs.

/// Loss of `out` (`[batch, classes]`) against `labels`; writes `dL/dout`
/// into `grad` when given.
pub fn loss(out: &[f32], labels: &[u8], classes: usize, grad: Option<&mut [f32]>) -> f32 {
    let batch = labels.len();
    let scale = 1.0 / (batch * classes) as f64;
    let mut total = 0.0f64;
    for (s, row) in out[..batch * classes].chunks_exact(classes).enumerate() {
        for (c, &o) in row.iter().enumerate() {
            let t = if c == labels[s] as usize { 1.0 } else { 0.0 };
            total += ((o - t) as f64).powi(2);
        }
    }
    if let Some(g) = grad {
        for (s, (grow, row)) in g
            .chunks_exact_mut(classes)
            .zip(out.chunks_exact(classes))
            .take(batch)
            .enumerate()
        {
            for (c, (g, &o)) in grow.iter_mut().zip(row).enumerate() {
                let t = if c == labels[s] as usize { 1.0 } else { 0.0 };
                *g = ((o - t) as f64 * scale) as f32;
            }
        }
    }
    (total * scale / 2.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::assert_close;

    #[test]
    fn value_and_gradient() {
        let out = [0.5f32, -1.0, 2.0, 0.0, 1.0, 0.25];
        let labels = [2u8, 1];
        // (0.25 + 1 + 1 + 0 + 0 + 0.0625) / 6 / 2
        let l = loss(&out, &labels, 3, None);
        assert!((l - 2.3125 / 12.0).abs() < 1e-6);
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
            assert_close("lq", i, g[i] as f64, num, 1e-3);
        }
    }
}
