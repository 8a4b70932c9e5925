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
//! back (`Aᵀ M A`). Every coefficient is 0 or ±1, so the transforms scale nothing; the results
//! differ from the direct sums only by the order of the additions (tested to 1e-4).

use gemm::Parallelism;

use super::{Geom, Rhs, for_groups_of, parity_planes, product, with_scratch, zeros};

/// 2 × 2 output blocks per product: a group's transformed inputs (`9 · K` rows of this many
/// columns) stay in the caches.
const TARGET_TILES: usize = 64;

/// Channels each side must have for this path. With fewer, or fewer than [`MIN_TILES`]
/// blocks, the nine products are too small to pay for the transforms: measured slower than
/// the unfolded products for the `quick` and `xray` presets' networks (width 16, 16–128
/// channels, batch 32) and for a search at batch 1, faster for the 64 × 64 DCGAN of width 64
/// at batch 64 (docs/performance.md).
const MIN_CHANNELS: usize = 64;

/// 2 × 2 output blocks a call must have in all for this path (see [`MIN_CHANNELS`]).
const MIN_TILES: usize = 256;

/// Whether 2 × 2 blocks tile the low-resolution map of `geo`: what [`conv`] and
/// [`conv_transpose`] need.
pub(crate) fn fits(geo: Geom) -> bool {
    geo.h > 0 && geo.w > 0 && geo.h.is_multiple_of(2) && geo.w.is_multiple_of(2)
}

/// Whether the layers of `geo` take the Winograd path: they [`fit`](fits), there are at least
/// [`MIN_TILES`] blocks, and both sides have at least [`MIN_CHANNELS`] channels. Decided by
/// the shape alone, never by the number of threads, so that one machine always rounds the
/// same way.
pub(crate) fn applies(geo: Geom) -> bool {
    fits(geo)
        && geo.batch * geo.h * geo.w / 4 >= MIN_TILES
        && geo.c_hi >= MIN_CHANNELS
        && geo.c_lo >= MIN_CHANNELS
}

/// The distance between the nine positions' matrices of `len` values in the scratch buffers:
/// one cache line more than `len`. The transforms read or write all nine at once, and nine
/// streams a multiple of 4 KiB apart fall into the same cache sets (measured: the batch-64
/// search 5–10 % faster than with the matrices end to end).
fn spaced(len: usize) -> usize {
    len + 16
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

/// Scratch values [`transform_input`] needs for an `h × w` plane.
fn input_scratch((h, w): (usize, usize)) -> usize {
    3 * h * (w / 2) + w + 2
}

/// The transformed 3 × 3 input blocks `Bᵀ D B` of one `h × w` plane, where block `(ty, tx)`
/// reads rows `2·ty + oy + 0..3` and columns `2·tx + ox + 0..3` (zero outside the plane), for
/// `oy, ox` in {−1, 0}. `scratch` holds [`input_scratch`] values.
///
/// `B` across first, once per row: with the row's values at even and odd offsets from the
/// first column read, `e` and `o`, block `tx` takes `(e[tx] − o[tx], o[tx], e[tx + 1] − o[tx])`.
/// Then `Bᵀ` down, once per block row, on whole rows of blocks. Every loop runs over
/// contiguous slices.
#[inline(always)]
fn transform_input(
    plane: &[f32],
    (h, w): (usize, usize),
    offsets: (isize, isize),
    v: &mut [f32],
    target: Target,
    scratch: &mut [f32],
) {
    // The common widths as constants: their loops, as short as one or two vectors, are then
    // unrolled instead of running through a vector loop's scalar remainder.
    let run = match w / 2 {
        1 => transform_input_sized::<1>,
        2 => transform_input_sized::<2>,
        4 => transform_input_sized::<4>,
        8 => transform_input_sized::<8>,
        16 => transform_input_sized::<16>,
        _ => transform_input_sized::<0>,
    };
    run(plane, (h, w), offsets, v, target, scratch);
}

/// [`transform_input`] for `w / 2 == TW`, or any width for `TW == 0`.
fn transform_input_sized<const TW: usize>(
    plane: &[f32],
    (h, w): (usize, usize),
    (oy, ox): (isize, isize),
    v: &mut [f32],
    target: Target,
    scratch: &mut [f32],
) {
    debug_assert!(matches!((oy, ox), (-1 | 0, -1 | 0)), "offsets {oy}, {ox}");
    let tw = if TW == 0 { w / 2 } else { TW };
    let (across, pair) = scratch[..input_scratch((h, w))].split_at_mut(3 * h * tw);
    let (even, odd) = pair.split_at_mut(tw + 1);
    let odd = &mut odd[..tw];
    for (row, out) in plane.chunks_exact(w).zip(across.chunks_exact_mut(3 * tw)) {
        if ox == 0 {
            for ((e, o), p) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                (*e, *o) = (p[0], p[1]);
            }
            even[tw] = 0.0;
        } else {
            even[0] = 0.0;
            for ((e, o), p) in even[1..]
                .iter_mut()
                .zip(odd.iter_mut())
                .zip(row.chunks_exact(2))
            {
                (*o, *e) = (p[0], p[1]);
            }
        }
        let (a0, rest) = out.split_at_mut(tw);
        let (a1, a2) = rest.split_at_mut(tw);
        for (((((x0, x1), x2), &e0), &e1), &o) in a0
            .iter_mut()
            .zip(a1.iter_mut())
            .zip(a2.iter_mut())
            .zip(&even[..tw])
            .zip(&even[1..])
            .zip(&*odd)
        {
            *x0 = e0 - o;
            *x1 = o;
            *x2 = e1 - o;
        }
    }
    let across = &*across;
    let row = |r: isize, j: usize| {
        usize::try_from(r)
            .ok()
            .filter(|&r| r < h)
            .map(|r| &across[(3 * r + j) * tw..][..tw])
    };
    for ty in 0..h / 2 {
        let top = 2 * ty as isize + oy;
        for j in 0..3 {
            let at = |i: usize| target.at + (3 * i + j) * target.stride + ty * tw;
            let (r0, r1, r2) = (row(top, j), row(top + 1, j), row(top + 2, j));
            // Row 1 of the block lies inside the plane for oy in {−1, 0}; rows 0 and 2 may not.
            let Some(r1) = r1 else {
                continue;
            };
            v[at(1)..][..tw].copy_from_slice(r1);
            for (i, outer) in [(0, r0), (2, r2)] {
                let dst = &mut v[at(i)..][..tw];
                match outer {
                    Some(r) => {
                        for ((d, &a), &m) in dst.iter_mut().zip(r).zip(r1) {
                            *d = a - m;
                        }
                    }
                    None => {
                        for (d, &m) in dst.iter_mut().zip(r1) {
                            *d = -m;
                        }
                    }
                }
            }
        }
    }
}

/// Scratch values [`transform_output`] needs for a row of `tw` blocks.
fn output_scratch(tw: usize) -> usize {
    4 * tw
}

/// One block row of outputs `Aᵀ M A`: block `tx` of the row holds `m[at + ξ · stride + tx]`
/// for the nine positions `ξ`; its output `(u, v)` goes to `out[u][(2·tx + v)·step + offset]`
/// for `step` 1 or 2. `scratch` holds [`output_scratch`] values.
#[inline(always)]
fn transform_output(
    m: &[f32],
    target: Target,
    tw: usize,
    out: [&mut [f32]; 2],
    layout: (usize, usize),
    scratch: &mut [f32],
) {
    let run = match tw {
        1 => transform_output_sized::<1>,
        2 => transform_output_sized::<2>,
        4 => transform_output_sized::<4>,
        8 => transform_output_sized::<8>,
        16 => transform_output_sized::<16>,
        _ => transform_output_sized::<0>,
    };
    run(m, target, tw, out, layout, scratch);
}

/// [`transform_output`] for `tw == TW`, or any `tw` for `TW == 0`.
fn transform_output_sized<const TW: usize>(
    m: &[f32],
    target: Target,
    tw: usize,
    out: [&mut [f32]; 2],
    (step, offset): (usize, usize),
    scratch: &mut [f32],
) {
    let tw = if TW == 0 { tw } else { TW };
    let at = |xi: usize| &m[target.at + xi * target.stride..][..tw];
    let (left, right) = scratch[..4 * tw].split_at_mut(2 * tw);
    for (u, dst) in out.into_iter().enumerate() {
        // Aᵀ down (rows u and u + 1 of the block), then A across, into the block's left and
        // right outputs.
        let (a, b, c) = (at(3 * u), at(3 * u + 1), at(3 * u + 2));
        let (d, e, f) = (at(3 * u + 3), at(3 * u + 4), at(3 * u + 5));
        let (l, r) = (&mut left[..tw], &mut right[..tw]);
        for (((((((l, r), &a), &b), &c), &d), &e), &f) in l
            .iter_mut()
            .zip(r.iter_mut())
            .zip(a)
            .zip(b)
            .zip(c)
            .zip(d)
            .zip(e)
            .zip(f)
        {
            let middle = b + e;
            *l = a + d + middle;
            *r = middle + c + f;
        }
        for ((block, &l), &r) in dst
            .chunks_exact_mut(2 * step)
            .zip(&left[..tw])
            .zip(&right[..tw])
        {
            block[offset] = l;
            block[step + offset] = r;
        }
    }
}

/// The nine positions' products `m[ξ] = u[ξ] · v[ξ]`, each `[rows, k] · [k, cols]`: `u` holds
/// the nine weight matrices end to end, `m` and `v` one matrix every `stride` values.
fn nine_products(
    (m, m_stride): (&mut [f32], usize),
    u: &[f32],
    (v, v_stride): (&[f32], usize),
    (rows, k, cols): (usize, usize, usize),
    par: Parallelism,
) {
    for xi in 0..9 {
        product(
            &mut m[xi * m_stride..][..rows * cols],
            &u[xi * rows * k..][..rows * k],
            &v[xi * v_stride..][..k * cols],
            (rows, k, cols),
            Rhs::RowMajor,
            false,
            par,
        );
    }
}

/// Convolution, 4 × 4 kernel, stride 2, padding 1, through F(2 × 2, 2 × 2): `x`
/// `[B, c_hi, 2h, 2w]`, `u` from [`conv_weights`] → `[B, c_lo, h, w]`. Needs [`fits`].
pub(crate) fn conv(x: &[f32], u: &[f32], geo: Geom) -> Vec<f32> {
    let k = 4 * geo.c_hi;
    assert!(
        fits(geo) && x.len() == geo.hi_len() && u.len() == 9 * geo.c_lo * k,
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
            let (v_stride, m_stride) = (spaced(k * cols), spaced(c_lo * cols));
            let parts_len = images * k * pixels;
            with_scratch(
                [
                    9 * v_stride,
                    9 * m_stride,
                    parts_len + input_scratch((h, w)).max(output_scratch(tw)),
                ],
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
                            stride: v_stride,
                        };
                        transform_input(plane, (h, w), (-py, -px), v, target, rows);
                    }
                    nine_products((m, m_stride), u, (v, v_stride), (c_lo, k, cols), par);
                    for (index, plane) in out.chunks_exact_mut(pixels).enumerate() {
                        let (image, co) = (index / c_lo, index % c_lo);
                        for (ty, pair) in plane.chunks_exact_mut(2 * w).enumerate() {
                            let (top, bottom) = pair.split_at_mut(w);
                            let target = Target {
                                at: co * cols + image * tiles + ty * tw,
                                stride: m_stride,
                            };
                            transform_output(m, target, tw, [top, bottom], (1, 0), rows);
                        }
                    }
                },
            );
        },
    );
    y
}

/// Transposed convolution, 4 × 4 kernel, stride 2, padding 1, through F(2 × 2, 2 × 2): `x`
/// `[B, c_lo, h, w]`, `u` from [`transpose_weights`] → `[B, c_hi, 2h, 2w]`. Needs [`fits`].
pub(crate) fn conv_transpose(x: &[f32], u: &[f32], geo: Geom) -> Vec<f32> {
    let (k, c_hi) = (geo.c_lo, geo.c_hi);
    assert!(
        fits(geo) && x.len() == geo.lo_len() && u.len() == 36 * c_hi * k,
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
            let (v_stride, m_stride) = (spaced(k * cols), spaced(c_hi * cols));
            let source = &x[first * k * pixels..][..images * k * pixels];
            with_scratch(
                [
                    9 * v_stride,
                    9 * m_stride,
                    input_scratch((h, w)).max(output_scratch(tw)),
                ],
                |[v, m, rows]| {
                    for phase in 0..4 {
                        let (r, t) = (phase / 2, phase % 2);
                        for (index, plane) in source.chunks_exact(pixels).enumerate() {
                            let (image, ci) = (index / k, index % k);
                            let target = Target {
                                at: ci * cols + image * tiles,
                                stride: v_stride,
                            };
                            let offsets = (r as isize - 1, t as isize - 1);
                            transform_input(plane, (h, w), offsets, v, target, rows);
                        }
                        let weights = &u[phase * 9 * c_hi * k..][..9 * c_hi * k];
                        let shape = (c_hi, k, cols);
                        nine_products((m, m_stride), weights, (v, v_stride), shape, par);
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
                                    stride: m_stride,
                                };
                                transform_output(m, target, tw, [top, bottom], (2, t), rows);
                            }
                        }
                    }
                },
            );
        },
    );
    y
}
