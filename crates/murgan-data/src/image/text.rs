//! Labels on pictures without a font dependency: a 5 × 7 pixel font (A–Z, 0–9 and a little
//! punctuation; lower case is drawn as upper case) and nearest-neighbour upscaling, so sample
//! grids and heatmap panels can be written large enough to read and say what each part is.

use super::GrayImage;

/// Rows of a glyph, 5 bits each (bit 4 = leftmost column).
type Glyph = [u8; 7];

fn glyph(c: char) -> Glyph {
    match c.to_ascii_uppercase() {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        ' ' => [0; 7],
        // Anything else: a hollow box, so a missing glyph is visible rather than silent.
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

/// Height of a line of text at `scale`, in pixels.
pub fn text_height(scale: u32) -> u32 {
    7 * scale
}

/// Width of `text` at `scale`, in pixels (5 columns a character and 1 between characters).
pub fn text_width(text: &str, scale: u32) -> u32 {
    let n = text.chars().count() as u32;
    if n == 0 { 0 } else { (6 * n - 1) * scale }
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a `scale` × `scale`
/// square of gray level `value`; what falls outside the image is clipped.
pub fn draw_text(img: &mut GrayImage, x: u32, y: u32, text: &str, scale: u32, value: f32) {
    let scale = scale.max(1);
    for (k, c) in text.chars().enumerate() {
        let x0 = x + k as u32 * 6 * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (x0 + col * scale + dx, y + row as u32 * scale + dy);
                        if px < img.width && py < img.height {
                            img.pixels[(py * img.width + px) as usize] = value;
                        }
                    }
                }
            }
        }
    }
}

/// The image enlarged `factor` times in each direction, each pixel repeated (nearest
/// neighbour: no interpolation invents detail).
pub fn upscale(img: &GrayImage, factor: u32) -> GrayImage {
    let f = factor.max(1);
    let (w, h) = (img.width * f, img.height * f);
    let mut pixels = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        let row = (y / f * img.width) as usize;
        pixels.extend((0..w).map(|x| img.pixels[row + (x / f) as usize]));
    }
    GrayImage {
        width: w,
        height: h,
        pixels,
    }
}

/// The smallest integer factor that makes `side` at least `min` (1 if it already is).
pub fn factor_to_reach(side: u32, min: u32) -> u32 {
    if side == 0 {
        1
    } else {
        min.div_ceil(side).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(w: u32, h: u32) -> GrayImage {
        GrayImage {
            width: w,
            height: h,
            pixels: vec![1.0; (w * h) as usize],
        }
    }

    #[test]
    fn text_draws_the_glyph_bits_scaled_and_clipped() {
        let mut img = blank(20, 16);
        draw_text(&mut img, 1, 1, "l", 2, 0.0);
        // "L": the left column down 7 rows, the bottom row across 5 columns, at scale 2.
        let dark = |x: u32, y: u32| img.pixels[(y * 20 + x) as usize] == 0.0;
        assert!(dark(1, 1) && dark(2, 2) && dark(1, 14) && dark(10, 14));
        assert!(!dark(3, 1) && !dark(11, 14) && !dark(1, 15));
        let count = img.pixels.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(count, 11 * 4);
        assert_eq!(text_width("real", 2), 46);
        // Off the edge: clipped, no panic.
        draw_text(&mut img, 18, 14, "WW", 3, 0.0);
    }

    #[test]
    fn upscaling_repeats_pixels() {
        let img = GrayImage {
            width: 2,
            height: 1,
            pixels: vec![0.25, 0.75],
        };
        let big = upscale(&img, 3);
        assert_eq!((big.width, big.height), (6, 3));
        assert_eq!(&big.pixels[..6], &[0.25, 0.25, 0.25, 0.75, 0.75, 0.75]);
        assert_eq!(big.pixels[12..], big.pixels[..6]);
        assert_eq!(factor_to_reach(32, 128), 4);
        assert_eq!(factor_to_reach(100, 256), 3);
        assert_eq!(factor_to_reach(300, 256), 1);
    }
}
