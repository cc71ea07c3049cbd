//! The Square attack (Andriushchenko et al., ECCV 2020), L-inf: a
//! score-based black-box attack that needs no gradients, so gradient
//! masking cannot stop it. It starts from vertical stripes (each column of
//! the image moved by `+eps` or `-eps`), then proposes, one query at a
//! time, to set a random square window to `x +- eps` (one random sign per
//! channel) and keeps the proposal when it lowers the margin `z_y -
//! max_{i!=y} z_i`. The side of the window follows the paper's schedule:
//! `p = 0.8` of the pixels at first, halved after 10, 50, 200, 500, 1000,
//! 2000, 4000, 6000 and 8000 queries (AutoAttack keeps this schedule for
//! its 5000 queries, without rescaling it).
//!
//! Every image has its own random stream (squares and signs), drawn by its
//! dataset index, and leaves the batch once misclassified. The forward
//! passes go through the model's own layers, so a compiled sparse model
//! runs them on the sparse engine.

use super::Outcome;
use super::loss::margin;
use crate::error::{Error, Result};
use crate::model::{Model, eval::eval_batch};
use crate::nn::head::argmax_rows;
use crate::rng::{Rng, purpose};

/// Square attack settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SquareConfig {
    /// L-inf radius.
    pub eps: f32,
    /// Forward passes per image, the stripes start included (0: the clean
    /// images are left as they are).
    pub queries: usize,
    /// Share of the pixels the first squares cover.
    pub p_init: f32,
    /// Seed of the stripes and squares.
    pub seed: u64,
}

impl SquareConfig {
    /// AutoAttack's settings: 5000 queries, `p_init` 0.8.
    pub fn standard(eps: f32, seed: u64) -> SquareConfig {
        SquareConfig {
            eps,
            queries: 5000,
            p_init: 0.8,
            seed,
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps > 0.0 && self.eps <= 1.0) {
            return Err(Error::input(format!(
                "Square eps {} outside (0, 1]",
                self.eps
            )));
        }
        if self.queries > 1 << 24 {
            return Err(Error::input(format!(
                "Square queries {} above 16777216",
                self.queries
            )));
        }
        if !(self.p_init > 0.0 && self.p_init <= 1.0) {
            return Err(Error::input(format!(
                "Square p_init {} outside (0, 1]",
                self.p_init
            )));
        }
        Ok(())
    }

    /// Short name, e.g. `square:0.1 (5000 queries)`.
    pub fn describe(&self) -> String {
        format!("square:{} ({} queries)", self.eps, self.queries)
    }
}

/// Share of the pixels a square covers after `it` queries.
pub fn p_schedule(p_init: f32, it: usize) -> f32 {
    let div = match it {
        0..=10 => 1.0,
        11..=50 => 2.0,
        51..=200 => 4.0,
        201..=500 => 8.0,
        501..=1000 => 16.0,
        1001..=2000 => 32.0,
        2001..=4000 => 64.0,
        4001..=6000 => 128.0,
        6001..=8000 => 256.0,
        _ => 512.0,
    };
    p_init / div
}

fn rng_for(seed: u64, index: usize) -> Rng {
    Rng::stream(seed ^ 0x5A0A_0000_0000_0000, purpose::ATTACK, index as u64)
}

/// Square attack on the images `x` with true `labels`; `first_index` is
/// the dataset index of the first image. Images the model already
/// misclassifies count as broken at their clean point.
///
/// ```
/// use parana::attack::square::{SquareConfig, square};
/// use parana::model::{Arch, Model, init};
/// use parana::nn::Head;
/// let mut m = Model::new(Arch::custom(vec![32], vec![]).unwrap(), Head::Sce);
/// init::init(&mut m, 7);
/// let x: Vec<f32> = (0..3 * 784).map(|i| (i % 17) as f32 / 16.0).collect();
/// let cfg = SquareConfig { queries: 50, ..SquareConfig::standard(0.1, 1) };
/// let out = square(&mut m, &x, &[1, 2, 3], 0, &cfg);
/// assert!(out.adv.iter().zip(&x).all(|(a, x)| (a - x).abs() <= 0.1 + 1e-6 && (0.0..=1.0).contains(a)));
/// ```
pub fn square(
    model: &mut Model,
    x: &[f32],
    labels: &[u8],
    first_index: usize,
    cfg: &SquareConfig,
) -> Outcome {
    super::flush_denormals();
    let [h, w, c] = model.arch.input;
    let len = model.arch.in_len();
    let classes = model.arch.classes;
    let n = labels.len();
    let eps = cfg.eps;
    let mut out = Outcome {
        adv: x[..n * len].to_vec(),
        pred: vec![0; n],
        fooled: vec![false; n],
    };
    let cap = eval_batch(&model.net).max(1);
    for base in (0..n).step_by(cap) {
        let b = cap.min(n - base);
        let xs = &x[base * len..(base + b) * len];
        let ys = &labels[base..base + b];
        let logits = model.logits(xs, b);
        for (i, p) in argmax_rows(logits, classes).enumerate() {
            out.pred[base + i] = p;
            out.fooled[base + i] = p != ys[i] as usize;
        }
        if cfg.queries == 0 {
            continue;
        }
        // Slots of the images still robust: image, its stream, best point
        // and best margin.
        let mut img: Vec<usize> = (0..b).filter(|&i| !out.fooled[base + i]).collect();
        let mut rngs: Vec<Rng> = img
            .iter()
            .map(|&i| rng_for(cfg.seed, first_index + base + i))
            .collect();
        let mut best = Vec::with_capacity(img.len() * len);
        for (s, &i) in img.iter().enumerate() {
            let row = &xs[i * len..(i + 1) * len];
            // Vertical stripes: one sign per column and channel.
            let signs: Vec<f32> = (0..w * c)
                .map(|_| if rngs[s].below(2) == 0 { -eps } else { eps })
                .collect();
            for (j, &v) in row.iter().enumerate() {
                let col_ch = (j / c % w) * c + j % c;
                best.push((v + signs[col_ch]).clamp(0.0, 1.0));
            }
        }
        let mut best_margin = vec![f32::INFINITY; img.len()];
        let mut cand = best.clone();
        for q in 0..cfg.queries {
            if img.is_empty() {
                break;
            }
            if q > 0 {
                let p = p_schedule(cfg.p_init, q - 1);
                let side = ((p * (h * w) as f32).sqrt().round() as usize).clamp(1, h.min(w));
                for (s, &i) in img.iter().enumerate() {
                    let row = &xs[i * len..(i + 1) * len];
                    let r = s * len..(s + 1) * len;
                    cand[r.clone()].copy_from_slice(&best[r]);
                    let rng = &mut rngs[s];
                    let top = rng.below((h - side + 1) as u64) as usize;
                    let left = rng.below((w - side + 1) as u64) as usize;
                    for ch in 0..c {
                        let d = if rng.below(2) == 0 { -eps } else { eps };
                        for yy in top..top + side {
                            for xx in left..left + side {
                                let j = (yy * w + xx) * c + ch;
                                cand[s * len + j] = (row[j] + d).clamp(0.0, 1.0);
                            }
                        }
                    }
                }
            }
            let m = img.len();
            let logits = model.logits(&cand[..m * len], m);
            let mut keep = vec![true; m];
            for (s, (z, p)) in logits
                .chunks_exact(classes)
                .zip(argmax_rows(logits, classes))
                .enumerate()
            {
                let y = ys[img[s]] as usize;
                let mg = margin(z, y);
                if mg < best_margin[s] || p != y {
                    best_margin[s] = mg;
                    let r = s * len..(s + 1) * len;
                    best[r.clone()].copy_from_slice(&cand[r]);
                }
                if p != y {
                    let gi = base + img[s];
                    out.fooled[gi] = true;
                    out.pred[gi] = p;
                    out.adv[gi * len..(gi + 1) * len]
                        .copy_from_slice(&cand[s * len..(s + 1) * len]);
                    keep[s] = false;
                }
            }
            if keep.iter().any(|&k| !k) {
                let mut wi = 0;
                for (s, &k) in keep.iter().enumerate() {
                    if k {
                        if wi != s {
                            best.copy_within(s * len..(s + 1) * len, wi * len);
                            img[wi] = img[s];
                            best_margin[wi] = best_margin[s];
                            rngs.swap(wi, s);
                        }
                        wi += 1;
                    }
                }
                img.truncate(wi);
                best_margin.truncate(wi);
                rngs.truncate(wi);
                best.truncate(wi * len);
            }
        }
    }
    out
}
