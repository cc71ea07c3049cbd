//! Adversarial attacks on a [`Model`] and the measures of how well it
//! resists them.
//!
//! - [`universal`]: universal targeted noise, one image per target class
//!   trained once and added to every input (the article's attack);
//! - [`fgsm`] and [`pgd`]: per-example attacks (Goodfellow et al., Madry et
//!   al.);
//! - [`apgd`], [`square`] and [`autoattack`]: the attacks the field trusts
//!   (APGD-CE/DLR/T, the black-box Square attack, AutoAttack's sequence),
//!   on the [`loss`]es they climb; [`masking`]: the gradient-masking checks;
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

pub mod apgd;
pub mod autoattack;
pub mod detect;
pub mod fgsm;
pub mod loss;
pub mod masking;
pub mod noise_file;
pub mod pgd;
pub mod picture;
pub mod robustness;
pub mod square;
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
    /// Auto-PGD with the CE, DLR or targeted DLR loss.
    Apgd(apgd::ApgdConfig),
    /// The Square attack (black box).
    Square(square::SquareConfig),
    /// AutoAttack's sequence, per-image worst case.
    AutoAttack(autoattack::AutoAttackConfig),
}

/// Settings of the attacks beyond their radius, for [`Attack::parse_with`].
#[derive(Clone, Debug, PartialEq)]
pub struct AttackOptions {
    /// PGD steps.
    pub steps: usize,
    /// PGD step size (None: `2.5 * eps / steps`).
    pub alpha: Option<f32>,
    /// PGD and APGD restarts (APGD-T: per target class).
    pub restarts: usize,
    /// Target class of FGSM and PGD (None: untargeted).
    pub target: Option<u8>,
    /// Seed of the random starts.
    pub seed: u64,
    /// APGD iterations.
    pub apgd_steps: usize,
    /// APGD-T target classes.
    pub targets: usize,
    /// Square queries.
    pub queries: usize,
}

impl Default for AttackOptions {
    /// PGD-20, one restart; AutoAttack's APGD (100 iterations, 9 targets)
    /// and Square (5000 queries); seed 1.
    fn default() -> Self {
        AttackOptions {
            steps: 20,
            alpha: None,
            restarts: 1,
            target: None,
            seed: 1,
            apgd_steps: 100,
            targets: 9,
            queries: 5000,
        }
    }
}

impl Attack {
    /// The radius of the attack.
    pub fn eps(&self) -> f32 {
        match self {
            Attack::Fgsm { eps, .. } => *eps,
            Attack::Pgd(c) => c.eps,
            Attack::Apgd(c) => c.eps,
            Attack::Square(c) => c.eps,
            Attack::AutoAttack(c) => c.eps,
        }
    }

    /// Target class, if targeted.
    pub fn target(&self) -> Option<u8> {
        match self {
            Attack::Fgsm { target, .. } => *target,
            Attack::Pgd(c) => c.target,
            Attack::Apgd(_) | Attack::Square(_) | Attack::AutoAttack(_) => None,
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
            Attack::Apgd(c) => c.describe(),
            Attack::Square(c) => c.describe(),
            Attack::AutoAttack(c) => c.describe(),
        }
    }

    /// Parse a comma-separated list like `fgsm:0.1,pgd:0.1` (a bare `fgsm`
    /// or `pgd` takes `default_eps`). PGD takes `steps`, `alpha` (None:
    /// `2.5 * eps / steps`, Madry et al.'s choice) and `restarts`; the
    /// APGD, Square and AutoAttack names take AutoAttack's settings (see
    /// [`Attack::parse_with`]).
    pub fn parse_list(
        s: &str,
        default_eps: Option<f32>,
        steps: usize,
        alpha: Option<f32>,
        restarts: usize,
        target: Option<u8>,
        seed: u64,
    ) -> Result<Vec<Attack>> {
        let o = AttackOptions {
            steps,
            alpha,
            restarts,
            target,
            seed,
            ..AttackOptions::default()
        };
        Attack::parse_with(s, default_eps, &o)
    }

    /// Parse a comma-separated list of `NAME:EPS` with the settings `o`.
    /// Names: `fgsm`, `pgd`, `apgd-ce`, `apgd-dlr`, `apgd-t`, `square`,
    /// `autoattack`, `autoattack-fast`.
    pub fn parse_with(s: &str, default_eps: Option<f32>, o: &AttackOptions) -> Result<Vec<Attack>> {
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
            let name = name.trim().to_ascii_lowercase();
            let untargeted = |a: Attack| -> Result<Attack> {
                if o.target.is_some() {
                    return Err(Error::input(format!(
                        "attack '{part}' takes no target class (only fgsm and pgd do; apgd-t picks its own)"
                    )));
                }
                Ok(a)
            };
            let apgd = |loss| {
                let cfg = apgd::ApgdConfig {
                    eps,
                    steps: o.apgd_steps,
                    restarts: o.restarts,
                    loss,
                    seed: o.seed,
                };
                cfg.validate().map(|_| Attack::Apgd(cfg))
            };
            out.push(match name.as_str() {
                "fgsm" => Attack::Fgsm {
                    eps,
                    target: o.target,
                },
                "pgd" => {
                    let cfg = pgd::PgdConfig {
                        eps,
                        alpha: o.alpha.unwrap_or(2.5 * eps / o.steps.max(1) as f32),
                        steps: o.steps,
                        restarts: o.restarts,
                        target: o.target,
                        seed: o.seed,
                    };
                    cfg.validate()?;
                    Attack::Pgd(cfg)
                }
                "apgd-ce" | "apgd" => untargeted(apgd(apgd::ApgdLoss::Ce)?)?,
                "apgd-dlr" => untargeted(apgd(apgd::ApgdLoss::Dlr)?)?,
                "apgd-t" => untargeted(apgd(apgd::ApgdLoss::Targeted(o.targets))?)?,
                "square" => {
                    let cfg = square::SquareConfig {
                        queries: o.queries,
                        ..square::SquareConfig::standard(eps, o.seed)
                    };
                    cfg.validate()?;
                    untargeted(Attack::Square(cfg))?
                }
                "autoattack" | "autoattack-fast" | "aa" | "aa-fast" => {
                    let cfg = autoattack::AutoAttackConfig {
                        steps: o.apgd_steps,
                        restarts: o.restarts,
                        targets: o.targets,
                        queries: o.queries,
                        ..autoattack::AutoAttackConfig::standard(
                            eps,
                            name.ends_with("-fast"),
                            o.seed,
                        )
                    };
                    for (_, a) in cfg.sequence() {
                        if let Attack::Apgd(c) = &a {
                            c.validate()?;
                        }
                    }
                    untargeted(Attack::AutoAttack(cfg))?
                }
                _ => {
                    return Err(Error::input(format!(
                        "unknown attack '{name}' (expected fgsm, pgd, apgd-ce, apgd-dlr, apgd-t, square, autoattack or autoattack-fast, e.g. pgd:0.1,autoattack:0.1)"
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
        self.run_staged(model, x, labels, first_index).0
    }

    /// [`Attack::run`], with what each attack of a sequence added
    /// (AutoAttack; empty for the single attacks).
    pub fn run_staged(
        &self,
        model: &mut Model,
        x: &[f32],
        labels: &[u8],
        first_index: usize,
    ) -> (Outcome, Vec<autoattack::StageEval>) {
        let one = match self {
            Attack::Fgsm { eps, target } => fgsm::fgsm(model, x, labels, *eps, *target),
            Attack::Pgd(c) => pgd::pgd(model, x, labels, first_index, c),
            Attack::Apgd(c) => apgd::apgd(model, x, labels, first_index, c),
            Attack::Square(c) => square::square(model, x, labels, first_index, c),
            Attack::AutoAttack(c) => {
                return autoattack::autoattack(model, x, labels, first_index, c);
            }
        };
        (one, Vec::new())
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
