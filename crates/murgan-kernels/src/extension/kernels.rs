//! murgan's CPU kernels on contiguous `f32` NCHW slices: the two stride-2 DCGAN layers and
//! their weight gradient, each folded into a few large matrix products through the `gemm`
//! crate (the kernels Burn's `flex` calls too), and BatchNorm's inference-mode affine map fused
//! with a (Leaky)ReLU.
//!
//! Both layers connect a high-resolution side (`2h × 2w`, `c_hi` channels) and a
//! low-resolution side (`h × w`, `c_lo` channels) through a 4 × 4 kernel with stride 2 and
//! padding 1; the convolution goes down, the transposed convolution goes up, and each is the
//! other's input gradient with the same weight tensor.
//!
//! - **Convolution**: the inputs of a group of images are unfolded (im2col) into one
//!   `[c_hi·16, images·h·w]` matrix and multiplied by the weight `[c_lo, c_hi·16]` as stored.
//!   Every unfolded row is a shifted copy of one of the four parity sub-images of an input
//!   plane ([`parity_planes`]), so it is built from contiguous copies.
//! - **Transposed convolution**: output pixel `(2p + r, 2q + t)` draws on two kernel taps per
//!   axis, chosen by the parities `r` and `t`. Each of the four output phases is one product of
//!   that phase's regrouped weight `[c_hi, 4·c_lo]` with the four shifted copies of the input
//!   it needs; no output is accumulated twice (no col2im).
//! - **Weight gradient** (the same for both layers): the sum over groups of the low-resolution
//!   side `[c_lo, images·h·w]` times the high-resolution side's unfolded matrix, transposed.
//!
//! Large layers of both kinds go through Winograd's F(2 × 2, 2 × 2) instead ([`winograd`]).
//!
//! Images are processed in groups of about [`TARGET_COLUMNS`] output pixels, so the unfolded
//! matrices stay in cache; groups run in parallel on rayon's pool when there are enough of them,
//! otherwise the products themselves are parallelised.

#![allow(unsafe_code)]

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

thread_local! {
    /// Each thread's scratch buffers, kept between calls: a search runs the same layers
    /// thousands of times, and fresh buffers would be zeroed every time.
    static SCRATCH: RefCell<[Vec<f32>; 3]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Runs `f` with this thread's three scratch buffers, `lengths` values long. Their contents
/// are left over from earlier calls: `f` must write every value it reads.
///
/// The buffers are taken out of the thread-local for the call, not borrowed: while `f`'s
/// product runs on the thread pool, this thread may pick up other rayon work, which can be
/// another kernel call wanting scratch. That call then finds empty buffers and grows its own.
fn with_scratch<R>(lengths: [usize; 3], f: impl FnOnce([&mut [f32]; 3]) -> R) -> R {
    let mut buffers = SCRATCH.with(|scratch| std::mem::take(&mut *scratch.borrow_mut()));
    for (buffer, &length) in buffers.iter_mut().zip(&lengths) {
        if buffer.len() < length {
            buffer.resize(length, 0.0);
        }
    }
    let [a, b, c] = &mut buffers;
    let result = f([
        &mut a[..lengths[0]],
        &mut b[..lengths[1]],
        &mut c[..lengths[2]],
    ]);
    SCRATCH.with(|scratch| *scratch.borrow_mut() = buffers);
    result
}

/// Output pixels per product: small enough that a group's unfolded input stays in the
/// caches (64 measured faster than 32, 128, 256, 512 and 1024 for the 64 × 64 DCGAN's search
/// at batch 64), so one image per group except for maps of fewer than 64 pixels.
const TARGET_COLUMNS: usize = 64;

/// Output pixels per product for the weight gradients, where they are the products' inner
/// dimension and every group adds to the same sum.
const GRADIENT_COLUMNS: usize = 512;

/// Shape of one stride-2 layer call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geom {
    /// Images in the batch.
    pub batch: usize,
    /// Channels on the high-resolution side.
    pub c_hi: usize,
    /// Channels on the low-resolution side.
    pub c_lo: usize,
    /// Height of the low-resolution side (the high-resolution side is twice it).
    pub h: usize,
    /// Width of the low-resolution side.
    pub w: usize,
}

impl Geom {
    fn lo_len(&self) -> usize {
        self.batch * self.c_lo * self.h * self.w
    }

    fn hi_len(&self) -> usize {
        self.batch * self.c_hi * 4 * self.h * self.w
    }

    fn weight_len(&self) -> usize {
        self.c_lo * self.c_hi * 16
    }

    /// Images per group of about `columns` output pixels, and the number of groups.
    fn groups_of(&self, columns: usize) -> (usize, usize) {
        let per = (columns / (self.h * self.w)).clamp(1, self.batch.max(1));
        (per, self.batch.div_ceil(per))
    }
}

/// A zeroed buffer of `len` values, zeroed by the thread pool: an output allocated with
/// `vec![0.0; len]` is zeroed by the calling thread alone, while the pool waits (5 % of a
/// batch-64 search's wall time, measured with `perf`).
fn zeros(len: usize) -> Vec<f32> {
    if len < SMALL {
        return vec![0.0; len];
    }
    let mut y = Vec::with_capacity(len);
    y.par_extend(rayon::iter::repeat_n(0.0f32, len));
    y
}

/// Below this many values an element-wise pass runs on the calling thread: handing it to the
/// pool costs more than it saves (SQUID's small maps, the generator's first layers).
const SMALL: usize = 1 << 15;

/// Runs `work(first_image, images, out)` for every group of images, where `out` is the group's
/// part of the output (`per_image` values an image). Groups run in parallel when there are at
/// least as many as threads; otherwise one after another, each product on all threads.
fn for_groups<F>(geo: Geom, out: &mut [f32], per_image: usize, work: F)
where
    F: Fn(usize, usize, &mut [f32], Parallelism) + Sync,
{
    for_groups_of(geo, TARGET_COLUMNS, out, per_image, work);
}

/// [`for_groups`] with groups of about `columns` low-resolution pixels.
fn for_groups_of<F>(geo: Geom, columns: usize, out: &mut [f32], per_image: usize, work: F)
where
    F: Fn(usize, usize, &mut [f32], Parallelism) + Sync,
{
    let (per, count) = geo.groups_of(columns);
    if per_image == 0 || count == 0 {
        return;
    }
    let chunk = per * per_image;
    if count >= rayon::current_num_threads() {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, part)| work(i * per, part.len() / per_image, part, Parallelism::None));
    } else {
        for (i, part) in out.chunks_mut(chunk).enumerate() {
            work(i * per, part.len() / per_image, part, Parallelism::Rayon(0));
        }
    }
}

/// How [`product`]'s right operand is stored, and so how it is handed to `gemm`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rhs {
    /// Row-major `[k × n]`; swapped (see [`product`]) when at most [`SWAP_MAX_COLUMNS`] wide.
    RowMajor,
    /// Row-major `[k × n]`, swapped at every width: the pixel-major unfolded input of
    /// [`weight_grad`], whose rows of kernel taps `gemm` should read in place.
    RowMajorSwapped,
    /// Stored transposed, `[n × k]`.
    Transposed,
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]`, all contiguous and row-major, `rhs` stored as
/// `layout` says; `accumulate` adds to `dst`.
#[allow(clippy::too_many_arguments)]
fn product(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    (m, k, n): (usize, usize, usize),
    layout: Rhs,
    accumulate: bool,
    parallelism: Parallelism,
) {
    assert!(
        dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n,
        "stride-2 convolution: matrix product operands too short"
    );
    // For a narrow `rhs`, `gemm` is asked for dstᵀ = rhsᵀ · lhsᵀ (the same values, strides
    // exchanged). `gemm` works in columns: its left operand is then `rhs` with unit row stride,
    // read in place where a row-major left operand is copied ("packed") first, and its
    // micro-kernel's 64 rows are filled by pixels instead of by output channels, which are as
    // few as 1 or 16 in the small networks. Alternating builds, medians of 5–6: izi +3 %, DCGAN
    // training +1.6 %, SQUID training +1 %. Not for wide `rhs`: swapped at every width, SQUID's
    // step (products of 1024 columns) took 13 % longer, presumably as the unpacked reads, 4 KiB
    // apart, collide in the caches.
    let swap = match layout {
        Rhs::RowMajor => n <= SWAP_MAX_COLUMNS,
        Rhs::RowMajorSwapped => true,
        Rhs::Transposed => false,
    };
    let (rhs_cs, rhs_rs) = if layout == Rhs::Transposed {
        (k, 1)
    } else {
        (1, n)
    };
    // (rows, columns, dst strides (column, row), left operand and its strides, right operand
    // and its strides) as `gemm` is asked.
    let (rows, cols, dst_strides, left, right) = if swap {
        (n, m, (n, 1), (rhs, (n, 1)), (lhs, (k, 1)))
    } else {
        (m, n, (1, n), (lhs, (1, k)), (rhs, (rhs_cs, rhs_rs)))
    };
    // SAFETY: the assertion above guarantees that every element the product reads
    // (lhs[i·k + l], rhs[l·n + j] or rhs[j·k + l]) or writes (dst[i·n + j]) for i < m, l < k,
    // j < n lies inside its slice, whichever way round `gemm` is asked; `dst` is borrowed
    // mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            k,
            dst.as_mut_ptr(),
            dst_strides.0 as isize,
            dst_strides.1 as isize,
            accumulate,
            left.0.as_ptr(),
            left.1.0 as isize,
            left.1.1 as isize,
            right.0.as_ptr(),
            right.1.0 as isize,
            right.1.1 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The widest right operand [`product`] hands to `gemm` transposed.
const SWAP_MAX_COLUMNS: usize = 128;

/// Weight gradient of either layer, `[c_lo, c_hi, 4, 4]`: the sum over images of
/// `lo [c_lo, h·w] · im2col(hi)ᵀ`, where `lo` `[B, c_lo, h, w]` and `hi` `[B, c_hi, 2h, 2w]`
/// are the convolution's output gradient and input, or the transposed convolution's input and
/// output gradient. The images are split into one fixed range per thread and the partial sums
/// added in order, so the result does not depend on scheduling.
pub(crate) fn weight_grad(lo: &[f32], hi: &[f32], geo: Geom) -> Vec<f32> {
    assert!(
        lo.len() == geo.lo_len() && hi.len() == geo.hi_len(),
        "stride-2 weight gradient: operand sizes do not match {geo:?}"
    );
    let pixels = geo.h * geo.w;
    let k = geo.c_hi * 16;
    let (per, count) = geo.groups_of(GRADIENT_COLUMNS);
    let parts = rayon::current_num_threads().clamp(1, count.max(1));
    let parallelism = if parts == 1 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut sum = vec![0.0f32; geo.weight_len()];
            for (n, group) in (part * count / parts..(part + 1) * count / parts).enumerate() {
                let first = group * per;
                let images = per.min(geo.batch - first);
                let columns = images * pixels;
                // One image's low-resolution side is already a [c_lo, pixels] matrix.
                let staged = if images == 1 { 0 } else { geo.c_lo * columns };
                let planes = geo.c_hi * 4 * columns;
                let pixel_major = k >= PIXEL_MAJOR_MIN_ROWS;
                let planes = if pixel_major { 0 } else { planes };
                with_scratch([k * columns, staged, planes], |[cols, staging, planes]| {
                    if pixel_major {
                        im2col_pixel_major(hi, geo, first, images, cols);
                    } else {
                        parity_planes(hi, geo, first, images, planes);
                        im2col(planes, geo, images, cols);
                    }
                    let lhs = if images == 1 {
                        &lo[first * geo.c_lo * pixels..][..columns * geo.c_lo]
                    } else {
                        gather_channels(lo, staging, geo.c_lo, first, images, pixels);
                        &*staging
                    };
                    // The pixel-major unfolding is `[columns × k]`, the other `[k × columns]`.
                    let layout = if pixel_major {
                        Rhs::RowMajorSwapped
                    } else {
                        Rhs::Transposed
                    };
                    let shape = (geo.c_lo, columns, k);
                    product(&mut sum, lhs, cols, shape, layout, n > 0, parallelism);
                });
            }
            sum
        })
        .collect();
    let mut partials = partials.into_iter();
    let mut total = partials
        .next()
        .unwrap_or_else(|| vec![0.0; geo.weight_len()]);
    for partial in partials {
        for (t, p) in total.iter_mut().zip(&partial) {
            *t += p;
        }
    }
    total
}

/// Rows (`c_hi · 16`) from which [`weight_grad`] unfolds its input pixel by pixel
/// ([`im2col_pixel_major`]) and has `gemm` read it in place ([`Rhs::RowMajorSwapped`]);
/// narrower ones take the channel-major [`im2col`].
const PIXEL_MAJOR_MIN_ROWS: usize = 64;

/// `cols[(image, oy, ox), (c, kh, kw)] = x[first + image, c, 2·oy + kh − 1, 2·ox + kw − 1]`,
/// zero in the padding: the unfolded input with one row of `c_hi · 16` taps per output pixel.
fn im2col_pixel_major(x: &[f32], geo: Geom, first: usize, images: usize, cols: &mut [f32]) {
    let (h, w) = (geo.h, geo.w);
    let (hi_h, hi_w) = (2 * h, 2 * w);
    let plane = hi_h * hi_w;
    let taps = geo.c_hi * 16;
    let source = &x[first * geo.c_hi * plane..][..images * geo.c_hi * plane];
    for (src, dst) in source
        .chunks(geo.c_hi * plane)
        .zip(cols.chunks_mut(h * w * taps))
    {
        for (pixel, row) in dst.chunks_mut(taps).enumerate() {
            let (oy, ox) = (pixel / w, pixel % w);
            for (c, window) in row.chunks_exact_mut(16).enumerate() {
                let src = &src[c * plane..][..plane];
                for (kh, out) in window.chunks_exact_mut(4).enumerate() {
                    let y = (2 * oy + kh).wrapping_sub(1);
                    if y >= hi_h {
                        out.fill(0.0);
                        continue;
                    }
                    let line = &src[y * hi_w..][..hi_w];
                    let x0 = 2 * ox;
                    if x0 >= 1 && x0 + 3 <= hi_w {
                        out.copy_from_slice(&line[x0 - 1..x0 + 3]);
                    } else {
                        for (kw, v) in out.iter_mut().enumerate() {
                            let xx = (x0 + kw).wrapping_sub(1);
                            *v = if xx < hi_w { line[xx] } else { 0.0 };
                        }
                    }
                }
            }
        }
    }
}

/// Copies images `first..first + images` of `src` (NCHW, `channels` channels) into `dst` as
/// `[channel][image][pixel]`: the inverse of [`scatter_channels`].
fn gather_channels(
    src: &[f32],
    dst: &mut [f32],
    channels: usize,
    first: usize,
    images: usize,
    pixels: usize,
) {
    let columns = images * pixels;
    for image in 0..images {
        for c in 0..channels {
            dst[c * columns + image * pixels..][..pixels]
                .copy_from_slice(&src[((first + image) * channels + c) * pixels..][..pixels]);
        }
    }
}

/// Copies `src` (`[channels, group columns]` as `[channel][image][pixel]`) into the NCHW output
/// of a group, `dst` = `[image][channel][pixel]`.
fn scatter_channels(src: &[f32], dst: &mut [f32], channels: usize, images: usize, pixels: usize) {
    let columns = images * pixels;
    for (image, out) in dst.chunks_mut(channels * pixels).enumerate() {
        for (c, plane) in out.chunks_mut(pixels).enumerate() {
            plane.copy_from_slice(&src[c * columns + image * pixels..][..pixels]);
        }
    }
}

/// Convolution, 4 × 4 kernel, stride 2, padding 1: `x` `[B, c_hi, 2h, 2w]`, `weight`
/// `[c_lo, c_hi, 4, 4]` → `[B, c_lo, h, w]`.
pub(crate) fn conv(x: &[f32], weight: &[f32], geo: Geom) -> Vec<f32> {
    assert!(
        x.len() == geo.hi_len() && weight.len() == geo.weight_len(),
        "stride-2 convolution: operand sizes do not match {geo:?}"
    );
    let pixels = geo.h * geo.w;
    let k = geo.c_hi * 16;
    let mut y = zeros(geo.lo_len());
    for_groups(geo, &mut y, geo.c_lo * pixels, |first, images, out, par| {
        let columns = images * pixels;
        // One image's product is already its NCHW output; a group's needs its channels
        // gathered.
        let staged = if images == 1 { 0 } else { geo.c_lo * columns };
        let parts = geo.c_hi * 4 * columns;
        with_scratch([k * columns, staged, parts], |[cols, dst, parts]| {
            parity_planes(x, geo, first, images, parts);
            im2col(parts, geo, images, cols);
            let shape = (geo.c_lo, k, columns);
            if images == 1 {
                product(out, weight, cols, shape, Rhs::RowMajor, false, par);
            } else {
                product(dst, weight, cols, shape, Rhs::RowMajor, false, par);
                scatter_channels(dst, out, geo.c_lo, images, pixels);
            }
        });
    });
    y
}

/// The four parity sub-images of each high-resolution plane of images `first..first + images`:
/// `parts[(image, c, py, px), (p, q)] = x[first + image, c, 2·p + py, 2·q + px]`.
fn parity_planes(x: &[f32], geo: Geom, first: usize, images: usize, parts: &mut [f32]) {
    let (h, w) = (geo.h, geo.w);
    let pixels = h * w;
    let plane = 4 * pixels;
    let source = &x[first * geo.c_hi * plane..][..images * geo.c_hi * plane];
    for (src, dst) in source.chunks(plane).zip(parts.chunks_mut(plane)) {
        for (row, src_row) in src.chunks(2 * w).enumerate() {
            let (p, py) = (row / 2, row % 2);
            let (even, odd) = dst[py * 2 * pixels..][..2 * pixels].split_at_mut(pixels);
            let even = &mut even[p * w..][..w];
            let odd = &mut odd[p * w..][..w];
            for ((pair, e), o) in src_row.chunks_exact(2).zip(even).zip(odd) {
                *e = pair[0];
                *o = pair[1];
            }
        }
    }
}

/// For kernel index `k` of a stride-2 convolution, the parity of the input row (column) it
/// reads and its offset in that parity's sub-image: output `o` reads input `2·o + k − 1`.
const PARITY_TAPS: [(usize, isize); 4] = [(1, -1), (0, 0), (1, 0), (0, 1)];

/// `cols[(c, kh, kw), (image, oy, ox)] = x[image, c, 2·oy + kh − 1, 2·ox + kw − 1]`, zero in
/// the padding, from the group's [`parity_planes`].
fn im2col(parts: &[f32], geo: Geom, images: usize, cols: &mut [f32]) {
    let (h, w) = (geo.h, geo.w);
    let pixels = h * w;
    for (row, dst) in cols.chunks_mut(images * pixels).enumerate() {
        let (c, kh, kw) = (row / 16, (row / 4) % 4, row % 4);
        let ((py, dy), (px, dx)) = (PARITY_TAPS[kh], PARITY_TAPS[kw]);
        for image in 0..images {
            let src = &parts[((image * geo.c_hi + c) * 4 + py * 2 + px) * pixels..][..pixels];
            shifted(src, (h, w), (dy, dx), &mut dst[image * pixels..][..pixels]);
        }
    }
}

/// `out[p, q] = src[p + dy, q + dx]` for an `h × w` plane and shifts in {−1, 0, 1}, zero
/// outside it: one flat copy shifted by `dy·w + dx`, then the rows outside the plane and the
/// column that wrapped around (for `dx ≠ 0`) set to zero.
fn shifted(src: &[f32], (h, w): (usize, usize), (dy, dx): (isize, isize), out: &mut [f32]) {
    let len = h * w;
    let first = usize::from(dy < 0) * w;
    let end = (h - usize::from(dy > 0)) * w;
    let shift = dy * w as isize + dx;
    // out[i] = src[i + shift] where both are inside the planes.
    let lo = first.max(usize::try_from(-shift).unwrap_or(0)).min(end);
    let hi = end
        .min(usize::try_from(len as isize - shift).unwrap_or(0))
        .max(lo);
    out[..lo].fill(0.0);
    out[hi..].fill(0.0);
    if hi > lo {
        let from = lo.wrapping_add_signed(shift);
        out[lo..hi].copy_from_slice(&src[from..from + (hi - lo)]);
    }
    let column = match dx {
        1 => Some(w - 1),
        -1 => Some(0),
        _ => None,
    };
    if let Some(column) = column {
        for row in out.chunks_mut(w) {
            row[column] = 0.0;
        }
    }
}

/// Runs `f` compiled for the widest vector unit the CPU has, chosen at run time: AVX-512 where
/// `avx512f` is present, AVX2 with FMA elsewhere, the baseline otherwise. For the element-wise
/// loops, which the compiler would otherwise vectorise for SSE2 only; `f` must be inlined
/// (`#[inline(always)]` on the closure) for the features to reach its body.
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F (checked just above).
            return unsafe { with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Runs `f(channel, plane index, output plane)` over the planes of an NCHW tensor of shape
/// `shape`, in parallel over blocks of whole planes.
fn for_planes<F>(shape: [usize; 4], f: F) -> Vec<f32>
where
    F: Fn(usize, usize, &mut [f32]) + Sync,
{
    let [batch, channels, h, w] = shape;
    let plane = h * w;
    let mut y = zeros(batch * channels * plane);
    if plane == 0 || channels == 0 {
        return y;
    }
    if y.len() < SMALL {
        for (p, out_plane) in y.chunks_mut(plane).enumerate() {
            f(p % channels, p, out_plane);
        }
        return y;
    }
    // Blocks of whole planes, about 16 k values each.
    let per_block = (16_384 / plane).max(1);
    y.par_chunks_mut(per_block * plane)
        .enumerate()
        .for_each(|(block, out)| {
            for (k, out_plane) in out.chunks_mut(plane).enumerate() {
                let p = block * per_block + k;
                f(p % channels, p, out_plane);
            }
        });
    y
}

/// `LeakyReLU(x · scale[c] + shift[c])` with negative slope `slope` over an NCHW tensor.
pub(crate) fn affine_leaky(
    x: &[f32],
    shape: [usize; 4],
    scale: &[f32],
    shift: &[f32],
    slope: f32,
) -> Vec<f32> {
    let [batch, channels, h, w] = shape;
    let plane = h * w;
    assert!(
        x.len() == batch * channels * plane && scale.len() == channels && shift.len() == channels,
        "affine activation: sizes do not match {shape:?}"
    );
    for_planes(shape, |c, p, out| {
        let (a, b) = (scale[c], shift[c]);
        let x = &x[p * plane..(p + 1) * plane];
        simd(
            #[inline(always)]
            move || {
                for (o, v) in out.iter_mut().zip(x) {
                    let t = v * a + b;
                    *o = t.max(0.0) + slope * t.min(0.0);
                }
            },
        )
    })
}

/// The input gradient of [`affine_leaky`] from its output `y`: `grad · scale[c]` where
/// `y > 0`, times `slope` elsewhere.
pub(crate) fn affine_leaky_backward(
    grad: &[f32],
    y: &[f32],
    shape: [usize; 4],
    scale: &[f32],
    slope: f32,
) -> Vec<f32> {
    let [batch, channels, h, w] = shape;
    let plane = h * w;
    assert!(
        grad.len() == batch * channels * plane && y.len() == grad.len() && scale.len() == channels,
        "affine activation gradient: sizes do not match {shape:?}"
    );
    for_planes(shape, |c, p, out| {
        let (a, negative) = (scale[c], scale[c] * slope);
        let range = p * plane..(p + 1) * plane;
        let (g, y) = (&grad[range.clone()], &y[range]);
        simd(
            #[inline(always)]
            move || {
                for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                    *o = g * if y > 0.0 { a } else { negative };
                }
            },
        )
    })
}

/// The sum of `f(v)` over `values`, in 16 independent lanes added at the end: the compiler
/// vectorises it (for the widest unit the CPU has, see [`simd`]), and the order of additions is
/// fixed, whatever the machine.
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    const LANES: usize = 16;
    simd(
        #[inline(always)]
        move || {
            let mut acc = [0.0f32; LANES];
            let chunks = values.chunks_exact(LANES);
            let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
            for vs in chunks {
                for (s, &v) in acc.iter_mut().zip(vs) {
                    *s += f(v);
                }
            }
            acc.iter().sum::<f32>() + tail
        },
    )
}

/// `(Σ t, Σ t·(x − m))` with `t = activation(g, y)` over one plane, in 16 lanes each (see
/// [`lane_sum`]).
#[inline(always)]
fn gradient_sums(
    g: &[f32],
    y: &[f32],
    x: &[f32],
    m: f32,
    activation: impl Fn(f32, f32) -> f32,
) -> (f32, f32) {
    const LANES: usize = 16;
    simd(
        #[inline(always)]
        move || {
            let (mut acc, mut acc_x) = ([0.0f32; LANES], [0.0f32; LANES]);
            let chunks = g
                .chunks_exact(LANES)
                .zip(y.chunks_exact(LANES))
                .zip(x.chunks_exact(LANES));
            for ((gs, ys), xs) in chunks {
                for i in 0..LANES {
                    let t = activation(gs[i], ys[i]);
                    acc[i] += t;
                    acc_x[i] += t * (xs[i] - m);
                }
            }
            let full = g.len() / LANES * LANES;
            let (mut tail, mut tail_x) = (0.0f32, 0.0f32);
            for ((&g, &y), &x) in g[full..].iter().zip(&y[full..]).zip(&x[full..]) {
                let t = activation(g, y);
                tail += t;
                tail_x += t * (x - m);
            }
            (
                acc.iter().sum::<f32>() + tail,
                acc_x.iter().sum::<f32>() + tail_x,
            )
        },
    )
}

/// Runs `per_channel(c, planes)` for every channel of an NCHW tensor `x` in parallel, where
/// `planes` yields the channel's `batch` planes in order; each channel is one task, so its
/// sums do not depend on the number of threads.
fn per_channel<T: Send>(
    shape: [usize; 4],
    per_channel: impl Fn(usize, &dyn Fn(usize) -> std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let [batch, channels, h, w] = shape;
    let plane = h * w;
    let one = |c: usize| {
        let range = |b: usize| (b * channels + c) * plane..(b * channels + c + 1) * plane;
        per_channel(c, &range)
    };
    if batch * channels * plane < SMALL {
        (0..channels).map(one).collect()
    } else {
        (0..channels).into_par_iter().map(one).collect()
    }
}

/// Each channel's mean and biased variance over its `B·H·W` values of an NCHW tensor:
/// `[mean_0, …, mean_{C−1}, var_0, …, var_{C−1}]`. Planes are summed in `f32` lanes, planes
/// added in `f64`; the variance is taken about the mean (two passes), as Burn's BatchNorm does.
pub(crate) fn channel_mean_var(x: &[f32], shape: [usize; 4]) -> Vec<f32> {
    let [batch, channels, h, w] = shape;
    assert!(
        x.len() == batch * channels * h * w,
        "channel statistics: sizes do not match {shape:?}"
    );
    let n = (batch * h * w).max(1) as f64;
    let stats = per_channel(shape, |_, range| {
        let sum: f64 = (0..batch)
            .map(|b| f64::from(lane_sum(&x[range(b)], |v| v)))
            .sum();
        let mean = (sum / n) as f32;
        let squares: f64 = (0..batch)
            .map(|b| f64::from(lane_sum(&x[range(b)], |v| (v - mean) * (v - mean))))
            .sum();
        (mean, (squares / n) as f32)
    });
    stats
        .iter()
        .map(|s| s.0)
        .chain(stats.iter().map(|s| s.1))
        .collect()
}

/// The gradients of `y = LeakyReLU(γ·(x − mean)·inv_std + β)` (BatchNorm in training mode, with
/// the batch's own statistics, and its activation of slope `slope`) from the output gradient
/// `grad`, the input `x` and the output `y`: `(dx, dγ, dβ)`. The statistics depend on `x`
/// too, which gives `dx = γ·inv_std·(g − mean(g) − x̂·mean(g·x̂))` with `g` the gradient
/// after the activation and `x̂` the normalised input.
pub(crate) fn batch_norm_leaky_backward(
    grad: &[f32],
    x: &[f32],
    y: &[f32],
    shape: [usize; 4],
    (mean, inv_std, gamma): (&[f32], &[f32], &[f32]),
    slope: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [batch, channels, h, w] = shape;
    let len = batch * channels * h * w;
    assert!(
        grad.len() == len
            && x.len() == len
            && y.len() == len
            && [mean.len(), inv_std.len(), gamma.len()] == [channels; 3],
        "batch norm gradient: sizes do not match {shape:?}"
    );
    let plane = h * w;
    let activation = |g: f32, y: f32| if y > 0.0 { g } else { g * slope };
    // Per channel: Σ g and Σ g·(x − mean), g the gradient after the activation.
    let sums = per_channel(shape, |c, range| {
        let m = mean[c];
        let (mut sum_g, mut sum_gx) = (0.0f64, 0.0f64);
        for b in 0..batch {
            let (g, y, x) = (&grad[range(b)], &y[range(b)], &x[range(b)]);
            let (s, sx) = gradient_sums(g, y, x, m, activation);
            sum_g += f64::from(s);
            sum_gx += f64::from(sx);
        }
        (sum_g, sum_gx)
    });
    let n = (batch * plane).max(1) as f64;
    // dx = a·g + k·x + k0 per channel.
    let coefficients: Vec<(f32, f32, f32)> = sums
        .iter()
        .enumerate()
        .map(|(c, &(sum_g, sum_gx))| {
            let (s, a) = (
                f64::from(inv_std[c]),
                f64::from(gamma[c]) * f64::from(inv_std[c]),
            );
            let k = -a * s * s * sum_gx / n;
            let k0 = -a * sum_g / n - k * f64::from(mean[c]);
            (a as f32, k as f32, k0 as f32)
        })
        .collect();
    let dx = for_planes(shape, |c, p, out| {
        let (a, k, k0) = coefficients[c];
        let range = p * plane..(p + 1) * plane;
        let n = out.len();
        let (g, y, x) = (
            &grad[range.clone()][..n],
            &y[range.clone()][..n],
            &x[range][..n],
        );
        simd(
            #[inline(always)]
            move || {
                for i in 0..n {
                    out[i] = a * activation(g[i], y[i]) + k * x[i] + k0;
                }
            },
        )
    });
    let d_gamma = sums
        .iter()
        .zip(inv_std)
        .map(|(&(_, sum_gx), &s)| (sum_gx * f64::from(s)) as f32)
        .collect();
    let d_beta = sums.iter().map(|&(sum_g, _)| sum_g as f32).collect();
    (dx, d_gamma, d_beta)
}

/// For an output coordinate of parity `r`, its two taps: (kernel index, input offset), i.e.
/// output `2p + r` takes kernel row `k` at input row `p + d`.
const TAPS: [[(usize, isize); 2]; 2] = [[(1, 0), (3, -1)], [(0, 1), (2, 0)]];

/// Transposed convolution, 4 × 4 kernel, stride 2, padding 1: `x` `[B, c_lo, h, w]`, the
/// weight `[c_lo, c_hi, 4, 4]` as regrouped by [`phase_weights`] → `[B, c_hi, 2h, 2w]`.
pub(crate) fn conv_transpose(x: &[f32], phases: &[f32], geo: Geom) -> Vec<f32> {
    assert!(
        x.len() == geo.lo_len() && phases.len() == geo.weight_len(),
        "stride-2 transposed convolution: operand sizes do not match {geo:?}"
    );
    if geo.c_hi < DIRECT_MAX_CHANNELS {
        return conv_transpose_direct(x, phases, geo);
    }
    let (h, w) = (geo.h, geo.w);
    let pixels = h * w;
    let (hi_w, plane) = (2 * w, 4 * pixels);
    let k = 4 * geo.c_lo;
    let mut y = zeros(geo.hi_len());
    for_groups(geo, &mut y, geo.c_hi * plane, |first, images, out, par| {
        let columns = images * pixels;
        let phase_len = geo.c_hi * columns;
        with_scratch([k * columns, 4 * phase_len, 0], |[cols, dst, _]| {
            // The four phases' products side by side, then each output row 2p + r woven from
            // row p of phases (r, 0) and (r, 1): columns 2q and 2q + 1.
            for (phase, part) in dst.chunks_mut(phase_len).enumerate() {
                phase_cols(x, geo, first, images, (phase / 2, phase % 2), cols);
                let lhs = &phases[phase * geo.c_hi * k..][..geo.c_hi * k];
                let shape = (geo.c_hi, k, columns);
                product(part, lhs, cols, shape, Rhs::RowMajor, false, par);
            }
            let dst = &*dst;
            for (image, out_image) in out.chunks_mut(geo.c_hi * plane).enumerate() {
                for (c, out_plane) in out_image.chunks_mut(plane).enumerate() {
                    let at = c * columns + image * pixels;
                    for (row_index, row) in out_plane.chunks_mut(hi_w).enumerate() {
                        let (p, r) = (row_index / 2, row_index % 2);
                        let even = &dst[(2 * r) * phase_len + at + p * w..][..w];
                        let odd = &dst[(2 * r + 1) * phase_len + at + p * w..][..w];
                        for ((pair, &a), &b) in row.chunks_exact_mut(2).zip(even).zip(odd) {
                            pair[0] = a;
                            pair[1] = b;
                        }
                    }
                }
            }
        });
    });
    y
}

/// Output channels below which [`conv_transpose`] adds shifted input planes directly instead
/// of multiplying unfolded ones: a product with one or two rows (the last layer of a decoder
/// that draws a grey image) spends its time copying the four phases' unfolded inputs.
const DIRECT_MAX_CHANNELS: usize = 4;

/// [`conv_transpose`] for few output channels. Each of the `16 · c_hi` (phase, output
/// channel, tap) rows of the regrouped weight first mixes the input channels into one plane
/// (whole planes at a time, no shifts); each output row is then the sum of its phase's four
/// tap planes, shifted by the tap, woven into place. One image per task.
fn conv_transpose_direct(x: &[f32], phases: &[f32], geo: Geom) -> Vec<f32> {
    let (h, w) = (geo.h, geo.w);
    let pixels = h * w;
    let (hi_w, plane) = (2 * w, 4 * pixels);
    let mixes = 16 * geo.c_hi;
    let mut y = zeros(geo.hi_len());
    let per_image = geo.c_hi * plane;
    if per_image == 0 {
        return y;
    }
    let image = |(i, out): (usize, &mut [f32])| {
        let src = &x[i * geo.c_lo * pixels..][..geo.c_lo * pixels];
        with_scratch([mixes * pixels, w, 0], |[mixed, acc, _]| {
            simd(|| {
                for (plane_out, weights) in mixed
                    .chunks_exact_mut(pixels)
                    .zip(phases.chunks_exact(geo.c_lo))
                {
                    plane_out.fill(0.0);
                    for (&weight, plane_in) in weights.iter().zip(src.chunks_exact(pixels)) {
                        for (o, &v) in plane_out.iter_mut().zip(plane_in) {
                            *o += weight * v;
                        }
                    }
                }
            });
            for phase in 0..4 {
                let (r, t) = (phase / 2, phase % 2);
                for co in 0..geo.c_hi {
                    let out_plane = &mut out[co * plane..][..plane];
                    let taps = &mixed[(phase * geo.c_hi + co) * 4 * pixels..][..4 * pixels];
                    for p in 0..h {
                        acc.fill(0.0);
                        for (tap, tap_plane) in taps.chunks_exact(pixels).enumerate() {
                            let (dy, dx) = (TAPS[r][tap / 2].1, TAPS[t][tap % 2].1);
                            // Output (p, q) reads (p + dy, q + dx) where that is inside.
                            let Some(row) = p.checked_add_signed(dy).filter(|&row| row < h) else {
                                continue;
                            };
                            let (q0, len) = (usize::from(dx < 0), w - usize::from(dx != 0));
                            let from = row * w + (q0 as isize + dx) as usize;
                            for (a, &v) in acc[q0..][..len].iter_mut().zip(&tap_plane[from..]) {
                                *a += v;
                            }
                        }
                        let out_row = &mut out_plane[(2 * p + r) * hi_w..][..hi_w];
                        for (pair, &v) in out_row.chunks_exact_mut(2).zip(acc.iter()) {
                            pair[t] = v;
                        }
                    }
                }
            }
        });
    };
    if geo.batch * per_image < SMALL {
        y.chunks_mut(per_image).enumerate().for_each(image);
    } else {
        y.par_chunks_mut(per_image).enumerate().for_each(image);
    }
    y
}

/// The weight `[c_lo, c_hi, 4, 4]` regrouped by output phase: `[(r, t)][c_hi][(a, b), c_lo]`,
/// tap `a` of `TAPS[r]` down, `b` of `TAPS[t]` across. A transpose of the weight seen as a
/// `[c_lo, c_hi·16]` matrix with its rows permuted, done in blocks of input channels so that
/// both sides are read and written a cache line at a time.
pub(crate) fn phase_weights(weight: &[f32], geo: Geom) -> Vec<f32> {
    assert_eq!(
        weight.len(),
        geo.weight_len(),
        "stride-2 transposed convolution: weight size does not match {geo:?}"
    );
    const BLOCK: usize = 16;
    let (c_lo, c_hi) = (geo.c_lo, geo.c_hi);
    let columns = c_hi * 16;
    // Kernel index k sits in the phase of parity 1 − k % 2, as tap k / 2 (see `TAPS`).
    let row_of = |j: usize| {
        let (co, kh, kw) = (j / 16, (j / 4) % 4, j % 4);
        let (r, a, t, b) = (1 - kh % 2, kh / 2, 1 - kw % 2, kw / 2);
        (((r * 2 + t) * c_hi + co) * 4 + a * 2 + b) * c_lo
    };
    let mut out = vec![0.0f32; 16 * c_lo * c_hi];
    for first in (0..c_lo).step_by(BLOCK) {
        let last = (first + BLOCK).min(c_lo);
        for j in 0..columns {
            let row = row_of(j);
            for (ci, v) in out[row + first..row + last].iter_mut().enumerate() {
                *v = weight[(first + ci) * columns + j];
            }
        }
    }
    out
}

/// `cols[(a, b), c, (image, p, q)] = x[first + image, c, p + dy_a, q + dx_b]` for output phase
/// `(r, t)`, zero outside the input.
fn phase_cols(
    x: &[f32],
    geo: Geom,
    first: usize,
    images: usize,
    (r, t): (usize, usize),
    cols: &mut [f32],
) {
    let (h, w) = (geo.h, geo.w);
    let pixels = h * w;
    for (row, dst) in cols.chunks_mut(images * pixels).enumerate() {
        let (tap, c) = (row / geo.c_lo, row % geo.c_lo);
        let dy = TAPS[r][tap / 2].1;
        let dx = TAPS[t][tap % 2].1;
        for image in 0..images {
            let src = &x[((first + image) * geo.c_lo + c) * pixels..][..pixels];
            shifted(src, (h, w), (dy, dx), &mut dst[image * pixels..][..pixels]);
        }
    }
}

pub(crate) mod winograd;

#[cfg(test)]
mod tests;
