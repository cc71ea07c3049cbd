//! Adversarial attacks on a [`Model`] and the measures of how well it
//! resists them.
//!
//! - [`universal`]: universal targeted noise, one image per target class
//!   trained once and added to every input (the article's attack);
//! - [`fgsm`] and [`pgd`]: per-example attacks (Goodfellow et al., Madry et
//!   al.);
//! - [`noise_file`]: the safetensors file a trained noise lives in;
//! - [`robustness`]: accuracy under noise and attacks, fooling rates;
//! - [`detect`]: whether the gap between the two largest outputs tells
//!   noisy inputs from clean ones;
//! - [`picture`]: a PNG of a noise beside noisy digits;
//! - [`suite`]: several noises trained against one model file, written with their pictures.
//!
//! Every attack is written against [`Model`] and its [`crate::nn::Sequential`]
//! alone (forward in evaluation mode, backward for the input gradient only),
//! so it works for any architecture the engine builds, MLP or CNN. All
//! attacks use softmax cross-entropy on the model's raw outputs, whatever
//! head it was trained with (for an `lq` model the softmax is put on its raw
//! outputs, as in the article).

pub mod detect;
pub mod fgsm;
pub mod noise_file;
pub mod pgd;
pub mod picture;
pub mod robustness;
pub mod suite;
pub mod universal;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::nn::{Mode, head::argmax_rows, sce};

pub use crate::nn::flush_denormals;

/// Softmax cross-entropy of the model's outputs on the `labels.len()` inputs
/// `x`, taken as a mean over each consecutive group of `group` rows; writes
/// the gradient of the sum of the group means with respect to `x` into `dx`
/// and the predicted class of every row into `pred`. Returns the sum of the
/// group losses. Parameter gradients are not computed.
pub fn input_gradient(
    model: &mut Model,
    x: &[f32],
    labels: &[u8],
    group: usize,
    dx: &mut [f32],
    pred: &mut Vec<usize>,
) -> f32 {
    let batch = labels.len();
    let classes = model.arch.classes;
    let in_len = model.arch.in_len();
    let group = group.max(1);
    model.net.forward(&x[..batch * in_len], batch, Mode::Eval);
    let (out, grad) = model.net.output_and_grad_mut();
    pred.clear();
    pred.extend(argmax_rows(out, classes));
    let mut total = 0.0;
    for g0 in (0..batch).step_by(group) {
        let g1 = (g0 + group).min(batch);
        let (a, b) = (g0 * classes, g1 * classes);
        total += sce::loss(&out[a..b], &labels[g0..g1], classes, Some(&mut grad[a..b]));
    }
    // Probabilities below 1e-38 would send subnormals through the backward
    // pass (slow on x86, see [`flush_denormals`]); they change nothing.
    for g in grad.iter_mut() {
        if g.abs() < f32::MIN_POSITIVE {
            *g = 0.0;
        }
    }
    model
        .net
        .backward(&x[..batch * in_len], Some(&mut dx[..batch * in_len]), false);
    total
}

/// Predicted class of each of the `n` inputs `x`.
pub fn predict_rows(model: &mut Model, x: &[f32], n: usize, pred: &mut Vec<usize>) {
    let classes = model.arch.classes;
    let out = model.net.forward(x, n, Mode::Eval);
    pred.clear();
    pred.extend(argmax_rows(out, classes));
}

/// `sign(v)` with `sign(0) = 0`, as `torch.sign`.
pub fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// What an attack did to each image.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The adversarial images (same layout as the inputs), each within the
    /// attack's L-inf ball around its image and within [0, 1].
    pub adv: Vec<f32>,
    /// The model's prediction on each adversarial image.
    pub pred: Vec<usize>,
    /// Whether the attack succeeded on each image: misclassified
    /// (untargeted) or classified as the target (targeted).
    pub fooled: Vec<bool>,
}

/// A per-example attack and its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Attack {
    /// One signed-gradient step of size `eps`.
    Fgsm {
        /// L-inf radius.
        eps: f32,
        /// Target class (None: untargeted).
        target: Option<u8>,
    },
    /// Projected gradient descent.
    Pgd(pgd::PgdConfig),
}

impl Attack {
    /// The radius of the attack.
    pub fn eps(&self) -> f32 {
        match self {
            Attack::Fgsm { eps, .. } => *eps,
            Attack::Pgd(c) => c.eps,
        }
    }

    /// Target class, if targeted.
    pub fn target(&self) -> Option<u8> {
        match self {
            Attack::Fgsm { target, .. } => *target,
            Attack::Pgd(c) => c.target,
        }
    }

    /// Short name, e.g. `fgsm:0.1` or `pgd:0.1 (20 steps of 0.0125, 1 restart)`.
    pub fn describe(&self) -> String {
        let t = self
            .target()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        match self {
            Attack::Fgsm { eps, .. } => format!("fgsm:{eps}{t}"),
            Attack::Pgd(c) => format!(
                "pgd:{}{t} ({} steps of {}, {} restart{})",
                c.eps,
                c.steps,
                c.alpha,
                c.restarts,
                if c.restarts == 1 { "" } else { "s" }
            ),
        }
    }

    /// Parse a comma-separated list like `fgsm:0.1,pgd:0.1` (a bare `fgsm`
    /// or `pgd` takes `default_eps`). PGD takes `steps`, `alpha` (None:
    /// `2.5 * eps / steps`, Madry et al.'s choice) and `restarts`.
    pub fn parse_list(
        s: &str,
        default_eps: Option<f32>,
        steps: usize,
        alpha: Option<f32>,
        restarts: usize,
        target: Option<u8>,
        seed: u64,
    ) -> Result<Vec<Attack>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, eps) = match part.split_once(':') {
                Some((n, e)) => (
                    n,
                    Some(e.trim().parse::<f32>().map_err(|_| {
                        Error::input(format!(
                            "bad eps '{e}' in attack '{part}' (expected e.g. pgd:0.1)"
                        ))
                    })?),
                ),
                None => (part, default_eps),
            };
            let eps = eps.ok_or_else(|| {
                Error::input(format!(
                    "attack '{part}' needs an eps (e.g. {part}:0.1 or --eps 0.1)"
                ))
            })?;
            if !(eps > 0.0 && eps <= 1.0) {
                return Err(Error::input(format!(
                    "eps {eps} of attack '{part}' is outside (0, 1]"
                )));
            }
            out.push(match name.to_ascii_lowercase().as_str() {
                "fgsm" => Attack::Fgsm { eps, target },
                "pgd" => {
                    let cfg = pgd::PgdConfig {
                        eps,
                        alpha: alpha.unwrap_or(2.5 * eps / steps.max(1) as f32),
                        steps,
                        restarts,
                        target,
                        seed,
                    };
                    cfg.validate()?;
                    Attack::Pgd(cfg)
                }
                _ => {
                    return Err(Error::input(format!(
                        "unknown attack '{name}' (expected fgsm or pgd, e.g. fgsm:0.1,pgd:0.1)"
                    )));
                }
            });
        }
        if out.is_empty() {
            return Err(Error::input(format!("no attack in '{s}'")));
        }
        Ok(out)
    }

    /// Run the attack on the images `x` with true `labels`; `first_index`
    /// is the dataset index of the first image (random starts are drawn per
    /// image index, so a subset sees the same starts as the whole set).
    pub fn run(&self, model: &mut Model, x: &[f32], labels: &[u8], first_index: usize) -> Outcome {
        match self {
            Attack::Fgsm { eps, target } => fgsm::fgsm(model, x, labels, *eps, *target),
            Attack::Pgd(c) => pgd::pgd(model, x, labels, first_index, c),
        }
    }
}

/// Whether prediction `p` of an image labelled `y` counts as a success of
/// an attack with `target`.
pub fn is_fooled(p: usize, y: u8, target: Option<u8>) -> bool {
    match target {
        None => p != y as usize,
        Some(t) => p == t as usize && y != t,
    }
}
