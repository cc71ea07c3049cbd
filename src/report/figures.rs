//! Small figures drawn directly as SVG text: the noise images of a suite
//! (one panel per noise, red where the noise adds brightness, blue where
//! it removes it, full colour at the noise's limit).

use crate::attack::noise_file::Noise;
use std::fmt::Write;

/// Pixel size of one noise value.
const CELL: usize = 4;

/// One row of noise panels with their (target, limit) captions.
pub fn noises_svg(noises: &[Noise]) -> String {
    let (h, w) = noises
        .first()
        .map(|n| (n.input[0], n.input[1]))
        .unwrap_or((28, 28));
    let pw = w * CELL;
    let gap = 12;
    let top = 18;
    let width = noises.len().max(1) * (pw + gap) + gap;
    let height = h * CELL + top + gap;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n"
    );
    for (k, n) in noises.iter().enumerate() {
        let x0 = gap + k * (pw + gap);
        let _ = writeln!(
            s,
            "<g class=\"noise\"><text x=\"{}\" y=\"13\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">class {} / {}</text>",
            x0 + pw / 2,
            n.target,
            n.limit
        );
        let _ = writeln!(
            s,
            "<rect x=\"{x0}\" y=\"{top}\" width=\"{pw}\" height=\"{}\" fill=\"white\" stroke=\"#888\"/>",
            h * CELL
        );
        let c = n.input[2].max(1);
        for y in 0..h {
            for x in 0..w {
                // Mean over channels (MNIST has one).
                let v: f32 = (0..c).map(|ch| n.data[(y * w + x) * c + ch]).sum::<f32>() / c as f32;
                let a = (v / n.limit.max(1e-6)).clamp(-1.0, 1.0);
                if a.abs() < 0.02 {
                    continue;
                }
                let fade = (255.0 * (1.0 - a.abs())) as u8;
                let (r, g, b) = if a > 0.0 {
                    (255, fade, fade)
                } else {
                    (fade, fade, 255)
                };
                let _ = writeln!(
                    s,
                    "<rect x=\"{}\" y=\"{}\" width=\"{CELL}\" height=\"{CELL}\" fill=\"#{r:02x}{g:02x}{b:02x}\"/>",
                    x0 + x * CELL,
                    top + y * CELL
                );
            }
        }
        s += "</g>\n";
    }
    s += "</svg>\n";
    s
}
