//! Pruning: zero the weights with the lowest scores.
//!
//! A [`Pruner`] is built once per model and method (it computes the scores
//! and their orders), then gives the [`Masks`] for any ratio cheaply, so a
//! sweep over a hundred ratios sorts each matrix once. Biases are never
//! pruned; `k = floor(numel * r)` with `r` an exact [`Ratio`].

pub mod file;
pub mod ratio;
pub mod scores;
pub mod select;

pub use ratio::Ratio;
pub use scores::{InputStats, Score};

use crate::error::{Error, Result};
use crate::model::Model;

/// A pruning method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Smallest `|W|`.
    Abs,
    /// Smallest activated value `|mean(W x)|` (the article's).
    Act,
    /// Smallest `|W| * ||x||` (Wanda).
    Wanda,
    /// `abs` at `r` together with `act` at `r - offset`: a weight is pruned
    /// if either prunes it.
    Combined,
}

impl Method {
    /// Parse `abs`, `act`, `wanda`, `combined`.
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "abs" => Ok(Method::Abs),
            "act" => Ok(Method::Act),
            "wanda" => Ok(Method::Wanda),
            "combined" => Ok(Method::Combined),
            _ => Err(Error::input(format!(
                "unknown pruning method '{s}' (expected abs, act, wanda or combined)"
            ))),
        }
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Abs => "abs",
            Method::Act => "act",
            Method::Wanda => "wanda",
            Method::Combined => "combined",
        }
    }

    /// Whether the method needs input statistics.
    pub fn needs_inputs(self) -> bool {
        !matches!(self, Method::Abs)
    }
}

/// Which weights compete with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Each weight matrix loses the ratio (the article's way).
    PerMatrix,
    /// One threshold over all pruned matrices.
    Global,
    /// Each output neuron loses the ratio of its inputs.
    PerRow,
}

impl Scope {
    /// Parse `per-matrix`, `global`, `per-row`.
    pub fn parse(s: &str) -> Result<Scope> {
        match s {
            "per-matrix" | "matrix" => Ok(Scope::PerMatrix),
            "global" => Ok(Scope::Global),
            "per-row" | "row" => Ok(Scope::PerRow),
            _ => Err(Error::input(format!(
                "unknown scope '{s}' (expected per-matrix, global or per-row)"
            ))),
        }
    }

    /// The scope's name.
    pub fn name(self) -> &'static str {
        match self {
            Scope::PerMatrix => "per-matrix",
            Scope::Global => "global",
            Scope::PerRow => "per-row",
        }
    }
}

/// For each prunable layer, which weights stay (`None`: layer untouched).
#[derive(Clone, Debug, PartialEq)]
pub struct Masks(pub Vec<Option<Vec<bool>>>);

impl Masks {
    /// Write prunable layer `k`'s weights into `w`: `original` with the
    /// pruned ones zeroed.
    pub fn apply_to(&self, k: usize, original: &[f32], w: &mut [f32]) {
        w.copy_from_slice(original);
        if let Some(Some(m)) = self.0.get(k) {
            for (v, &keep) in w.iter_mut().zip(m) {
                if !keep {
                    *v = 0.0;
                }
            }
        }
    }

    /// Remaining (kept) weights per prunable layer, `None` for untouched.
    pub fn kept(&self) -> Vec<Option<usize>> {
        self.0
            .iter()
            .map(|m| m.as_ref().map(|m| m.iter().filter(|&&k| k).count()))
            .collect()
    }
}

/// Orders of one base score over the selected layers.
#[derive(Clone, Debug)]
enum Orders {
    PerMatrix(Vec<Vec<u32>>),
    PerRow(Vec<(Vec<u32>, usize)>),
    Global(Vec<(u32, u32)>),
}

/// Precomputed pruning orders for one model, method and scope.
#[derive(Clone, Debug)]
pub struct Pruner {
    method: Method,
    scope: Scope,
    offset: Ratio,
    /// Prunable layer indices this pruner touches.
    layers: Vec<usize>,
    /// Number of prunable layers in the model.
    total: usize,
    /// Element count of each touched layer's weight.
    sizes: Vec<usize>,
    /// Orders for the main score, and for `act` when combined.
    main: Orders,
    act: Option<Orders>,
}

impl Pruner {
    /// Compute scores and orders. `stats` (from [`scores::input_stats`] on
    /// the unpruned model) is needed by `act`, `wanda` and `combined`.
    /// `layers` selects prunable layers by index (`None`: all).
    ///
    /// ```
    /// use parana::model::{Arch, Model, init};
    /// use parana::nn::Head;
    /// use parana::prune::{self, Method, Pruner, Ratio, Scope};
    ///
    /// let mut m = Model::new(Arch::custom(vec![16], vec![]).unwrap(), Head::Lq);
    /// init::init(&mut m, 1);
    /// let original = prune::original_weights(&m);
    /// let p = Pruner::new(&m, Method::Abs, Scope::PerMatrix, None, None, Ratio::ZERO).unwrap();
    /// let masks = p.masks(Ratio::parse("0.5").unwrap());
    /// prune::apply(&mut m, &original, &masks);
    /// // 784x16 and 16x10 weights, half of each pruned.
    /// assert_eq!(masks.kept(), vec![Some(784 * 16 / 2), Some(80)]);
    /// ```
    pub fn new(
        model: &Model,
        method: Method,
        scope: Scope,
        layers: Option<&[usize]>,
        stats: Option<&[InputStats]>,
        offset: Ratio,
    ) -> Result<Pruner> {
        let positions = scores::prunable_layers(model);
        let total = positions.len();
        let layers: Vec<usize> = match layers {
            Some(l) => {
                if let Some(bad) = l.iter().find(|&&k| k >= total) {
                    return Err(Error::input(format!(
                        "layer {bad} does not exist: the model has {total} prunable layers (0-{})",
                        total.saturating_sub(1)
                    )));
                }
                let mut l = l.to_vec();
                l.sort_unstable();
                l.dedup();
                l
            }
            None => (0..total).collect(),
        };
        if method.needs_inputs() && stats.is_none_or(|s| s.len() != total) {
            return Err(Error::input(format!(
                "method {} needs input statistics of every layer",
                method.name()
            )));
        }
        type Weight<'a> = (&'a [f32], &'a [usize], Option<&'a [u32]>);
        let weights: Vec<Weight> = layers
            .iter()
            .map(|&k| {
                let l = &model.net.layers()[positions[k]];
                let p = &l.params()[0];
                (
                    p.value.as_slice(),
                    p.shape.as_slice(),
                    l.sparse_structure().map(|s| s.1),
                )
            })
            .collect();
        if scope == Scope::PerRow && weights.iter().any(|w| w.2.is_some()) {
            return Err(Error::input(
                "per-row scope is not available for sparse (decoupled) layers; use per-matrix or global",
            ));
        }
        let sizes = weights.iter().map(|w| w.0.len()).collect();
        let orders_for = |score: Score| -> Orders {
            let sc: Vec<Vec<f32>> = weights
                .iter()
                .zip(&layers)
                .map(|(&(w, shape, cols), &k)| {
                    scores::scores(score, w, shape, cols, stats.map(|s| &s[k]))
                })
                .collect();
            match scope {
                Scope::PerMatrix => {
                    Orders::PerMatrix(sc.iter().map(|s| select::order(s)).collect())
                }
                Scope::PerRow => Orders::PerRow(
                    sc.iter()
                        .zip(&weights)
                        .map(|(s, (_, shape, _))| {
                            let cols: usize = shape[1..].iter().product();
                            (select::row_orders(s, cols), cols)
                        })
                        .collect(),
                ),
                Scope::Global => Orders::Global(select::global_order(&sc)),
            }
        };
        let main = orders_for(match method {
            Method::Abs | Method::Combined => Score::Abs,
            Method::Act => Score::Act,
            Method::Wanda => Score::Wanda,
        });
        let act = (method == Method::Combined).then(|| orders_for(Score::Act));
        Ok(Pruner {
            method,
            scope,
            offset,
            layers,
            total,
            sizes,
            main,
            act,
        })
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Masks that prune the ratio `r`.
    pub fn masks(&self, r: Ratio) -> Masks {
        let mut kept: Vec<Vec<bool>> = self.sizes.iter().map(|&n| vec![true; n]).collect();
        prune_into(&mut kept, &self.main, r, &self.sizes);
        if let Some(act) = &self.act {
            prune_into(&mut kept, act, r.saturating_sub(self.offset), &self.sizes);
        }
        let mut out = vec![None; self.total];
        for (k, m) in self.layers.iter().zip(kept) {
            out[*k] = Some(m);
        }
        Masks(out)
    }
}

fn prune_into(kept: &mut [Vec<bool>], orders: &Orders, r: Ratio, sizes: &[usize]) {
    match orders {
        Orders::PerMatrix(o) => {
            for (m, o) in kept.iter_mut().zip(o) {
                for &j in &o[..r.count(o.len())] {
                    m[j as usize] = false;
                }
            }
        }
        Orders::PerRow(o) => {
            for (m, (o, cols)) in kept.iter_mut().zip(o) {
                let k = r.count(*cols);
                for row in o.chunks_exact(*cols) {
                    for &j in &row[..k] {
                        m[j as usize] = false;
                    }
                }
            }
        }
        Orders::Global(o) => {
            let n: usize = sizes.iter().sum();
            for &(mi, j) in &o[..r.count(n)] {
                kept[mi as usize][j as usize] = false;
            }
        }
    }
}

/// Set `model`'s prunable weights to `original` (the unpruned weights, one
/// per prunable layer, from [`original_weights`]) with the masked ones
/// zeroed.
pub fn apply(model: &mut Model, original: &[Vec<f32>], masks: &Masks) {
    let positions = scores::prunable_layers(model);
    for (k, &p) in positions.iter().enumerate() {
        let w = &mut model.net.layers_mut()[p].params_mut()[0].value;
        masks.apply_to(k, &original[k], w);
    }
}

/// The weights of every prunable layer, to restore between sweep points.
pub fn original_weights(model: &Model) -> Vec<Vec<f32>> {
    scores::prunable_layers(model)
        .into_iter()
        .map(|p| model.net.layers()[p].params()[0].value.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, init};
    use crate::nn::Head;

    fn small() -> Model {
        let mut m = Model::new(Arch::custom(vec![6], vec![]).unwrap(), Head::Lq);
        init::init(&mut m, 4);
        m
    }

    #[test]
    fn per_matrix_prunes_floor_of_numel_times_ratio_smallest_first() {
        let m = small();
        let p = Pruner::new(&m, Method::Abs, Scope::PerMatrix, None, None, Ratio::ZERO).unwrap();
        let r = Ratio::parse("0.29").unwrap();
        let masks = p.masks(r);
        let kept = masks.kept();
        assert_eq!(
            kept,
            vec![Some(784 * 6 - r.count(784 * 6)), Some(60 - r.count(60))]
        );
        // Every pruned weight is no larger than every kept one.
        let w = &m.net.layers()[0].params()[0].value;
        let mk = masks.0[0].as_ref().unwrap();
        let max_pruned = w
            .iter()
            .zip(mk)
            .filter(|(_, k)| !**k)
            .map(|(v, _)| v.abs())
            .fold(0.0, f32::max);
        let min_kept = w
            .iter()
            .zip(mk)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.abs())
            .fold(f32::MAX, f32::min);
        assert!(max_pruned <= min_kept);
        // Prefixes: a larger ratio prunes a superset.
        let more = p.masks(Ratio::parse("0.5").unwrap());
        for (a, b) in more.0[0].as_ref().unwrap().iter().zip(mk) {
            assert!(!*a || *b, "a weight pruned at 0.29 came back at 0.5");
        }
    }

    #[test]
    fn layers_scopes_and_combined() {
        let mut m = small();
        let p = Pruner::new(
            &m,
            Method::Abs,
            Scope::PerMatrix,
            Some(&[1]),
            None,
            Ratio::ZERO,
        )
        .unwrap();
        let masks = p.masks(Ratio::parse("0.5").unwrap());
        assert_eq!(masks.kept(), vec![None, Some(30)]);
        let orig = original_weights(&m);
        apply(&mut m, &orig, &masks);
        assert_eq!(
            m.net.layers()[2].params()[0]
                .value
                .iter()
                .filter(|&&v| v == 0.0)
                .count(),
            30
        );
        assert!(
            m.net.layers()[0].params()[0]
                .value
                .iter()
                .all(|&v| v != 0.0)
        );
        apply(&mut m, &orig, &Masks(vec![None, None]));
        assert_eq!(original_weights(&m), orig);
        assert!(
            Pruner::new(
                &m,
                Method::Abs,
                Scope::PerMatrix,
                Some(&[2]),
                None,
                Ratio::ZERO
            )
            .is_err()
        );

        let rows = Pruner::new(&m, Method::Abs, Scope::PerRow, None, None, Ratio::ZERO).unwrap();
        let mk = rows.masks(Ratio::parse("0.25").unwrap());
        for row in mk.0[0].as_ref().unwrap().chunks(784) {
            assert_eq!(row.iter().filter(|k| !**k).count(), 196);
        }
        let g = Pruner::new(&m, Method::Abs, Scope::Global, None, None, Ratio::ZERO).unwrap();
        let kept: usize = g
            .masks(Ratio::parse("0.5").unwrap())
            .kept()
            .iter()
            .map(|k| k.unwrap())
            .sum();
        assert_eq!(kept, (784 * 6 + 60) - (784 * 6 + 60) / 2);

        // Combined at 0.5 with offset 0.07 = abs at 0.5 union act at 0.43.
        let stats: Vec<InputStats> = vec![
            InputStats {
                mean: (0..784).map(|i| (i % 7) as f64).collect(),
                norm: vec![1.0; 784],
            },
            InputStats {
                mean: vec![1.0, 0.0, 2.0, 0.5, 1.0, 3.0],
                norm: vec![1.0; 6],
            },
        ];
        let off = Ratio::parse("0.07").unwrap();
        let c = Pruner::new(
            &m,
            Method::Combined,
            Scope::PerMatrix,
            None,
            Some(&stats),
            off,
        )
        .unwrap();
        let a = Pruner::new(&m, Method::Abs, Scope::PerMatrix, None, None, off).unwrap();
        let t = Pruner::new(&m, Method::Act, Scope::PerMatrix, None, Some(&stats), off).unwrap();
        let (cm, am, tm) = (
            c.masks(Ratio::parse("0.5").unwrap()),
            a.masks(Ratio::parse("0.5").unwrap()),
            t.masks(Ratio::parse("0.43").unwrap()),
        );
        for l in 0..2 {
            let (cm, am, tm) = (
                cm.0[l].as_ref().unwrap(),
                am.0[l].as_ref().unwrap(),
                tm.0[l].as_ref().unwrap(),
            );
            for j in 0..cm.len() {
                assert_eq!(cm[j], am[j] && tm[j]);
            }
        }
        assert!(Pruner::new(&m, Method::Act, Scope::PerMatrix, None, None, off).is_err());
    }
}
