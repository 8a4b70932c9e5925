use super::*;

#[test]
fn scratch_can_be_asked_for_again_while_in_use() {
    // What happens when a thread waiting for a product's rayon tasks picks up another
    // kernel call: a second request for scratch on the same thread, inside the first.
    let outer = with_scratch([8, 0, 0], |[a, _, _]| {
        a.fill(1.0);
        let inner = with_scratch([16, 4, 0], |[b, c, _]| {
            b.fill(2.0);
            c.fill(3.0);
            b.iter().sum::<f32>() + c.iter().sum::<f32>()
        });
        // The inner call had buffers of its own: the outer ones are intact.
        inner + a.iter().sum::<f32>()
    });
    assert_eq!(outer, 32.0 + 12.0 + 8.0);
    // And scratch is still there afterwards, at least as large as asked.
    with_scratch([8, 0, 0], |[a, _, _]| assert_eq!(a.len(), 8));
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Calls `f(lo, hi, weight)` with the flat indices of every connection of a stride-2
/// layer: low-resolution value `[b, co, oy, ox]`, high-resolution value
/// `[b, c, 2·oy + kh − 1, 2·ox + kw − 1]` (inside the map) and weight `[co, c, kh, kw]` —
/// the definition all three references sum over.
fn connections(geo: Geom, mut f: impl FnMut(usize, usize, usize)) {
    let (h, w) = (geo.h, geo.w);
    for b in 0..geo.batch {
        for co in 0..geo.c_lo {
            for oy in 0..h {
                for ox in 0..w {
                    let lo = ((b * geo.c_lo + co) * h + oy) * w + ox;
                    for c in 0..geo.c_hi {
                        for kh in 0..4 {
                            for kw in 0..4 {
                                let (iy, ix) = (2 * oy + kh, 2 * ox + kw);
                                if iy == 0 || ix == 0 || iy > 2 * h || ix > 2 * w {
                                    continue;
                                }
                                let hi = ((b * geo.c_hi + c) * 2 * h + iy - 1) * 2 * w + ix - 1;
                                f(lo, hi, ((co * geo.c_hi + c) * 4 + kh) * 4 + kw);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn to_f32(v: Vec<f64>) -> Vec<f32> {
    v.into_iter().map(|v| v as f32).collect()
}

/// The convolution straight from the definition, in f64.
fn conv_reference(x: &[f32], weight: &[f32], geo: Geom) -> Vec<f32> {
    let mut y = vec![0.0f64; geo.lo_len()];
    connections(geo, |lo, hi, k| {
        y[lo] += f64::from(x[hi]) * f64::from(weight[k])
    });
    to_f32(y)
}

/// The transposed convolution in scatter form, in f64 (weight `[c_lo, c_hi, 4, 4]`, the
/// same flat index as the convolution's `[c_lo, c_hi, 4, 4]`).
fn conv_transpose_reference(x: &[f32], weight: &[f32], geo: Geom) -> Vec<f32> {
    let mut y = vec![0.0f64; geo.hi_len()];
    connections(geo, |lo, hi, k| {
        y[hi] += f64::from(x[lo]) * f64::from(weight[k])
    });
    to_f32(y)
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Shapes with one and many groups, non-square maps, 1 × 1 low-resolution maps; both of the
/// weight gradient's layouts (fewer and at least `PIXEL_MAJOR_MIN_ROWS` kernel taps).
const SHAPES: [Geom; 8] = [
    Geom {
        batch: 3,
        c_hi: 5,
        c_lo: 7,
        h: 3,
        w: 4,
    },
    Geom {
        batch: 40,
        c_hi: 4,
        c_lo: 6,
        h: 4,
        w: 4,
    },
    Geom {
        batch: 1,
        c_hi: 3,
        c_lo: 2,
        h: 1,
        w: 1,
    },
    Geom {
        batch: 2,
        c_hi: 8,
        c_lo: 16,
        h: 16,
        w: 16,
    },
    Geom {
        batch: 5,
        c_hi: 2,
        c_lo: 3,
        h: 2,
        w: 1,
    },
    Geom {
        batch: 4,
        c_hi: 6,
        c_lo: 5,
        h: 2,
        w: 1,
    },
    Geom {
        batch: 3,
        c_hi: 4,
        c_lo: 9,
        h: 1,
        w: 1,
    },
    Geom {
        batch: 2,
        c_hi: 1,
        c_lo: 4,
        h: 5,
        w: 6,
    },
];

#[test]
fn convolution_matches_the_definition() {
    for geo in SHAPES {
        let x = values(geo.hi_len(), 1);
        let weight = values(geo.weight_len(), 2);
        let got = conv(&x, &weight, geo);
        let diff = max_difference(&got, &conv_reference(&x, &weight, geo));
        assert!(diff < 1e-4, "{geo:?}: {diff}");
    }
}

#[test]
fn transposed_convolution_matches_the_definition() {
    for geo in SHAPES {
        let x = values(geo.lo_len(), 3);
        let weight = values(geo.weight_len(), 4);
        let got = conv_transpose(&x, &phase_weights(&weight, geo), geo);
        let diff = max_difference(&got, &conv_transpose_reference(&x, &weight, geo));
        assert!(diff < 1e-4, "{geo:?}: {diff}");
    }
}

#[test]
fn the_two_layers_are_adjoint() {
    // <conv(x), y> = <x, conv_transpose(y)> for the same weight: each is the other's
    // input gradient.
    let geo = Geom {
        batch: 4,
        c_hi: 6,
        c_lo: 5,
        h: 4,
        w: 3,
    };
    let x = values(geo.hi_len(), 5);
    let y = values(geo.lo_len(), 6);
    let weight = values(geo.weight_len(), 7);
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| f64::from(p * q)).sum::<f64>();
    let lhs = dot(&conv(&x, &weight, geo), &y);
    let rhs = dot(&x, &conv_transpose(&y, &phase_weights(&weight, geo), geo));
    assert!(
        (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );
}

/// The weight gradient from its definition, in f64: for the convolution,
/// `dW[co, c, kh, kw] = Σ dy[b, co, oy, ox] · x[b, c, 2·oy + kh − 1, 2·ox + kw − 1]`.
fn weight_grad_reference(lo: &[f32], hi: &[f32], geo: Geom) -> Vec<f32> {
    let mut dw = vec![0.0f64; geo.weight_len()];
    connections(geo, |l, h, k| dw[k] += f64::from(lo[l]) * f64::from(hi[h]));
    to_f32(dw)
}

#[test]
fn weight_gradient_matches_the_definition() {
    for geo in SHAPES {
        let lo = values(geo.lo_len(), 8);
        let hi = values(geo.hi_len(), 9);
        let got = weight_grad(&lo, &hi, geo);
        let diff = max_difference(&got, &weight_grad_reference(&lo, &hi, geo));
        assert!(diff < 1e-3, "{geo:?}: {diff}");
    }
}

#[test]
fn shifted_copies_match_the_definition() {
    for (h, w) in [(3, 4), (1, 1), (2, 1), (1, 3)] {
        let src = values(h * w, 10);
        for dy in -1..=1isize {
            for dx in -1..=1isize {
                let mut out = vec![f32::NAN; h * w];
                shifted(&src, (h, w), (dy, dx), &mut out);
                for p in 0..h {
                    for q in 0..w {
                        let (y, x) = (p as isize + dy, q as isize + dx);
                        let inside = (0..h as isize).contains(&y) && (0..w as isize).contains(&x);
                        let want = if inside {
                            src[y as usize * w + x as usize]
                        } else {
                            0.0
                        };
                        assert_eq!(
                            out[p * w + q],
                            want,
                            "{h}×{w} shifted by ({dy}, {dx}) at ({p}, {q})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "operand sizes do not match")]
fn mismatched_operands_are_refused() {
    let geo = Geom {
        batch: 1,
        c_hi: 2,
        c_lo: 2,
        h: 2,
        w: 2,
    };
    let _ = conv(&[0.0; 3], &values(geo.weight_len(), 1), geo);
}

/// Shapes the Winograd kernels fit (whether or not the layers would take them): one and many
/// groups (of one image and of several, the last one short), non-square maps, the smallest map
/// (one 2 × 2 block), unequal channel counts either way.
const WINOGRAD_SHAPES: [Geom; 5] = [
    Geom {
        batch: 22,
        c_hi: 8,
        c_lo: 16,
        h: 4,
        w: 6,
    },
    Geom {
        batch: 130,
        c_hi: 9,
        c_lo: 8,
        h: 2,
        w: 2,
    },
    Geom {
        batch: 8,
        c_hi: 16,
        c_lo: 12,
        h: 8,
        w: 8,
    },
    Geom {
        batch: 2,
        c_hi: 8,
        c_lo: 16,
        h: 16,
        w: 16,
    },
    Geom {
        batch: 43,
        c_hi: 24,
        c_lo: 8,
        h: 6,
        w: 2,
    },
];

#[test]
fn winograd_convolution_matches_the_definition() {
    for geo in WINOGRAD_SHAPES {
        assert!(winograd::fits(geo), "{geo:?}");
        let x = values(geo.hi_len(), 11);
        let weight = values(geo.weight_len(), 12);
        let got = winograd::conv(&x, &winograd::conv_weights(&weight, geo), geo);
        let diff = max_difference(&got, &conv_reference(&x, &weight, geo));
        assert!(diff < 1e-4, "{geo:?}: {diff}");
    }
}

#[test]
fn winograd_transposed_convolution_matches_the_definition() {
    for geo in WINOGRAD_SHAPES {
        let x = values(geo.lo_len(), 13);
        let weight = values(geo.weight_len(), 14);
        let got = winograd::conv_transpose(&x, &winograd::transpose_weights(&weight, geo), geo);
        let diff = max_difference(&got, &conv_transpose_reference(&x, &weight, geo));
        assert!(diff < 1e-4, "{geo:?}: {diff}");
    }
}

#[test]
fn winograd_is_taken_for_large_layers_only() {
    let dcgan = |batch, c_hi, c_lo, side| Geom {
        batch,
        c_hi,
        c_lo,
        h: side,
        w: side,
    };
    // The 64 × 64 DCGAN of width 64 at batch 64: every layer between 64 and 512 channels.
    for geo in [
        dcgan(64, 64, 128, 16),
        dcgan(64, 128, 256, 8),
        dcgan(64, 256, 512, 4),
    ] {
        assert!(winograd::applies(geo), "{geo:?}");
    }
    // Too few channels (the width-16 presets), too few blocks (batch 32 or 1 at 4 × 4), maps
    // that 2 × 2 blocks do not tile.
    for geo in [
        dcgan(32, 32, 64, 4),
        dcgan(32, 16, 32, 8),
        dcgan(32, 64, 128, 4),
        dcgan(1, 256, 512, 4),
        dcgan(64, 256, 512, 3),
        dcgan(64, 256, 512, 0),
        Geom {
            w: 5,
            ..dcgan(64, 64, 128, 16)
        },
    ] {
        assert!(!winograd::applies(geo), "{geo:?}");
    }
    assert!(!winograd::fits(dcgan(8, 8, 8, 1)));
}
