//! Winograd's minimal filtering F(2 × 2, 2 × 2) for both stride-2 layers: 9 multiplications
//! for each 2 × 2 block of outputs and input channel, where the unfolded product takes 16.
//!
//! Both layers are sums of two-tap-by-two-tap correlations at stride 1 on the low-resolution
//! grid:
//! - the convolution over the four parity sub-images of its input ([`super::parity_planes`]):
//!   kernel rows 1 and 3 read the even rows at offsets 0 and +1, rows 0 and 2 the odd rows at
//!   −1 and 0 (the same across), and the four correlations add up;
//! - the transposed convolution, one correlation per output phase `(r, t)` over its input, at
//!   offsets `r − 1, r` down and `t − 1, t` across (see [`super::TAPS`]).
//!
//! F(2, 2) gives two outputs of a two-tap filter `g` from three inputs `d` with three
//! products: `m = ((d0 − d1)·g0, d1·(g0 + g1), (d2 − d1)·g1)`, `y = (m0 + m1, m1 + m2)`.
//! Nested in two dimensions, each 2 × 2 output block takes its 3 × 3 input block transformed
//! (`Bᵀ D B`), each weight is transformed to 3 × 3 (`G g Gᵀ`), the nine positions are nine
//! matrix products summed over input channels, and each block's 3 × 3 result is transformed
//! back (`Aᵀ M A`). Every coefficient is 0 or ±1, so the rounding is that of the direct sums.

use super::{Geom, Rhs, for_groups_of, parity_planes, product, with_scratch, zeros};

/// 2 × 2 output blocks per product: a group's transformed inputs (`9 · K` rows of this many
/// columns) stay in the caches.
const TARGET_TILES: usize = 64;

/// Channels each side must have for this path: with fewer the nine products are too thin to
/// pay for the transforms.
const MIN_CHANNELS: usize = 8;

/// 2 × 2 output blocks a call must have in all: with fewer (a search at batch 1) the nine
/// products are too small to keep the threads busy, and the unfolded products are faster.
const MIN_TILES: usize = 128;

/// Whether the layers of `geo` take the Winograd path: 2 × 2 blocks tile the low-resolution
/// map, there are at least [`MIN_TILES`] of them, and both sides have at least
/// [`MIN_CHANNELS`] channels. Decided by the shape alone, never by the number of threads, so
/// that one machine always rounds the same way.
pub(crate) fn applies(geo: Geom) -> bool {
    geo.h > 0
        && geo.w > 0
        && geo.h.is_multiple_of(2)
        && geo.w.is_multiple_of(2)
        && geo.batch * geo.h * geo.w / 4 >= MIN_TILES
        && geo.c_hi >= MIN_CHANNELS
        && geo.c_lo >= MIN_CHANNELS
}

/// `G g Gᵀ` of a 2 × 2 weight block `g[a][b]` (`a` down, `b` across), row-major 3 × 3.
fn transform_weight(g: [[f32; 2]; 2]) -> [f32; 9] {
    let t = [g[0], [g[0][0] + g[1][0], g[0][1] + g[1][1]], g[1]];
    let mut u = [0.0; 9];
    for (i, row) in t.iter().enumerate() {
        u[i * 3] = row[0];
        u[i * 3 + 1] = row[0] + row[1];
        u[i * 3 + 2] = row[1];
    }
    u
}

/// The convolution's weight `[c_lo, c_hi, 4, 4]` transformed for [`conv`]: nine `[c_lo, K]`
/// matrices, `K = 4 · c_hi` rows ordered (parity `py·2 + px`, input channel).
pub(crate) fn conv_weights(weight: &[f32], geo: Geom) -> Vec<f32> {
    assert_eq!(
        weight.len(),
        geo.weight_len(),
        "stride-2 convolution: weight size does not match {geo:?}"
    );
    let k = 4 * geo.c_hi;
    let matrix = geo.c_lo * k;
    let mut u = vec![0.0; 9 * matrix];
    for (pair, w) in weight.chunks_exact(16).enumerate() {
        let (co, ci) = (pair / geo.c_hi, pair % geo.c_hi);
        for parity in 0..4 {
            let (py, px) = (parity / 2, parity % 2);
            // Tap a (b) of parity py (px) is kernel row (column) 2a + 1 − py.
            let tap = |a: usize, b: usize| w[(2 * a + 1 - py) * 4 + 2 * b + 1 - px];
            let t = transform_weight([[tap(0, 0), tap(0, 1)], [tap(1, 0), tap(1, 1)]]);
            for (xi, v) in t.into_iter().enumerate() {
                u[xi * matrix + co * k + parity * geo.c_hi + ci] = v;
            }
        }
    }
    u
}

/// The weight `[c_lo, c_hi, 4, 4]` transformed for [`conv_transpose`]: for each output phase
/// `(r, t)`, nine `[c_hi, c_lo]` matrices.
pub(crate) fn transpose_weights(weight: &[f32], geo: Geom) -> Vec<f32> {
    assert_eq!(
        weight.len(),
        geo.weight_len(),
        "stride-2 transposed convolution: weight size does not match {geo:?}"
    );
    let matrix = geo.c_hi * geo.c_lo;
    let mut u = vec![0.0; 36 * matrix];
    for (pair, w) in weight.chunks_exact(16).enumerate() {
        let (ci, co) = (pair / geo.c_hi, pair % geo.c_hi);
        for phase in 0..4 {
            let (r, t) = (phase / 2, phase % 2);
            // Tap a (offset r − 1 + a) of phase r is kernel row 3 − 2a − r.
            let tap = |a: usize, b: usize| w[(3 - 2 * a - r) * 4 + 3 - 2 * b - t];
            let tr = transform_weight([[tap(0, 0), tap(0, 1)], [tap(1, 0), tap(1, 1)]]);
            for (xi, v) in tr.into_iter().enumerate() {
                u[(phase * 9 + xi) * matrix + co * geo.c_lo + ci] = v;
            }
        }
    }
    u
}

/// Where [`transform_input`] writes: position `ξ` of block `b` goes to
/// `v[at + ξ · stride + b]`.
#[derive(Clone, Copy)]
struct Target {
    at: usize,
    stride: usize,
}

/// The transformed 3 × 3 input blocks `Bᵀ D B` of one `h × w` plane, where block `(ty, tx)`
/// reads rows `2·ty + oy + 0..3` and columns `2·tx + ox + 0..3` (zero outside the plane).
/// `rows` is scratch of `3 · (w + 2)` values.
fn transform_input(
    plane: &[f32],
    (h, w): (usize, usize),
    (oy, ox): (isize, isize),
    v: &mut [f32],
    target: Target,
    rows: &mut [f32],
) {
    let (th, tw) = (h / 2, w / 2);
    let padded = w + 2;
    let (b0, rest) = rows[..3 * padded].split_at_mut(padded);
    let (b1, b2) = rest.split_at_mut(padded);
    for ty in 0..th {
        let row = |i: isize| {
            let r = 2 * ty as isize + oy + i;
            usize::try_from(r)
                .ok()
                .filter(|&r| r < h)
                .map(|r| &plane[r * w..][..w])
        };
        // Bᵀ down: the three rows of the block row, each padded with one zero either side.
        for b in [&mut *b0, &mut *b1, &mut *b2] {
            b[0] = 0.0;
            b[w + 1] = 0.0;
        }
        match row(1) {
            Some(r1) => b1[1..=w].copy_from_slice(r1),
            None => b1[1..=w].fill(0.0),
        }
        for (b, r) in [(&mut *b0, row(0)), (&mut *b2, row(2))] {
            match r {
                Some(r) => {
                    for ((o, &a), &m) in b[1..=w].iter_mut().zip(r).zip(&b1[1..=w]) {
                        *o = a - m;
                    }
                }
                None => {
                    for (o, &m) in b[1..=w].iter_mut().zip(&b1[1..=w]) {
                        *o = -m;
                    }
                }
            }
        }
        // B across, block by block.
        let first = (ox + 1) as usize;
        for (i, b) in [&*b0, &*b1, &*b2].into_iter().enumerate() {
            let base = target.at + ty * tw;
            let (s0, s1, s2) = (
                base + 3 * i * target.stride,
                base + (3 * i + 1) * target.stride,
                base + (3 * i + 2) * target.stride,
            );
            for tx in 0..tw {
                let c = first + 2 * tx;
                let (d0, d1, d2) = (b[c], b[c + 1], b[c + 2]);
                v[s0 + tx] = d0 - d1;
                v[s1 + tx] = d1;
                v[s2 + tx] = d2 - d1;
            }
        }
    }
}

/// One block row of outputs `Aᵀ M A`: block `tx` of the row holds `m[at + ξ · stride + tx]`
/// for the nine positions `ξ`; its output `(u, v)` goes to `out[u][(2·tx + v)·step + offset]`.
fn transform_output(
    m: &[f32],
    target: Target,
    tw: usize,
    out: [&mut [f32]; 2],
    (step, offset): (usize, usize),
) {
    let [top, bottom] = out;
    let at = |xi: usize| &m[target.at + xi * target.stride..][..tw];
    let (m0, m1, m2, m3, m4, m5, m6, m7, m8) = (
        at(0),
        at(1),
        at(2),
        at(3),
        at(4),
        at(5),
        at(6),
        at(7),
        at(8),
    );
    for tx in 0..tw {
        // Aᵀ down, then A across.
        let s0 = [m0[tx] + m3[tx], m1[tx] + m4[tx], m2[tx] + m5[tx]];
        let s1 = [m3[tx] + m6[tx], m4[tx] + m7[tx], m5[tx] + m8[tx]];
        let (left, right) = (2 * tx * step + offset, (2 * tx + 1) * step + offset);
        top[left] = s0[0] + s0[1];
        top[right] = s0[1] + s0[2];
        bottom[left] = s1[0] + s1[1];
        bottom[right] = s1[1] + s1[2];
    }
}

/// Convolution, 4 × 4 kernel, stride 2, padding 1, through F(2 × 2, 2 × 2): `x`
/// `[B, c_hi, 2h, 2w]`, `u` from [`conv_weights`] → `[B, c_lo, h, w]`. Needs [`applies`].
pub(crate) fn conv(x: &[f32], u: &[f32], geo: Geom) -> Vec<f32> {
    let k = 4 * geo.c_hi;
    assert!(
        applies(geo) && x.len() == geo.hi_len() && u.len() == 9 * geo.c_lo * k,
        "stride-2 convolution (Winograd): operand sizes do not match {geo:?}"
    );
    let (h, w, c_lo) = (geo.h, geo.w, geo.c_lo);
    let (pixels, tw) = (h * w, w / 2);
    let tiles = pixels / 4;
    let mut y = zeros(geo.lo_len());
    for_groups_of(
        geo,
        4 * TARGET_TILES,
        &mut y,
        c_lo * pixels,
        |first, images, out, par| {
            let cols = images * tiles;
            let parts_len = images * k * pixels;
            with_scratch(
                [9 * k * cols, 9 * c_lo * cols, parts_len + 3 * (w + 2)],
                |[v, m, rest]| {
                    let (parts, rows) = rest.split_at_mut(parts_len);
                    parity_planes(x, geo, first, images, parts);
                    for (index, plane) in parts.chunks_exact(pixels).enumerate() {
                        // Planes come (image, channel, parity); rows of K (parity, channel).
                        let (image, ci, parity) = (index / k, (index / 4) % geo.c_hi, index % 4);
                        let row = parity * geo.c_hi + ci;
                        let (py, px) = ((parity / 2) as isize, (parity % 2) as isize);
                        let target = Target {
                            at: row * cols + image * tiles,
                            stride: k * cols,
                        };
                        transform_input(plane, (h, w), (-py, -px), v, target, rows);
                    }
                    for xi in 0..9 {
                        product(
                            &mut m[xi * c_lo * cols..][..c_lo * cols],
                            &u[xi * c_lo * k..][..c_lo * k],
                            &v[xi * k * cols..][..k * cols],
                            (c_lo, k, cols),
                            Rhs::RowMajor,
                            false,
                            par,
                        );
                    }
                    for (index, plane) in out.chunks_exact_mut(pixels).enumerate() {
                        let (image, co) = (index / c_lo, index % c_lo);
                        for (ty, pair) in plane.chunks_exact_mut(2 * w).enumerate() {
                            let (top, bottom) = pair.split_at_mut(w);
                            let target = Target {
                                at: co * cols + image * tiles + ty * tw,
                                stride: c_lo * cols,
                            };
                            transform_output(m, target, tw, [top, bottom], (1, 0));
                        }
                    }
                },
            );
        },
    );
    y
}

/// Transposed convolution, 4 × 4 kernel, stride 2, padding 1, through F(2 × 2, 2 × 2): `x`
/// `[B, c_lo, h, w]`, `u` from [`transpose_weights`] → `[B, c_hi, 2h, 2w]`. Needs
/// [`applies`].
pub(crate) fn conv_transpose(x: &[f32], u: &[f32], geo: Geom) -> Vec<f32> {
    let (k, c_hi) = (geo.c_lo, geo.c_hi);
    assert!(
        applies(geo) && x.len() == geo.lo_len() && u.len() == 36 * c_hi * k,
        "stride-2 transposed convolution (Winograd): operand sizes do not match {geo:?}"
    );
    let (h, w) = (geo.h, geo.w);
    let (pixels, tw) = (h * w, w / 2);
    let tiles = pixels / 4;
    let hi_w = 2 * w;
    let mut y = zeros(geo.hi_len());
    for_groups_of(
        geo,
        4 * TARGET_TILES,
        &mut y,
        c_hi * 4 * pixels,
        |first, images, out, par| {
            let cols = images * tiles;
            let source = &x[first * k * pixels..][..images * k * pixels];
            with_scratch(
                [9 * k * cols, 9 * c_hi * cols, 3 * (w + 2)],
                |[v, m, rows]| {
                    for phase in 0..4 {
                        let (r, t) = (phase / 2, phase % 2);
                        for (index, plane) in source.chunks_exact(pixels).enumerate() {
                            let (image, ci) = (index / k, index % k);
                            let target = Target {
                                at: ci * cols + image * tiles,
                                stride: k * cols,
                            };
                            let offsets = (r as isize - 1, t as isize - 1);
                            transform_input(plane, (h, w), offsets, v, target, rows);
                        }
                        let weights = &u[phase * 9 * c_hi * k..][..9 * c_hi * k];
                        for xi in 0..9 {
                            product(
                                &mut m[xi * c_hi * cols..][..c_hi * cols],
                                &weights[xi * c_hi * k..][..c_hi * k],
                                &v[xi * k * cols..][..k * cols],
                                (c_hi, k, cols),
                                Rhs::RowMajor,
                                false,
                                par,
                            );
                        }
                        // Block row ty of the phase fills output rows 4·ty + r and 4·ty + 2 + r,
                        // every other column from t.
                        for (index, plane) in out.chunks_exact_mut(4 * pixels).enumerate() {
                            let (image, co) = (index / c_hi, index % c_hi);
                            for (ty, band) in plane.chunks_exact_mut(4 * hi_w).enumerate() {
                                let (upper, lower) = band.split_at_mut(2 * hi_w);
                                let top = &mut upper[r * hi_w..][..hi_w];
                                let bottom = &mut lower[r * hi_w..][..hi_w];
                                let target = Target {
                                    at: co * cols + image * tiles + ty * tw,
                                    stride: c_hi * cols,
                                };
                                transform_output(m, target, tw, [top, bottom], (2, t));
                            }
                        }
                    }
                },
            );
        },
    );
    y
}
