//! Bias consolidation: remove the hidden neurons pruning has cut off.
//!
//! A hidden neuron whose incoming weights are all zero outputs the constant
//! `relu(bias)`: that constant times its outgoing weights is folded into the
//! next layer's biases and the neuron dropped. A hidden neuron whose
//! outgoing weights are all zero feeds nothing and is dropped. Each removal
//! can cut off further neurons (a row left empty, a column left unused), so
//! this repeats until nothing changes. Network inputs and outputs are never
//! removed, nor the last neuron of a layer. The result computes the same
//! function up to float rounding of the folded biases.

/// One fully connected layer as plain buffers: `w` is `[out, inp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseLayer {
    /// Outputs.
    pub out: usize,
    /// Inputs.
    pub inp: usize,
    /// Weights, row-major `[out, inp]`.
    pub w: Vec<f32>,
    /// Biases, `[out]`.
    pub b: Vec<f32>,
}

/// A consolidated network.
#[derive(Clone, Debug)]
pub struct Consolidated {
    /// The layers, smaller where neurons were removed.
    pub layers: Vec<DenseLayer>,
    /// For each hidden layer, the original indices of the neurons kept.
    pub kept: Vec<Vec<usize>>,
    /// For each hidden layer, how many neurons were removed.
    pub removed: Vec<usize>,
}

/// Consolidate a ReLU MLP given as its layers (ReLU after each but the
/// last).
///
/// ```
/// use parana::sparse::consolidate::{DenseLayer, consolidate};
/// // Hidden neuron 1 has no inputs left: it outputs relu(0.5) = 0.5, which
/// // times its outgoing weight 2.0 moves into the output's bias.
/// let l0 = DenseLayer { out: 2, inp: 1, w: vec![1.0, 0.0], b: vec![0.0, 0.5] };
/// let l1 = DenseLayer { out: 1, inp: 2, w: vec![1.0, 2.0], b: vec![0.1] };
/// let c = consolidate(&[l0, l1]);
/// assert_eq!((c.removed.clone(), c.kept[0].clone()), (vec![1], vec![0]));
/// assert_eq!(c.layers[1].b, vec![0.1 + 0.5 * 2.0]);
/// ```
pub fn consolidate(layers: &[DenseLayer]) -> Consolidated {
    let n = layers.len();
    let mut bias: Vec<Vec<f32>> = layers.iter().map(|l| l.b.clone()).collect();
    // alive[k][j]: output j of layer k is kept. Inputs are all alive.
    let mut alive: Vec<Vec<bool>> = layers.iter().map(|l| vec![true; l.out]).collect();
    let w = |k: usize, r: usize, c: usize| layers[k].w[r * layers[k].inp + c];
    let mut changed = true;
    while changed {
        changed = false;
        for k in 0..n.saturating_sub(1) {
            for j in 0..layers[k].out {
                if !alive[k][j] || alive[k].iter().filter(|&&a| a).count() == 1 {
                    continue;
                }
                let in_zero =
                    (0..layers[k].inp).all(|c| (k > 0 && !alive[k - 1][c]) || w(k, j, c) == 0.0);
                let out_zero =
                    (0..layers[k + 1].out).all(|r| !alive[k + 1][r] || w(k + 1, r, j) == 0.0);
                if in_zero {
                    let c = bias[k][j].max(0.0);
                    for r in 0..layers[k + 1].out {
                        if alive[k + 1][r] {
                            bias[k + 1][r] += c * w(k + 1, r, j);
                        }
                    }
                }
                if in_zero || out_zero {
                    alive[k][j] = false;
                    changed = true;
                }
            }
        }
    }
    let keep = |k: usize| -> Vec<usize> { (0..layers[k].out).filter(|&j| alive[k][j]).collect() };
    let mut out = Vec::with_capacity(n);
    for (k, bk) in bias.iter().enumerate() {
        let rows = keep(k);
        let cols: Vec<usize> = if k == 0 {
            (0..layers[0].inp).collect()
        } else {
            keep(k - 1)
        };
        let mut wk = Vec::with_capacity(rows.len() * cols.len());
        for &r in &rows {
            wk.extend(cols.iter().map(|&c| w(k, r, c)));
        }
        out.push(DenseLayer {
            out: rows.len(),
            inp: cols.len(),
            w: wk,
            b: rows.iter().map(|&r| bk[r]).collect(),
        });
    }
    let kept: Vec<Vec<usize>> = (0..n.saturating_sub(1)).map(keep).collect();
    let removed = kept
        .iter()
        .zip(layers)
        .map(|(k, l)| l.out - k.len())
        .collect();
    Consolidated {
        layers: out,
        kept,
        removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Forward through ReLU MLP layers, one sample.
    fn run(layers: &[DenseLayer], x: &[f32]) -> Vec<f32> {
        let mut a = x.to_vec();
        for (k, l) in layers.iter().enumerate() {
            let mut y: Vec<f32> = (0..l.out)
                .map(|r| l.b[r] + (0..l.inp).map(|c| l.w[r * l.inp + c] * a[c]).sum::<f32>())
                .collect();
            if k + 1 < layers.len() {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            a = y;
        }
        a
    }

    fn layer(r: &mut Rng, inp: usize, out: usize, sparsity: f64) -> DenseLayer {
        let mut u = || r.uniform_f32() * 2.0 - 1.0;
        let w = (0..inp * out).map(|_| u()).collect::<Vec<_>>();
        let b = (0..out).map(|_| u()).collect();
        let mut l = DenseLayer { out, inp, w, b };
        for v in l.w.iter_mut() {
            if r.uniform() < sparsity {
                *v = 0.0;
            }
        }
        l
    }

    #[test]
    fn removes_cut_off_neurons_and_keeps_outputs() {
        let mut r = Rng::new(5);
        let mut net = vec![
            layer(&mut r, 12, 9, 0.5),
            layer(&mut r, 9, 8, 0.5),
            layer(&mut r, 8, 4, 0.3),
        ];
        // Neuron 2 of layer 0: no inputs (constant relu(bias), positive).
        net[0].b[2] = 0.7;
        net[0].w[2 * 12..3 * 12].fill(0.0);
        // Neuron 5 of layer 0: no outputs.
        for rr in 0..8 {
            net[1].w[rr * 9 + 5] = 0.0;
        }
        // Neuron 3 of layer 1: its only input is neuron 2 of layer 0, so it
        // becomes constant once that one is folded (a cascade).
        net[1].w[3 * 9..4 * 9].fill(0.0);
        net[1].w[3 * 9 + 2] = 0.9;
        let c = consolidate(&net);
        assert!(
            !c.kept[0].contains(&2) && !c.kept[0].contains(&5),
            "{:?}",
            c.kept
        );
        assert!(!c.kept[1].contains(&3), "{:?}", c.kept);
        assert_eq!(c.removed.len(), 2);
        assert!(c.removed[0] >= 2 && c.removed[1] >= 1);
        assert_eq!(c.layers[0].out, 9 - c.removed[0]);
        assert_eq!(c.layers[1].inp, c.layers[0].out);
        for _ in 0..20 {
            let x: Vec<f32> = (0..12).map(|_| r.uniform_f32()).collect();
            let (a, b) = (run(&net, &x), run(&c.layers, &x));
            for (u, v) in a.iter().zip(&b) {
                assert!((u - v).abs() <= 1e-5, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn a_fully_pruned_layer_keeps_one_neuron() {
        let mut r = Rng::new(6);
        let mut net = vec![layer(&mut r, 5, 4, 1.0), layer(&mut r, 4, 3, 0.0)];
        net[0].b = vec![0.5, -1.0, 2.0, 0.1];
        let c = consolidate(&net);
        assert_eq!(c.layers[0].out, 1);
        let x = [0.3; 5];
        let (a, b) = (run(&net, &x), run(&c.layers, &x));
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() <= 1e-5);
        }
    }
}
