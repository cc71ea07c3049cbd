//! Models: an architecture ([`Arch`]), a head ([`Head`]) and the network of
//! layers built from them, with initialisation, evaluation and model files.

pub mod arch;
pub mod eval;
pub mod file;
pub mod init;

pub use arch::{Arch, ConvSpec};
pub use eval::Evaluation;

use crate::nn::{Conv2d, Dropout, Head, Layer, Linear, Mode, Param, Permute, Relu, Sequential};
use std::collections::BTreeMap;

/// A network ready to train or evaluate.
pub struct Model {
    /// Its shape.
    pub arch: Arch,
    /// Its cost function.
    pub head: Head,
    /// The layers.
    pub net: Sequential,
    /// Free-form metadata carried in the model file (dataset, seed, ...).
    pub meta: BTreeMap<String, String>,
}

impl Model {
    /// [`Arch::describe`], or [`Arch::describe_decoupled`] for a decoupled
    /// CNN (its convolutions turned into sparse matrices, see `parana
    /// decouple`).
    pub fn describe(&self) -> String {
        if file::is_decoupled(self) {
            self.arch.describe_decoupled()
        } else {
            self.arch.describe()
        }
    }

    /// A model of `arch` with every parameter zero; call [`init::init`] or
    /// load weights into it.
    ///
    /// ```
    /// use parana::model::{Arch, Model, init};
    /// use parana::nn::Head;
    /// let mut m = Model::new(Arch::preset("article-mlp").unwrap(), Head::Lq);
    /// assert_eq!(m.param_count(), 784 * 1500 + 1500 + 1500 * 1000 + 1000 + 1000 * 800 + 800 + 800 * 10 + 10);
    /// assert_eq!(m.param_names()[..2], ["layers.0.weight", "layers.0.bias"]); // state-dict names
    /// init::init(&mut m, 1); // the seed's Xavier initialisation
    /// let out = m.logits(&vec![0.5; 2 * 784], 2); // two images -> 2 x 10 raw outputs
    /// assert_eq!(out.len(), 20);
    /// assert!(out.iter().all(|v| v.is_finite()));
    /// ```
    pub fn new(arch: Arch, head: Head) -> Model {
        let [h, w, c] = arch.input;
        let mut layers: Vec<Box<dyn Layer>> = Vec::new();
        let mut ch = c;
        for s in &arch.convs {
            layers.push(Box::new(Conv2d::new(h, w, ch, s.out, s.kh, s.kw)));
            layers.push(Box::new(Relu::new(h * w * s.out)));
            ch = s.out;
        }
        if !arch.convs.is_empty() {
            layers.push(Box::new(Permute::nhwc_to_nchw(h, w, ch)));
        }
        let mut prev = arch.flat_len();
        for &n in &arch.hidden {
            layers.push(Box::new(Linear::new(prev, n)));
            layers.push(Box::new(Relu::new(n)));
            if arch.dropout > 0.0 {
                layers.push(Box::new(Dropout::new(n, arch.dropout)));
            }
            prev = n;
        }
        layers.push(Box::new(Linear::new(prev, arch.classes)));
        Model {
            arch,
            head,
            net: Sequential::new(layers),
            meta: BTreeMap::new(),
        }
    }

    /// PyTorch state-dict names of the parameters, in the order of
    /// [`Sequential::params`]: `convs.{i}.weight|bias` for convolutions,
    /// `layers.{i}.weight|bias` for fully connected layers (dense or
    /// sparse, the weight of a sparse one being its stored values).
    pub fn param_names(&self) -> Vec<String> {
        let (mut ci, mut li) = (0, 0);
        let mut names = Vec::new();
        for l in self.net.layers() {
            let prefix = match l.kind() {
                "conv2d" => {
                    ci += 1;
                    format!("convs.{}", ci - 1)
                }
                "linear" | "sparse_trainable" => {
                    li += 1;
                    format!("layers.{}", li - 1)
                }
                _ => continue,
            };
            for p in l.params() {
                names.push(format!("{prefix}.{}", p.name));
            }
        }
        names
    }

    /// Parameters with their names.
    pub fn named_params(&self) -> impl Iterator<Item = (String, &Param)> {
        self.param_names().into_iter().zip(self.net.params())
    }

    /// Number of learnable values.
    pub fn param_count(&self) -> usize {
        self.net.params().map(|p| p.len()).sum()
    }

    /// Raw outputs for `n` images `x` (`n * arch.in_len()` values in [0, 1]).
    pub fn logits(&mut self, x: &[f32], n: usize) -> &[f32] {
        self.net.forward(x, n, Mode::Eval)
    }
}
