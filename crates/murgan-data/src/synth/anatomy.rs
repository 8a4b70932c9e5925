//! Per-category anatomy: bones (shafts with a cortical shell, flared ends), carpal blobs and
//! the soft-tissue envelope, laid out in a unit square (x right, y down) before posing.

use rand::Rng;

use crate::Category;

/// A 2-D point or vector.
pub type P2 = (f32, f32);

/// One part of a bone: a capsule (shaft) or an ellipse (epiphysis, carpal bone, humeral head).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Part {
    /// A capsule from `a` to `b` of outer radius `r`.
    Shaft {
        /// One end.
        a: P2,
        /// The other end.
        b: P2,
        /// Outer radius.
        r: f32,
    },
    /// An ellipse centred at `c` with half-axes `rx`, `ry`, turned by `angle` radians.
    Blob {
        /// Centre.
        c: P2,
        /// Half-axis along the turned x direction.
        rx: f32,
        /// Half-axis along the turned y direction.
        ry: f32,
        /// Turn in radians.
        angle: f32,
    },
}

/// A bone: parts whose projected densities combine by maximum (no seam where they meet),
/// with a cortical shell of relative thickness `cortex`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bone {
    /// The bone's parts; the first is its main shaft when it has one.
    pub parts: Vec<Part>,
    /// Cortical thickness as a fraction of the radius (0.2–0.45).
    pub cortex: f32,
    /// Density multiplier (flat bones such as the scapula are less dense).
    pub density: f32,
}

/// Everything drawn in one radiograph before anomalies: bones and soft tissue.
#[derive(Debug, Clone, PartialEq)]
pub struct Anatomy {
    /// The bones.
    pub bones: Vec<Bone>,
    /// Soft-tissue envelope as capsules and ellipses (solid, low density).
    pub tissue: Vec<Part>,
}

impl Anatomy {
    /// Indices of bones that have a shaft long enough to carry a fracture, plate or lesion.
    pub fn long_bones(&self) -> Vec<usize> {
        self.bones
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                matches!(b.parts.first(), Some(Part::Shaft { a, b: e, r }) if dist(*a, *e) > 4.0 * r)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

impl Anatomy {
    /// Outer radius of a bone's main shaft (0 when it has none).
    pub fn shaft_radius(&self, bone: usize) -> f32 {
        match self.bones.get(bone).and_then(|b| b.parts.first()) {
            Some(Part::Shaft { r, .. }) => *r,
            _ => 0.0,
        }
    }
}

/// Euclidean distance.
pub fn dist(a: P2, b: P2) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

fn shaft(a: P2, b: P2, r: f32) -> Part {
    Part::Shaft { a, b, r }
}

fn circle(c: P2, r: f32) -> Part {
    Part::Blob {
        c,
        rx: r,
        ry: r,
        angle: 0.0,
    }
}

fn ellipse(c: P2, rx: f32, ry: f32, angle: f32) -> Part {
    Part::Blob { c, rx, ry, angle }
}

/// A long bone from `a` to `b`: shaft plus flared ends (epiphyses).
fn long_bone(a: P2, b: P2, r: f32, flare: f32, cortex: f32) -> Bone {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt().max(1e-6);
    let ang = dy.atan2(dx);
    let inset = (r * flare * 0.6).min(len * 0.25);
    let ea = (a.0 + dx / len * inset, a.1 + dy / len * inset);
    let eb = (b.0 - dx / len * inset, b.1 - dy / len * inset);
    Bone {
        parts: vec![
            shaft(a, b, r),
            ellipse(ea, r * flare * 0.75, r * flare, ang),
            ellipse(eb, r * flare * 0.75, r * flare, ang),
        ],
        cortex,
        density: 1.0,
    }
}

fn blob_bone(part: Part, cortex: f32) -> Bone {
    Bone {
        parts: vec![part],
        cortex,
        density: 0.9,
    }
}

/// HAND's film is collimated to the hand, as a PA hand radiograph is: the hand is drawn this
/// many times larger about this point than the layout above, so it fills the film from the
/// carpals to the fingertips (without it the hand filled a third of the film's width).
const HAND_FRAME: (f32, P2) = (1.5, (0.5, 0.7));

/// Calibre of the hand's bones and soft tissue against the layout's: stockier than an adult
/// hand, so that at a 32×32 network input a phalanx is about two pixels wide and a fracture
/// (drawn 3×) changes about as many of those pixels by more than 0.05 as one in the wrist or
/// the elbow: 23 on average over 62 fractures, against 25 and 26 (at calibre 1 without
/// [`HAND_FRAME`], 5).
const HAND_CALIBRE: f32 = 1.4;

/// `part` magnified `zoom` times about `centre`: positions and sizes.
fn magnified(part: Part, zoom: f32, centre: P2) -> Part {
    let m = |q: P2| {
        (
            centre.0 + (q.0 - centre.0) * zoom,
            centre.1 + (q.1 - centre.1) * zoom,
        )
    };
    match part {
        Part::Shaft { a, b, r } => Part::Shaft {
            a: m(a),
            b: m(b),
            r: r * zoom,
        },
        Part::Blob { c, rx, ry, angle } => Part::Blob {
            c: m(c),
            rx: rx * zoom,
            ry: ry * zoom,
            angle,
        },
    }
}

/// A point at distance `len` from `p` in direction `angle` (radians, 0 = right, π/2 = down).
fn step(p: P2, angle: f32, len: f32) -> P2 {
    (p.0 + angle.cos() * len, p.1 + angle.sin() * len)
}

/// A chain of long bones (a finger): starts at `p`, heads along `angle`, bending by a small
/// random flexion at each joint; returns the bones and the tip.
fn chain<R: Rng>(
    rng: &mut R,
    mut p: P2,
    mut angle: f32,
    lengths: &[f32],
    radii: &[f32],
    out: &mut Vec<Bone>,
) -> P2 {
    for (&len, &r) in lengths.iter().zip(radii) {
        let end = step(p, angle, len);
        out.push(long_bone(p, end, r, 1.3, 0.3));
        p = step(end, angle, r * 0.9); // joint space
        angle += rng.random_range(-0.12..0.12);
    }
    p
}

/// Builds the anatomy of `category` with patient-level variation drawn from `rng`
/// (bone size and length) and view-level variation (flexion, spread).
pub fn build<R: Rng>(category: Category, rng: &mut R) -> Anatomy {
    let s = rng.random_range(0.9..1.1f32); // bone calibre
    let mut bones = Vec::new();
    let mut tissue = Vec::new();
    match category {
        Category::Humerus => {
            let x = 0.5 + rng.random_range(-0.03..0.03);
            bones.push(long_bone((x, 0.2), (x + 0.02, 0.82), 0.05 * s, 1.9, 0.35));
            bones.push(blob_bone(circle((x - 0.01, 0.13), 0.1 * s), 0.15));
            bones.push(blob_bone(
                ellipse((x + 0.02, 0.88), 0.12 * s, 0.05 * s, 0.0),
                0.2,
            ));
            bones.push(long_bone(
                (x - 0.02, 0.95),
                (x - 0.05, 1.15),
                0.03 * s,
                1.4,
                0.3,
            ));
            bones.push(long_bone(
                (x + 0.06, 0.95),
                (x + 0.09, 1.15),
                0.028 * s,
                1.4,
                0.3,
            ));
            tissue.push(shaft((x, -0.1), (x + 0.02, 1.1), 0.2 * s));
        }
        Category::Forearm => {
            let sep = 0.11 * s;
            let (xr, xu) = (0.5 - sep / 2.0, 0.5 + sep / 2.0);
            bones.push(long_bone(
                (xr, 0.1),
                (xr - 0.02, 0.88),
                0.032 * s,
                1.8,
                0.33,
            ));
            bones.push(long_bone(
                (xu, 0.06),
                (xu + 0.01, 0.87),
                0.027 * s,
                1.5,
                0.33,
            ));
            bones.push(blob_bone(ellipse((0.5, 0.02), 0.11 * s, 0.05, 0.0), 0.2));
            for i in 0..4 {
                let cx = 0.4 + 0.065 * i as f32 + rng.random_range(-0.01..0.01);
                bones.push(blob_bone(circle((cx, 0.97), 0.03 * s), 0.25));
            }
            tissue.push(shaft((0.5, -0.1), (0.49, 1.1), 0.16 * s));
        }
        Category::Elbow => {
            let flex: f32 = rng.random_range(0.0..0.45);
            bones.push(long_bone((0.5, -0.1), (0.5, 0.42), 0.045 * s, 2.0, 0.35));
            bones.push(blob_bone(
                ellipse((0.5, 0.47), 0.11 * s, 0.055 * s, 0.0),
                0.2,
            ));
            let dir = std::f32::consts::FRAC_PI_2 - flex;
            let r0 = (0.45, 0.56);
            bones.push(long_bone(r0, step(r0, dir, 0.55), 0.03 * s, 1.7, 0.33));
            let u0 = (0.57, 0.53);
            bones.push(long_bone(
                u0,
                step(u0, dir + 0.05, 0.55),
                0.028 * s,
                1.4,
                0.33,
            ));
            bones.push(blob_bone(
                ellipse((0.6, 0.5), 0.045 * s, 0.06 * s, 0.3),
                0.25,
            ));
            tissue.push(shaft((0.5, -0.1), (0.5, 0.5), 0.17 * s));
            tissue.push(shaft((0.5, 0.5), step((0.5, 0.5), dir, 0.7), 0.15 * s));
        }
        Category::Shoulder => {
            let abd: f32 = rng.random_range(-0.15..0.25);
            let head = (0.55, 0.38);
            let dir = std::f32::consts::FRAC_PI_2 - abd;
            bones.push(long_bone(
                step(head, dir, 0.06),
                step(head, dir, 0.75),
                0.05 * s,
                1.6,
                0.35,
            ));
            bones.push(blob_bone(circle(head, 0.1 * s), 0.15));
            // Scapula: glenoid rim and a flat, less dense body.
            bones.push(blob_bone(
                ellipse((0.4, 0.4), 0.04 * s, 0.11 * s, 0.1),
                0.35,
            ));
            bones.push(Bone {
                parts: vec![shaft((0.36, 0.42), (0.18, 0.85), 0.1 * s)],
                cortex: 0.2,
                density: 0.35,
            });
            // Clavicle and acromion.
            bones.push(long_bone((0.05, 0.16), (0.6, 0.22), 0.03 * s, 1.3, 0.35));
            bones.push(blob_bone(
                ellipse((0.6, 0.25), 0.08 * s, 0.035 * s, 0.2),
                0.3,
            ));
            // Ribs: faint arcs of short shafts.
            for k in 0..4 {
                let y = 0.45 + 0.13 * k as f32;
                bones.push(Bone {
                    parts: vec![shaft((-0.05, y), (0.25, y + 0.06), 0.015)],
                    cortex: 0.45,
                    density: 0.5,
                });
            }
            tissue.push(ellipse((0.5, 0.55), 0.55, 0.6, 0.0));
        }
        Category::Wrist => {
            bones.push(long_bone((0.41, -0.1), (0.41, 0.38), 0.05 * s, 1.6, 0.33));
            bones.push(long_bone((0.6, -0.1), (0.6, 0.37), 0.03 * s, 1.4, 0.33));
            // Carpal bones in two rows.
            for (row, y) in [(0, 0.5f32), (1, 0.61)] {
                for k in 0..4 {
                    let x = 0.38 + 0.08 * k as f32 + 0.02 * row as f32;
                    let r = rng.random_range(0.03..0.04) * s;
                    bones.push(blob_bone(
                        ellipse((x, y), r, r * 0.85, rng.random_range(0.0..3.0)),
                        0.3,
                    ));
                }
            }
            let spread: f32 = rng.random_range(0.05..0.1);
            for k in 0..5 {
                let x = 0.34 + 0.075 * k as f32;
                let angle = std::f32::consts::FRAC_PI_2 + (k as f32 - 2.0) * spread;
                bones.push(long_bone(
                    (x, 0.7),
                    step((x, 0.7), angle, 0.4),
                    0.024 * s,
                    1.4,
                    0.33,
                ));
            }
            tissue.push(shaft((0.5, -0.1), (0.5, 1.1), 0.23 * s));
        }
        Category::Hand => {
            let s = s * HAND_CALIBRE;
            for k in 0..2 {
                bones.push(long_bone(
                    (0.42 + 0.17 * k as f32, 1.15),
                    (0.42 + 0.17 * k as f32, 0.93),
                    0.04 * s,
                    1.4,
                    0.33,
                ));
            }
            for k in 0..6 {
                let x = 0.4 + 0.05 * (k % 3) as f32;
                let y = 0.82 + 0.05 * (k / 3) as f32;
                bones.push(blob_bone(circle((x + 0.05, y), 0.026 * s), 0.3));
            }
            let spread: f32 = rng.random_range(0.08..0.16);
            for k in 0..4 {
                let base = (0.42 + 0.06 * k as f32, 0.76);
                let angle = -std::f32::consts::FRAC_PI_2 + (k as f32 - 1.5) * spread;
                let mc = 0.24 + rng.random_range(-0.02..0.02);
                let lens = [mc, 0.14, 0.09, 0.06];
                let radii = [0.02 * s, 0.018 * s, 0.015 * s, 0.013 * s];
                let tip = chain(rng, base, angle, &lens, &radii, &mut bones);
                tissue.push(shaft(step(base, angle, mc), tip, 0.04 * s));
            }
            // Thumb.
            let tb = (0.38, 0.8);
            let ta = -std::f32::consts::FRAC_PI_2 - 0.75 - rng.random_range(0.0..0.2);
            let tip = chain(
                rng,
                tb,
                ta,
                &[0.15, 0.1, 0.07],
                &[0.022 * s, 0.019 * s, 0.016 * s],
                &mut bones,
            );
            tissue.push(shaft(step(tb, ta, 0.08), tip, 0.045 * s));
            tissue.push(ellipse((0.5, 0.75), 0.2 * s, 0.22, 0.0));
            tissue.push(shaft((0.5, 0.9), (0.5, 1.2), 0.18 * s));
            for part in bones
                .iter_mut()
                .flat_map(|b| b.parts.iter_mut())
                .chain(&mut tissue)
            {
                *part = magnified(*part, HAND_FRAME.0, HAND_FRAME.1);
            }
        }
        Category::Finger => {
            let angle = -std::f32::consts::FRAC_PI_2 + rng.random_range(-0.15..0.15);
            let base = (0.5, 1.2);
            let lens = [0.33, 0.27, 0.17, 0.11];
            let radii = [0.065 * s, 0.055 * s, 0.045 * s, 0.038 * s];
            let tip = chain(rng, base, angle, &lens, &radii, &mut bones);
            tissue.push(shaft((0.5, 1.2), tip, 0.12 * s));
            // A neighbouring finger at the edge of the film.
            let nb = (0.92, 1.2);
            let ntip = chain(
                rng,
                nb,
                angle - 0.1,
                &[0.35, 0.25],
                &[0.055 * s, 0.05 * s],
                &mut bones,
            );
            tissue.push(shaft(nb, ntip, 0.1 * s));
        }
    }
    Anatomy { bones, tissue }
}
