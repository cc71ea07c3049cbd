//! Sparse layers against the dense ones they replace.

use super::*;
use crate::nn::{Linear, Mode, Relu};
use crate::rng::Rng;

fn rand_vec(r: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| r.uniform_f32() * 2.0 - 1.0).collect()
}

/// A dense layer with random weights, a fraction `sparsity` of them zero
/// (chosen at random), and random biases.
fn dense(r: &mut Rng, inp: usize, out: usize, sparsity: f64) -> Linear {
    let mut l = Linear::new(inp, out);
    let p = l.params_mut();
    p[0].value = rand_vec(r, inp * out)
        .into_iter()
        .map(|v| if r.uniform() < sparsity { 0.0 } else { v })
        .collect();
    p[1].value = rand_vec(r, out);
    l
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Dense forward (then ReLU when asked) and the sparse layer's forward.
fn both(l: &mut Linear, relu: bool, x: &[f32], batch: usize) -> (Vec<f32>, Vec<f32>) {
    let (i, o) = (l.in_len(), l.out_len());
    let mut yd = vec![0.0; batch * o];
    l.forward(x, &mut yd, batch, Mode::Eval);
    if relu {
        yd.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    let p = l.params();
    let mut s = SparseLinear::from_dense(&p[0].value, o, i, &p[1].value, relu);
    assert_eq!((s.in_len(), s.out_len()), (i, o));
    // Garbage in the output buffer must not leak into the result.
    let mut ys = vec![f32::NAN; batch * o];
    s.forward(x, &mut ys, batch, Mode::Eval);
    (yd, ys)
}

#[test]
fn sparse_equals_dense_at_every_sparsity_and_batch() {
    let mut r = Rng::new(1);
    for &sparsity in &[0.0, 0.3, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0] {
        for &(i, o) in &[(50, 70), (3, 1), (129, 33)] {
            let mut l = dense(&mut r, i, o, sparsity);
            for &batch in &[
                1, 2, 3, 4, 15, 16, 17, 30, 32, 47, 48, 63, 64, 65, 128, 257, 1000,
            ] {
                let x = rand_vec(&mut r, batch * i);
                for relu in [false, true] {
                    let (yd, ys) = both(&mut l, relu, &x, batch);
                    let d = max_diff(&yd, &ys);
                    assert!(
                        d <= 1e-4,
                        "sparsity {sparsity} {i}->{o} batch {batch} relu {relu}: {d}"
                    );
                }
            }
        }
    }
}

#[test]
fn parallel_paths_equal_dense() {
    // Big enough that rows and panels are split across threads.
    let mut r = Rng::new(2);
    for &sparsity in &[0.0, 0.9, 1.0] {
        let mut l = dense(&mut r, 300, 211, sparsity);
        for &batch in &[1, 3, 32, 64, 257, 1000] {
            let x = rand_vec(&mut r, batch * 300);
            let (yd, ys) = both(&mut l, true, &x, batch);
            assert!(max_diff(&yd, &ys) <= 1e-4, "{sparsity} {batch}");
        }
    }
}

#[test]
fn fully_pruned_layer_outputs_its_bias() {
    let l = SparseLinear::from_dense(&[0.0; 6], 2, 3, &[0.5, -0.5], true);
    let mut l = l;
    let mut y = vec![9.0; 4];
    l.forward(&[1.0; 6], &mut y, 2, Mode::Eval);
    assert_eq!(y, [0.5, 0.0, 0.5, 0.0]);
}

#[test]
fn input_gradient_equals_dense() {
    let mut r = Rng::new(3);
    for &(sparsity, batch, relu) in &[(0.0, 5, true), (0.9, 70, true), (0.5, 3, false)] {
        let mut l = dense(&mut r, 40, 30, sparsity);
        let x = rand_vec(&mut r, batch * 40);
        let dy = rand_vec(&mut r, batch * 30);
        let (yd, ys) = both(&mut l, relu, &x, batch);
        // Dense: through ReLU's mask, then the linear layer.
        let dyd: Vec<f32> = if relu {
            dy.iter()
                .zip(&yd)
                .map(|(&g, &y)| if y > 0.0 { g } else { 0.0 })
                .collect()
        } else {
            dy.clone()
        };
        let mut dxd = vec![0.0; batch * 40];
        l.backward(&x, &yd, &dyd, Some(&mut dxd), batch, false);
        let p = l.params();
        let mut s = SparseLinear::from_dense(&p[0].value, 30, 40, &p[1].value, relu);
        let mut dxs = vec![f32::NAN; batch * 40];
        s.backward(&x, &ys, &dy, Some(&mut dxs), batch, false);
        assert!(max_diff(&dxd, &dxs) <= 1e-4, "{sparsity} {batch}");
    }
}

fn mlp(r: &mut Rng) -> Sequential {
    let mut n = Sequential::new(vec![
        Box::new(Linear::new(20, 30)),
        Box::new(Relu::new(30)),
        Box::new(Linear::new(30, 25)),
        Box::new(Relu::new(25)),
        Box::new(Linear::new(25, 10)),
    ]);
    for p in n.params_mut() {
        p.value = rand_vec(r, p.len());
    }
    n
}

#[test]
fn sparsify_picks_sparse_by_density_and_keeps_outputs() {
    let mut r = Rng::new(4);
    for sparse_mid in [false, true] {
        let mut net = mlp(&mut r);
        prune_magnitude(&mut net, 0.9);
        if !sparse_mid {
            // The middle matrix dense again: it must stay a `linear` layer.
            let keep = rand_vec(&mut r, 30 * 25);
            net.layers_mut()[2].params_mut()[0].value = keep;
        }
        let mut dense_net = mlp(&mut r);
        for (a, b) in dense_net.params_mut().zip(net.params()) {
            a.value = b.value.clone();
        }
        let mut s = sparsify(net, MAX_DENSITY);
        let kinds: Vec<&str> = s.layers().iter().map(|l| l.kind()).collect();
        if sparse_mid {
            // Three sparse layers in a row: activations stay in panels.
            assert_eq!(kinds, ["sparse_linear"; 3]);
        } else {
            assert_eq!(kinds, ["sparse_linear", "linear", "relu", "sparse_linear"]);
        }
        for batch in [1, 3, 4, 16, 17, 30, 48, 64, 70, 128, 257, 1000] {
            let x = rand_vec(&mut r, batch * 20);
            let want = dense_net.forward(&x, batch, Mode::Eval).to_vec();
            let got = s.forward(&x, batch, Mode::Eval).to_vec();
            assert!(max_diff(&want, &got) <= 1e-4, "{sparse_mid} {batch}");
            // The input gradient through the network equals the dense one.
            let g = rand_vec(&mut r, batch * 10);
            dense_net.output_grad_mut().copy_from_slice(&g);
            let mut dxd = vec![0.0; x.len()];
            dense_net.backward(&x, Some(&mut dxd), false);
            s.output_grad_mut().copy_from_slice(&g);
            let mut dxs = vec![0.0; x.len()];
            s.backward(&x, Some(&mut dxs), false);
            assert!(max_diff(&dxd, &dxs) <= 1e-4, "grad {sparse_mid} {batch}");
        }
    }
}

#[test]
fn magnitude_pruning_zeroes_exactly_the_smallest() {
    let mut n = Sequential::new(vec![Box::new(Linear::new(3, 2))]);
    n.params_mut().next().unwrap().value = vec![0.5, -0.1, 0.1, 2.0, -0.3, 0.1];
    n.params_mut().nth(1).unwrap().value = vec![0.0, 0.01];
    prune_magnitude(&mut n, 0.5);
    let v: Vec<Vec<f32>> = n.params().map(|p| p.value.clone()).collect();
    // k = 3: |0.1| three times, ties by index -> indices 1, 2, 5.
    assert_eq!(v[0], [0.5, 0.0, 0.0, 2.0, -0.3, 0.0]);
    assert_eq!(v[1], [0.0, 0.01]);
    prune_magnitude(&mut n, 0.7); // floor(4.2) = 4
    assert_eq!(
        n.params()
            .next()
            .unwrap()
            .value
            .iter()
            .filter(|&&x| x == 0.0)
            .count(),
        4
    );
}
