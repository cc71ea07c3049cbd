//! A PNG of a universal noise beside a few noisy test digits: the noise in
//! a diverging colour map (blue negative, white zero, red positive, full
//! colour at the limit), then each digit with the noise added, in grey.

use crate::error::{Error, Result};
use std::path::Path;

/// Pixels per image pixel.
const SCALE: usize = 4;
/// Pixels between panels.
const GAP: usize = 6;

/// The diverging colour of `v` in [-1, 1].
fn diverging(v: f32) -> [u8; 3] {
    let a = v.abs().min(1.0);
    let end = if v < 0.0 {
        [33.0, 102.0, 172.0]
    } else {
        [178.0, 24.0, 43.0]
    };
    let mix = |e: f32| (255.0 + (e - 255.0) * a).round() as u8;
    [mix(end[0]), mix(end[1]), mix(end[2])]
}

/// Render `noise` (`[h, w, c]` values, c averaged) and `digits` (images
/// in [0, 1], the same layout, noise already added) side by side as RGB.
/// Returns (width, height, pixels).
pub fn render(
    noise: &[f32],
    limit: f32,
    digits: &[&[f32]],
    [h, w, c]: [usize; 3],
) -> (usize, usize, Vec<u8>) {
    let panels = 1 + digits.len();
    let width = panels * w * SCALE + (panels - 1) * GAP;
    let height = h * SCALE;
    let mut px = vec![255u8; width * height * 3];
    let avg = |img: &[f32], y: usize, x: usize| {
        (0..c).map(|ch| img[(y * w + x) * c + ch]).sum::<f32>() / c as f32
    };
    for p in 0..panels {
        let x0 = p * (w * SCALE + GAP);
        for y in 0..h {
            for x in 0..w {
                let rgb = if p == 0 {
                    diverging(avg(noise, y, x) / limit)
                } else {
                    let g = (avg(digits[p - 1], y, x).clamp(0.0, 1.0) * 255.0).round() as u8;
                    [g, g, g]
                };
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let o = ((y * SCALE + dy) * width + x0 + x * SCALE + dx) * 3;
                        px[o..o + 3].copy_from_slice(&rgb);
                    }
                }
            }
        }
    }
    (width, height, px)
}

/// Encode RGB pixels as PNG bytes.
pub fn encode_png(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| Error::Other(format!("png: {e}")))?;
        w.write_image_data(rgb)
            .map_err(|e| Error::Other(format!("png: {e}")))?;
    }
    Ok(out)
}

/// Write the picture of `noise` and `digits` to `path` (atomically).
pub fn save(
    path: &Path,
    noise: &[f32],
    limit: f32,
    digits: &[&[f32]],
    input: [usize; 3],
) -> Result<()> {
    let (w, h, px) = render(noise, limit, digits, input);
    crate::io::write_atomic(path, &encode_png(w, h, &px)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_png_header() {
        assert_eq!(diverging(0.0), [255, 255, 255]);
        assert_eq!(diverging(1.0), [178, 24, 43]);
        assert_eq!(diverging(-2.0), [33, 102, 172]);
        let noise = vec![0.25f32; 4];
        let digit = vec![1.0f32; 4];
        let (w, h, px) = render(&noise, 0.25, &[&digit], [2, 2, 1]);
        assert_eq!((w, h), (2 * 2 * SCALE + GAP, 2 * SCALE));
        assert_eq!(&px[..3], &[178, 24, 43]);
        let last = px.len() - 3;
        assert_eq!(&px[last..], &[255, 255, 255]);
        let bytes = encode_png(w, h, &px).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
