//! The original PARANA initialisation: weights from a normal truncated at
//! two standard deviations with std `sqrt(3 / (fan_in + fan_out))` (the
//! output layer std 0.01), every bias 0.1.

use super::Model;
use crate::rng::{Rng, purpose};

/// Initialise every parameter of `model` from `seed`. The same seed gives
/// the same weights on every machine and thread count.
pub fn init(model: &mut Model, seed: u64) {
    let mut rng = Rng::stream(seed, purpose::INIT, 0);
    let n_layers = model.net.layers().len();
    let last_linear = (0..n_layers)
        .rev()
        .find(|&i| model.net.layers()[i].kind() == "linear");
    for (i, layer) in model.net.layers_mut().iter_mut().enumerate() {
        for p in layer.params_mut() {
            if p.name == "bias" {
                p.value.fill(0.1);
                continue;
            }
            // PyTorch layout: [out, in, kh, kw] or [out, in].
            let receptive: usize = p.shape[2..].iter().product();
            let fan_in = p.shape[1] * receptive;
            let fan_out = p.shape[0] * receptive;
            let std = if Some(i) == last_linear {
                0.01
            } else {
                (3.0 / (fan_in + fan_out) as f64).sqrt()
            };
            for v in &mut p.value {
                *v = rng.truncated_normal(std) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Arch;
    use crate::nn::Head;

    #[test]
    fn init_follows_the_seed_recipe() {
        let mut m = Model::new(Arch::preset("seed-mlp").unwrap(), Head::Lq);
        init(&mut m, 1);
        let params: Vec<_> = m
            .named_params()
            .map(|(n, p)| (n, p.value.clone()))
            .collect();
        let std = |v: &[f32]| {
            (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        // Truncation at 2 sigma leaves 0.88 of the std.
        let w0 = &params[0].1;
        let want = (3.0f64 / (784.0 + 1500.0)).sqrt() * 0.8796;
        assert!(
            (std(w0) - want).abs() < 0.01 * want,
            "{} vs {want}",
            std(w0)
        );
        let bound = 2.0 * (3.0f64 / (784.0 + 1500.0)).sqrt();
        assert!(w0.iter().all(|v| (*v as f64).abs() <= bound + 1e-7));
        let (name, last) = &params[params.len() - 2];
        assert_eq!(name, "layers.3.weight");
        assert!((std(last) - 0.01 * 0.8796).abs() < 0.001);
        assert!(params[1].1.iter().all(|&b| b == 0.1));
        // Same seed, same weights; other seed, other weights.
        let mut m2 = Model::new(Arch::preset("seed-mlp").unwrap(), Head::Lq);
        init(&mut m2, 1);
        assert_eq!(m2.net.params().next().unwrap().value, *w0);
        init(&mut m2, 2);
        assert_ne!(m2.net.params().next().unwrap().value, *w0);
    }
}
