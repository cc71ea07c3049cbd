//! Timing harness for the article CNN's conv layers (batch 64): forward and
//! forward+backward per layer, to compare with `bench/conv_torch.py`.
//! Run: `cargo run --release --example conv_bench [iters]`.

use std::time::Instant;

use parana::nn::{Conv2d, Layer, Mode, Permute};
use parana::rng::Rng;

/// CPU time used so far by all threads of this process, in ms (Linux;
/// 0 elsewhere). Unlike wall time it barely moves when other jobs share the
/// machine, so it is the figure to tune against.
fn cpu_ms() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e6
}

/// (median, minimum, CPU per run) of `iters` timed runs after a warm-up, in
/// ms. The minimum is the steadier wall figure on a shared machine.
fn time_ms(iters: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..5 {
        f();
    }
    let cpu0 = cpu_ms();
    let mut ts: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let cpu = (cpu_ms() - cpu0) / iters as f64;
    ts.sort_by(|a, b| a.total_cmp(b));
    (ts[ts.len() / 2], ts[0], cpu)
}

fn main() {
    let iters = std::env::args()
        .nth(1)
        .map_or(30, |s| s.parse().expect("iters"));
    let (batch, h, w) = (64, 28, 28);
    // (in_c, out_c, k, needs dx): the first layer's input gradient is unused.
    let layers = [
        (1, 12, 7, false),
        (12, 15, 5, true),
        (15, 25, 3, true),
        (25, 20, 3, true),
    ];
    let mut rng = Rng::new(0);
    let (mut tot_f, mut tot_fb, mut tot_fm, mut tot_fbm) = (0.0, 0.0, 0.0, 0.0);
    let mut tot_cpu = 0.0;
    for (in_c, out_c, k, needs_dx) in layers {
        let mut conv = Conv2d::new(h, w, in_c, out_c, k, k);
        for p in conv.params_mut() {
            p.value
                .iter_mut()
                .for_each(|v| *v = rng.uniform_f32() - 0.5);
        }
        let x: Vec<f32> = (0..batch * conv.in_len())
            .map(|_| rng.uniform_f32() - 0.5)
            .collect();
        let dy: Vec<f32> = (0..batch * conv.out_len())
            .map(|_| rng.uniform_f32() - 0.5)
            .collect();
        let mut y = vec![0.0; dy.len()];
        let mut dx = vec![0.0; x.len()];
        let tf = time_ms(iters, || conv.forward(&x, &mut y, batch, Mode::Eval));
        let tfb = time_ms(iters, || {
            conv.forward(&x, &mut y, batch, Mode::Eval);
            let dx = needs_dx.then_some(&mut dx[..]);
            conv.backward(&x, &y, &dy, dx, batch, true);
        });
        tot_f += tf.0;
        tot_fb += tfb.0;
        tot_fm += tf.1;
        tot_fbm += tfb.1;
        println!(
            "  conv {in_c:2}->{out_c:2} {k}x{k}: fwd {:7.3} ms  fwd+bwd {:7.3} ms   (min {:7.3} / {:7.3})   cpu {:7.3} / {:7.3}",
            tf.0, tfb.0, tf.1, tfb.1, tf.2, tfb.2
        );
        tot_cpu += tfb.2;
    }
    println!(
        "  total: fwd {tot_f:7.3} ms  fwd+bwd {tot_fb:7.3} ms   (min {tot_fm:7.3} / {tot_fbm:7.3})   fwd+bwd cpu {tot_cpu:7.3}"
    );
    // The permute in front of the first fully connected layer.
    let mut perm = Permute::nhwc_to_nchw(h, w, 20);
    let x: Vec<f32> = (0..batch * perm.in_len()).map(|i| i as f32).collect();
    let mut y = vec![0.0; x.len()];
    let mut dx = vec![0.0; x.len()];
    let tf = time_ms(iters, || perm.forward(&x, &mut y, batch, Mode::Eval));
    let tb = time_ms(iters, || {
        perm.backward(&x, &y, &y, Some(&mut dx), batch, false)
    });
    println!(
        "  permute 28x28x20: fwd {:7.3} ms  bwd {:7.3} ms   (min {:7.3} / {:7.3})",
        tf.0, tb.0, tf.1, tb.1
    );
}
