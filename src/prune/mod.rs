//! Pruning: zero the weights with the lowest scores.
//!
//! A [`Pruner`] is built once per model and method (it computes the scores
//! and their orders), then gives the [`Masks`] for any ratio cheaply, so a
//! sweep over a hundred ratios sorts each matrix once. Biases are never
//! pruned; `k = floor(numel * r)` with `r` an exact [`Ratio`].

pub mod file;
pub mod inputs;
pub mod random;
pub mod ratio;
pub mod scores;
pub mod select;
pub mod settings;

pub use ratio::Ratio;
pub use scores::{InputStats, Score};
pub use settings::PruneSettings;

use crate::error::{Error, Result};
use crate::model::Model;
use std::borrow::Cow;

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
    /// A uniform random order (a control, [`random`]), seeded by the mask
    /// seed given (`random:K`) or, when `None` (`random`), by the run's
    /// `--seed`.
    Random(Option<u64>),
    /// Whole input features (the first layer's columns) with the smallest
    /// summed score ([`inputs`]): `abs-inputs`, `act-inputs`, `wanda-inputs`.
    Inputs(Score),
}

impl Method {
    /// Parse `abs`, `act`, `wanda`, `combined`, `random`, `random:SEED`,
    /// `abs-inputs`, `act-inputs`, `wanda-inputs`.
    ///
    /// ```
    /// use parana::prune::Method;
    /// assert_eq!(Method::parse("random:2").unwrap(), Method::Random(Some(2)));
    /// assert_eq!(Method::parse("random:2").unwrap().name(), "random:2");
    /// assert!(Method::parse("random:x").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Method> {
        if let Some(k) = s.strip_prefix("random:") {
            let digits = !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit());
            return k
                .parse::<u64>()
                .ok()
                .filter(|_| digits)
                .map(|k| Method::Random(Some(k)))
                .ok_or_else(|| {
                Error::input(format!(
                    "bad pruning method '{s}' (expected random or random:SEED, SEED a whole number, e.g. random:2)"
                ))
            });
        }
        match s {
            "abs" => Ok(Method::Abs),
            "act" => Ok(Method::Act),
            "wanda" => Ok(Method::Wanda),
            "combined" => Ok(Method::Combined),
            "random" => Ok(Method::Random(None)),
            "abs-inputs" => Ok(Method::Inputs(Score::Abs)),
            "act-inputs" => Ok(Method::Inputs(Score::Act)),
            "wanda-inputs" => Ok(Method::Inputs(Score::Wanda)),
            _ => Err(Error::input(format!(
                "unknown pruning method '{s}' (expected abs, act, wanda, combined, random, random:SEED, abs-inputs, act-inputs or wanda-inputs)"
            ))),
        }
    }

    /// The method's name, as parsed (e.g. `random:2`).
    pub fn name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Method::Abs => "abs",
            Method::Act => "act",
            Method::Wanda => "wanda",
            Method::Combined => "combined",
            Method::Random(None) => "random",
            Method::Random(Some(k)) => return Cow::Owned(format!("random:{k}")),
            Method::Inputs(Score::Abs) => "abs-inputs",
            Method::Inputs(Score::Act) => "act-inputs",
            Method::Inputs(Score::Wanda) => "wanda-inputs",
        })
    }

    /// Whether this is a random mask (`random`, `random:K`).
    pub fn is_random(self) -> bool {
        matches!(self, Method::Random(_))
    }

    /// Whether the method needs input statistics.
    pub fn needs_inputs(self) -> bool {
        !matches!(
            self,
            Method::Abs | Method::Random(_) | Method::Inputs(Score::Abs)
        )
    }

    /// Whether the method removes whole input features (its ratio is then
    /// the share of input features, not of weights).
    pub fn prunes_inputs(self) -> bool {
        matches!(self, Method::Inputs(_))
    }

    /// Check that the method can prune `model` with `layers` (None: all)
    /// before any work: input-feature methods need a fully connected (or
    /// decoupled) first layer among `layers`.
    pub fn check_fits(self, model: &Model, layers: Option<&[usize]>) -> Result<()> {
        if self.prunes_inputs() {
            inputs::check(model, &self.name(), layers)?;
        }
        Ok(())
    }
}

/// The prunable layers a setting names, as recorded in metadata: `0,2`,
/// or `all` when every layer is pruned.
pub fn layers_name(layers: Option<&[usize]>) -> String {
    match layers {
        Some(l) => l
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(","),
        None => "all".into(),
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
    /// Input columns of the one selected layer in pruning order, each with
    /// the flat indices of its weights.
    Columns(Vec<Vec<u32>>),
}

/// One selected layer's weight values, shape, and (sparse layers) the
/// input column of each stored value.
type Weight<'a> = (&'a [f32], &'a [usize], Option<&'a [u32]>);

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
        Pruner::build(model, method, scope, layers, stats, offset, None)
    }

    /// [`Pruner::new`] for a run whose seed is `seed`: the mask seed of
    /// `random` (a `random:K` keeps its own `K`).
    pub fn seeded(
        model: &Model,
        method: Method,
        scope: Scope,
        layers: Option<&[usize]>,
        stats: Option<&[InputStats]>,
        offset: Ratio,
        seed: u64,
    ) -> Result<Pruner> {
        Pruner::build(model, method, scope, layers, stats, offset, Some(seed))
    }

    fn build(
        model: &Model,
        method: Method,
        scope: Scope,
        layers: Option<&[usize]>,
        stats: Option<&[InputStats]>,
        offset: Ratio,
        run_seed: Option<u64>,
    ) -> Result<Pruner> {
        let positions = scores::prunable_layers(model);
        let total = positions.len();
        if let Some(bad) = layers.iter().copied().flatten().find(|&&k| k >= total) {
            return Err(Error::input(format!(
                "layer {bad} does not exist: the model has {total} prunable layers (0-{})",
                total.saturating_sub(1)
            )));
        }
        method.check_fits(model, layers)?;
        let layers: Vec<usize> = match layers {
            // Input features are the first layer's columns: only it changes.
            _ if method.prunes_inputs() => vec![0],
            Some(l) => {
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
        if scope == Scope::PerRow
            && weights.iter().any(|w| w.2.is_some())
            && !method.prunes_inputs()
        {
            return Err(Error::input(
                "per-row scope is not available for sparse (decoupled) layers; use per-matrix or global",
            ));
        }
        let sizes: Vec<usize> = weights.iter().map(|w| w.0.len()).collect();
        let score_of = |score: Score| -> Vec<Vec<f32>> {
            weights
                .iter()
                .zip(&layers)
                .map(|(&(w, shape, cols), &k)| {
                    scores::scores(score, w, shape, cols, stats.map(|s| &s[k]))
                })
                .collect()
        };
        let orders_for = |score: Score| -> Orders {
            let sc = score_of(score);
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
        let main = match method {
            Method::Abs | Method::Combined => orders_for(Score::Abs),
            Method::Act => orders_for(Score::Act),
            Method::Wanda => orders_for(Score::Wanda),
            Method::Random(seed) => {
                let Some(seed) = seed.or(run_seed) else {
                    return Err(Error::input(
                        "method random needs a mask seed: give random:SEED (or the run's --seed)",
                    ));
                };
                random_orders(scope, &layers, &weights, &sizes, seed)
            }
            Method::Inputs(score) => {
                let (features, cols) = (model.net.layers()[positions[0]].in_len(), weights[0].2);
                let sc = score_of(score);
                Orders::Columns(inputs::column_order(&sc[0], features, cols))
            }
        };
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

    /// For an input-feature method, the number of input features (the
    /// first layer's columns) its ratios are shares of.
    pub fn input_features(&self) -> Option<usize> {
        match &self.main {
            Orders::Columns(c) => Some(c.len()),
            _ => None,
        }
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
        Orders::Columns(o) => {
            for col in &o[..r.count(o.len())] {
                for &j in col {
                    kept[0][j as usize] = false;
                }
            }
        }
    }
}

/// The `random` method's orders for `scope` over the selected `layers`
/// (prunable layer indices) with `weights` of `sizes`.
fn random_orders(
    scope: Scope,
    layers: &[usize],
    weights: &[Weight],
    sizes: &[usize],
    seed: u64,
) -> Orders {
    match scope {
        Scope::PerMatrix => Orders::PerMatrix(
            sizes
                .iter()
                .zip(layers)
                .map(|(&n, &k)| random::order(n, seed, k))
                .collect(),
        ),
        Scope::PerRow => Orders::PerRow(
            weights
                .iter()
                .zip(layers)
                .map(|((w, shape, _), &k)| {
                    let cols: usize = shape[1..].iter().product();
                    (random::row_orders(w.len(), cols, seed, k), cols)
                })
                .collect(),
        ),
        Scope::Global => Orders::Global(random::global_order(sizes, seed)),
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

    /// A pruner without input statistics or offset.
    fn pruner(m: &Model, method: Method, scope: Scope, layers: Option<&[usize]>) -> Result<Pruner> {
        Pruner::new(m, method, scope, layers, None, Ratio::ZERO)
    }

    fn pruned(m: &Masks, layer: usize) -> Vec<bool> {
        m.0[layer].as_ref().unwrap().iter().map(|k| !k).collect()
    }

    fn is_subset(a: &[bool], b: &[bool]) -> bool {
        a.iter().zip(b).all(|(a, b)| !*a || *b)
    }

    #[test]
    fn random_prunes_exact_nested_seeded_masks() {
        let m = small();
        let p = |seed| pruner(&m, Method::Random(Some(seed)), Scope::PerMatrix, None).unwrap();
        let (a, b) = (p(1), p(2));
        let mut last: Option<Masks> = None;
        for r in ["0.1", "0.29", "0.5", "0.6", "0.93"] {
            let r = Ratio::parse(r).unwrap();
            let ma = a.masks(r);
            assert_eq!(
                ma.kept(),
                vec![Some(784 * 6 - r.count(784 * 6)), Some(60 - r.count(60))]
            );
            assert_eq!(ma, p(1).masks(r), "same seed, same mask");
            assert_ne!(ma, b.masks(r), "another seed, another mask");
            if let Some(l) = &last {
                for k in 0..2 {
                    assert!(is_subset(&pruned(l, k), &pruned(&ma, k)), "not nested");
                }
            }
            last = Some(ma);
        }
        // `random` takes the run's seed: the same masks as `random:K`.
        assert!(pruner(&m, Method::Random(None), Scope::PerMatrix, None).is_err());
        let run = Pruner::seeded(
            &m,
            Method::Random(None),
            Scope::PerMatrix,
            None,
            None,
            Ratio::ZERO,
            2,
        )
        .unwrap();
        let half = Ratio::parse("0.5").unwrap();
        assert_eq!(run.masks(half), b.masks(half));
        // random:1 keeps its own seed whatever the run's.
        let own = Pruner::seeded(
            &m,
            Method::Random(Some(1)),
            Scope::PerMatrix,
            None,
            None,
            Ratio::ZERO,
            2,
        )
        .unwrap();
        assert_eq!(own.masks(half), a.masks(half));
        // A layer's mask is the same whichever layers are pruned with it.
        let only1 = pruner(&m, Method::Random(Some(1)), Scope::PerMatrix, Some(&[1])).unwrap();
        assert_eq!(only1.masks(half).0[1], a.masks(half).0[1]);
        assert_eq!(only1.masks(half).0[0], None);

        // Per-row and global: exact counts per row and in all.
        let rows = pruner(&m, Method::Random(Some(5)), Scope::PerRow, None).unwrap();
        let quarter = Ratio::parse("0.25").unwrap();
        for row in rows.masks(quarter).0[0].as_ref().unwrap().chunks(784) {
            assert_eq!(row.iter().filter(|k| !**k).count(), 196);
        }
        let g = pruner(&m, Method::Random(Some(5)), Scope::Global, None).unwrap();
        let gm = g.masks(half);
        let kept: usize = gm.kept().iter().map(|k| k.unwrap()).sum();
        assert_eq!(kept, (784 * 6 + 60) - (784 * 6 + 60) / 2);
        // Global shares out about evenly: neither matrix is spared.
        let k1 = gm.kept()[1].unwrap();
        assert!((15..=45).contains(&k1), "{k1} of 60 kept");
    }

    #[test]
    fn random_masks_are_uniform_over_rows_and_columns() {
        // 784x200 pruned at 0.5: the pruned count of each row (784 weights)
        // and column (200) is hypergeometric. Sum of squared standardised
        // deviations ~ chi-square with about as many degrees of freedom as
        // rows (or columns): far below for a mask too even (e.g. exactly
        // per row), far above for a clumped one (e.g. the first half).
        let mut m = Model::new(Arch::custom(vec![200], vec![]).unwrap(), Head::Lq);
        init::init(&mut m, 1);
        let p = pruner(&m, Method::Random(Some(7)), Scope::PerMatrix, None).unwrap();
        let mask = pruned(&p.masks(Ratio::parse("0.5").unwrap()), 0);
        let n = 784 * 200;
        let chi = |counts: Vec<usize>, size: usize| {
            let e = size as f64 * 0.5;
            let var = size as f64 * 0.25 * (n - size) as f64 / (n - 1) as f64;
            counts
                .iter()
                .map(|&c| (c as f64 - e).powi(2) / var)
                .sum::<f64>()
        };
        let rows: Vec<usize> = mask
            .chunks(784)
            .map(|r| r.iter().filter(|&&x| x).count())
            .collect();
        let cols: Vec<usize> = (0..784)
            .map(|c| (0..200).filter(|&r| mask[r * 784 + c]).count())
            .collect();
        let (cr, cc) = (chi(rows, 784), chi(cols, 200));
        // 200 and 784 degrees of freedom: mean 200 / 784, sd 20 / 40.
        assert!((120.0..300.0).contains(&cr), "rows: chi-square {cr}");
        assert!((600.0..980.0).contains(&cc), "columns: chi-square {cc}");
    }

    #[test]
    fn input_pruning_zeroes_whole_columns_of_the_first_layer_in_score_order() {
        // Hand-built: column i of the first layer has |W| summing to
        // (i * 37) % 784 + 1 over its 3 rows, so abs-inputs removes
        // columns in that order; act weighs them by |mean x_i|.
        let mut m = Model::new(Arch::custom(vec![3], vec![]).unwrap(), Head::Lq);
        init::init(&mut m, 2);
        let sum = |i: usize| ((i * 37) % 784 + 1) as f32;
        {
            let w = &mut m.net.layers_mut()[0].params_mut()[0].value;
            for (j, v) in w.iter_mut().enumerate() {
                let (o, i) = (j / 784, j % 784);
                let part = [0.5f32, 0.25, 0.25][o];
                *v = if o == 1 {
                    -part * sum(i)
                } else {
                    part * sum(i)
                };
            }
        }
        let abs = pruner(&m, Method::Inputs(Score::Abs), Scope::PerMatrix, None).unwrap();
        assert_eq!(abs.input_features(), Some(784));
        let removed = |masks: &Masks| -> Vec<usize> {
            let mk = masks.0[0].as_ref().unwrap();
            (0..784)
                .filter(|&i| {
                    let col: Vec<bool> = (0..3).map(|o| mk[o * 784 + i]).collect();
                    assert!(
                        col.iter().all(|&k| k) || col.iter().all(|&k| !k),
                        "column {i} split"
                    );
                    !col[0]
                })
                .collect()
        };
        let mut last: Vec<usize> = Vec::new();
        for r in ["0.1", "0.25", "0.5", "0.81"] {
            let r = Ratio::parse(r).unwrap();
            let masks = abs.masks(r);
            assert_eq!(masks.0[1], None, "only the first layer is touched");
            let cols = removed(&masks);
            assert_eq!(cols.len(), r.count(784));
            assert_eq!(masks.kept()[0], Some(3 * (784 - r.count(784))));
            // The removed columns are those of the smallest sums.
            let max_removed = cols.iter().map(|&i| sum(i)).fold(0.0, f32::max);
            let min_kept = (0..784)
                .filter(|i| !cols.contains(i))
                .map(sum)
                .fold(f32::MAX, f32::min);
            assert!(max_removed < min_kept);
            assert!(last.iter().all(|i| cols.contains(i)), "not nested");
            last = cols;
        }
        // act-inputs: pixel i's mean input is 0 for the first 392 pixels,
        // so those go first whatever their weights, then by |mean| * sum.
        let stats = vec![
            InputStats {
                mean: (0..784).map(|i| if i < 392 { 0.0 } else { 1.0 }).collect(),
                norm: vec![1.0; 784],
            },
            InputStats {
                mean: vec![1.0; 3],
                norm: vec![1.0; 3],
            },
        ];
        let act = Pruner::new(
            &m,
            Method::Inputs(Score::Act),
            Scope::PerMatrix,
            None,
            Some(&stats),
            Ratio::ZERO,
        )
        .unwrap();
        assert_eq!(
            removed(&act.masks(Ratio::parse("0.5").unwrap())),
            (0..392).collect::<Vec<_>>()
        );
        let more = removed(&act.masks(Ratio::parse("0.6").unwrap()));
        let extra: Vec<usize> = more.into_iter().filter(|&i| i >= 392).collect();
        let mut by_sum: Vec<usize> = (392..784).collect();
        by_sum.sort_by(|&a, &b| sum(a).total_cmp(&sum(b)));
        let mut want = by_sum[..Ratio::parse("0.6").unwrap().count(784) - 392].to_vec();
        want.sort_unstable();
        assert_eq!(extra, want);
        // Restricting to layers without the first one is an error.
        let e = pruner(&m, Method::Inputs(Score::Abs), Scope::PerMatrix, Some(&[1])).unwrap_err();
        assert!(e.to_string().contains("layer 0"), "{e}");
    }

    #[test]
    fn input_pruning_refuses_a_convolution_first_and_bad_spellings() {
        let conv = crate::model::ConvSpec {
            kh: 3,
            kw: 3,
            out: 2,
        };
        let mut m = Model::new(Arch::custom(vec![8], vec![conv]).unwrap(), Head::Lq);
        init::init(&mut m, 1);
        let e = pruner(&m, Method::Inputs(Score::Abs), Scope::PerMatrix, None).unwrap_err();
        assert!(e.to_string().contains("convolution"), "{e}");
        // Random works on the convolution like on any matrix.
        let r = pruner(&m, Method::Random(Some(1)), Scope::PerMatrix, None).unwrap();
        assert_eq!(r.masks(Ratio::parse("0.5").unwrap()).kept()[0], Some(9));
        for bad in [
            "random:x",
            "random:",
            "random:-1",
            "random:+1",
            "abs-input",
            "inputs",
        ] {
            assert!(Method::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "random",
            "random:0",
            "random:12",
            "abs-inputs",
            "act-inputs",
        ] {
            assert_eq!(Method::parse(good).unwrap().name(), good);
        }
        assert!(!Method::parse("random:3").unwrap().needs_inputs());
        assert!(!Method::parse("abs-inputs").unwrap().needs_inputs());
        assert!(Method::parse("act-inputs").unwrap().needs_inputs());
    }
}
