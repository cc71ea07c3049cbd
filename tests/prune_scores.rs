//! Pruning scores on real MNIST: activated values of the article MLP, and
//! the deterministic tie-breaking among the many weights that score 0.

mod common;

use parana::model::{Arch, Model, init};
use parana::nn::Head;
use parana::prune::{Method, Pruner, Ratio, Scope, scores};

#[test]
fn act_ties_on_dead_pixels_are_broken_by_flat_index() {
    let data = common::mnist();
    let mut m = Model::new(Arch::preset("article-mlp").unwrap(), Head::Lq);
    init::init(&mut m, 1);
    let idx = scores::score_images(&data.train, 2000, 1);
    assert_eq!(idx.len(), 2000);
    let stats = scores::input_stats(&mut m, &data.train, &idx);
    assert_eq!(stats.len(), 4);
    assert_eq!(stats[0].mean.len(), 784);
    assert_eq!(stats[3].mean.len(), 800);
    // Pixel means lie in [0, 1]; some border pixels are always 0.
    let dead: Vec<usize> = (0..784).filter(|&i| stats[0].mean[i] == 0.0).collect();
    assert!(
        dead.len() > 40,
        "only {} always-zero pixels in 2000 images",
        dead.len()
    );
    assert!(stats[0].mean.iter().all(|&v| (0.0..=1.0).contains(&v)));

    // Every weight leaving a dead pixel scores 0. Pruning exactly as many
    // weights as there are such zero scores in the first matrix must prune
    // exactly those; pruning fewer must take the lowest flat indices.
    let zero_scored: Vec<usize> = (0..1500 * 784)
        .filter(|j| dead.contains(&(j % 784)))
        .collect();
    let p = Pruner::new(
        &m,
        Method::Act,
        Scope::PerMatrix,
        Some(&[0]),
        Some(&stats),
        Ratio::ZERO,
    )
    .unwrap();
    let n = 1500 * 784;
    // A ratio whose count is below the number of zero scores.
    let r = Ratio::new(zero_scored.len() as u64 / 2, n as u64).unwrap();
    let k = r.count(n);
    let mask = p.masks(r).0[0].clone().unwrap();
    let pruned: Vec<usize> = (0..n).filter(|&j| !mask[j]).collect();
    assert_eq!(pruned.len(), k);
    assert_eq!(
        pruned,
        zero_scored[..k].to_vec(),
        "ties must go by flat index"
    );

    // The same call twice gives the same masks (no hidden randomness).
    let p2 = Pruner::new(
        &m,
        Method::Act,
        Scope::PerMatrix,
        Some(&[0]),
        Some(&stats),
        Ratio::ZERO,
    )
    .unwrap();
    assert_eq!(p2.masks(r), p.masks(r));
}
