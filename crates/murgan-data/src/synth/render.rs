//! Rasterises an [`Anatomy`] into a radiograph: projected densities of tissue and bone
//! (cortical shell brighter than the medullary canal), pathology, exposure, noise and a
//! side marker.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::anatomy::{Anatomy, Bone, P2, Part};
use crate::image::GrayImage;

/// Attenuation per unit length of cortical bone, medullary bone and soft tissue.
const MU_CORTEX: f32 = 12.0;
const MU_MEDULLA: f32 = 3.0;
const MU_TISSUE: f32 = 1.6;
/// Soft-tissue thickness at which its density starts to saturate.
const TISSUE_SAT: f32 = 0.3;
/// Narrowest fracture gap, in image widths (about 2 pixels at 128×128).
const MIN_GAP: f32 = 0.014;
/// Shortest lesion half-length, in image widths: small bones still show a lesion.
const MIN_LESION: f32 = 0.03;
/// Extra attenuation of metal (saturates the film).
const MU_METAL: f32 = 3.5;

/// What is wrong with an abnormal study.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pathology {
    /// A dark jagged discontinuity across a bone, optionally displaced.
    Fracture {
        /// Obliquity of the fracture line, radians.
        obliquity: f32,
        /// Gap width as a fraction of the bone radius.
        gap: f32,
        /// Displacement of the distal fragment (along, across), in bone radii.
        displacement: P2,
        /// Phases of the jagged line.
        phases: [f32; 3],
    },
    /// Very bright metal: a plate along the bone with screws across it.
    Hardware {
        /// Plate length as a fraction of the shaft length.
        length: f32,
        /// Which side of the bone the plate sits on (+1 or -1).
        side: f32,
        /// Number of screws.
        screws: u8,
    },
    /// A lytic (dark) or sclerotic (bright) region in a bone.
    Lesion {
        /// `true` for a lytic lesion, `false` for a sclerotic one.
        lytic: bool,
        /// Half-length along the bone, in bone radii.
        rx: f32,
        /// Half-width across the bone, in bone radii.
        ry: f32,
        /// Offset from the bone's axis, in bone radii.
        offset: f32,
    },
}

impl Pathology {
    /// A short name: `fracture`, `hardware`, `lytic_lesion` or `sclerotic_lesion`.
    pub fn name(&self) -> &'static str {
        match self {
            Pathology::Fracture { .. } => "fracture",
            Pathology::Hardware { .. } => "hardware",
            Pathology::Lesion { lytic: true, .. } => "lytic_lesion",
            Pathology::Lesion { lytic: false, .. } => "sclerotic_lesion",
        }
    }

    /// Draws a random pathology.
    pub fn random<R: Rng>(rng: &mut R) -> Self {
        match rng.random_range(0..3) {
            0 => Pathology::Fracture {
                obliquity: rng.random_range(-0.6..0.6),
                gap: rng.random_range(0.3..0.7),
                displacement: if rng.random_bool(0.6) {
                    (rng.random_range(-0.4..0.4), rng.random_range(-0.9..0.9))
                } else {
                    (0.0, 0.0)
                },
                phases: [
                    rng.random_range(0.0..6.3),
                    rng.random_range(0.0..6.3),
                    rng.random_range(0.0..6.3),
                ],
            },
            1 => Pathology::Hardware {
                length: rng.random_range(0.25..0.45),
                side: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
                screws: rng.random_range(2..5),
            },
            _ => Pathology::Lesion {
                lytic: rng.random_bool(0.5),
                rx: rng.random_range(1.2..2.4),
                ry: rng.random_range(0.7..0.95),
                offset: rng.random_range(-0.3..0.3),
            },
        }
    }
}

/// A pathology placed on one bone's main shaft at relative position `at` (0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    /// Index of the bone in [`Anatomy::bones`].
    pub bone: usize,
    /// Position along the shaft, 0 at one end and 1 at the other.
    pub at: f32,
    /// What it is.
    pub pathology: Pathology,
    /// Size of the finding against its default drawing (1: as drawn by
    /// [`super::study_finding`]); widths, lengths and displacements across the bone scale
    /// with it, the bone it sits on does not.
    pub scale: f32,
}

/// How a view is taken: pose of the limb and exposure of the film.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Rotation of the limb, radians.
    pub angle: f32,
    /// Magnification.
    pub scale: f32,
    /// Shift of the limb, in image widths.
    pub shift: P2,
    /// Exposure multiplier of all attenuation.
    pub exposure: f32,
    /// Display gamma.
    pub gamma: f32,
    /// Scatter fog level.
    pub fog: f32,
    /// Standard deviation of the quantum noise.
    pub noise: f32,
    /// Side marker corner (0–3), or `None`.
    pub marker: Option<u8>,
    /// Mirror left–right (a left limb).
    pub mirror: bool,
}

impl View {
    /// Draws a random view.
    pub fn random<R: Rng>(rng: &mut R) -> Self {
        View {
            angle: rng.random_range(-0.22..0.22),
            scale: rng.random_range(0.9..1.1),
            shift: (rng.random_range(-0.04..0.04), rng.random_range(-0.04..0.04)),
            exposure: rng.random_range(0.8..1.25),
            gamma: rng.random_range(0.8..1.25),
            fog: rng.random_range(0.0..0.08),
            noise: rng.random_range(0.01..0.03),
            marker: if rng.random_bool(0.7) {
                Some(rng.random_range(0..4))
            } else {
                None
            },
            mirror: rng.random_bool(0.5),
        }
    }

    /// Maps an image point (unit square) to anatomy coordinates, given `(-angle).sin_cos()`
    /// (computed once per image, not per point).
    fn body_point(&self, (s, c): (f32, f32), p: P2) -> P2 {
        let x = if self.mirror { 1.0 - p.0 } else { p.0 };
        let (dx, dy) = (x - 0.5 - self.shift.0, p.1 - 0.5 - self.shift.1);
        (
            (c * dx - s * dy) / self.scale + 0.5,
            (s * dx + c * dy) / self.scale + 0.5,
        )
    }
}

/// Projected length of a chord through a disc of radius `r` at distance `d` from its centre.
fn chord(r: f32, d: f32) -> f32 {
    if d >= r {
        0.0
    } else {
        2.0 * (r * r - d * d).sqrt()
    }
}

/// Radius and distance from the axis of a part at `q`: the inputs of [`chord`].
fn radial(part: &Part, q: P2) -> (f32, f32) {
    match *part {
        Part::Shaft { a, b, r } => {
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let l2 = (dx * dx + dy * dy).max(1e-12);
            let t = (((q.0 - a.0) * dx + (q.1 - a.1) * dy) / l2).clamp(0.0, 1.0);
            let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
            (r, ((q.0 - cx).powi(2) + (q.1 - cy).powi(2)).sqrt())
        }
        Part::Blob { c, rx, ry, angle } => {
            let (s, co) = angle.sin_cos();
            let (dx, dy) = (q.0 - c.0, q.1 - c.1);
            let (lx, ly) = (co * dx + s * dy, -s * dx + co * dy);
            let rho = ((lx / rx).powi(2) + (ly / ry).powi(2)).sqrt();
            let r = (rx * ry).sqrt();
            (r, rho * r)
        }
    }
}

/// Margin of [`Bounds`], in image widths: far beyond the float error of [`radial`], so a
/// point outside a part's bounds is outside the part in float arithmetic too.
const BOUNDS_MARGIN: f32 = 1e-3;

/// An axis-aligned box around a part (or a bone): outside it, the part adds nothing. Skipping
/// the parts whose box misses a point leaves every pixel as it was and makes rendering several
/// times faster (a hand has 27 bones, a point lies in one or two).
#[derive(Debug, Clone, Copy)]
struct Bounds {
    min: P2,
    max: P2,
}

impl Bounds {
    fn of(part: &Part) -> Bounds {
        let corners = match *part {
            Part::Shaft { a, b, r } => [
                (a.0.min(b.0) - r, a.1.min(b.1) - r),
                (a.0.max(b.0) + r, a.1.max(b.1) + r),
            ],
            // The ellipse lies in the disc of its longer half-axis.
            Part::Blob { c, rx, ry, .. } => {
                let h = rx.abs().max(ry.abs());
                [(c.0 - h, c.1 - h), (c.0 + h, c.1 + h)]
            }
        };
        Bounds::around(&corners)
    }

    fn union(self, other: Bounds) -> Bounds {
        Bounds {
            min: (self.min.0.min(other.min.0), self.min.1.min(other.min.1)),
            max: (self.max.0.max(other.max.0), self.max.1.max(other.max.1)),
        }
    }

    /// The box around `points`, widened by [`BOUNDS_MARGIN`].
    fn around(points: &[P2]) -> Bounds {
        let m = BOUNDS_MARGIN;
        let (mut min, mut max) = (
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, f32::NEG_INFINITY),
        );
        for p in points {
            min = (min.0.min(p.0), min.1.min(p.1));
            max = (max.0.max(p.0), max.1.max(p.1));
        }
        Bounds {
            min: (min.0 - m, min.1 - m),
            max: (max.0 + m, max.1 + m),
        }
    }

    fn meets(&self, other: &Bounds) -> bool {
        self.min.0 <= other.max.0
            && other.min.0 <= self.max.0
            && self.min.1 <= other.max.1
            && other.min.1 <= self.max.1
    }

    fn contains(&self, q: P2) -> bool {
        q.0 >= self.min.0 && q.0 <= self.max.0 && q.1 >= self.min.1 && q.1 <= self.max.1
    }
}

/// A bone ready to be sampled: its parts with their bounds, their union and its shaft's frame.
struct Prepared<'a> {
    bone: &'a Bone,
    parts: Vec<(&'a Part, Bounds)>,
    bounds: Option<Bounds>,
    frame: Option<Frame>,
}

impl<'a> Prepared<'a> {
    fn new(bone: &'a Bone) -> Self {
        let parts: Vec<(&Part, Bounds)> = bone.parts.iter().map(|p| (p, Bounds::of(p))).collect();
        Prepared {
            bone,
            bounds: parts.iter().map(|(_, b)| *b).reduce(Bounds::union),
            parts,
            frame: Frame::of(bone),
        }
    }
}

/// An anatomy ready to be sampled at many points.
struct Scene<'a> {
    tissue: Vec<(&'a Part, Bounds)>,
    bones: Vec<Prepared<'a>>,
}

impl<'a> Scene<'a> {
    fn new(anatomy: &'a Anatomy) -> Self {
        Scene {
            tissue: anatomy.tissue.iter().map(|p| (p, Bounds::of(p))).collect(),
            bones: anatomy.bones.iter().map(Prepared::new).collect(),
        }
    }

    /// The scene with every bound the whole plane: nothing skipped (what rendering was
    /// before bounds; the tests compare the two).
    #[cfg(test)]
    fn unbounded(anatomy: &'a Anatomy) -> Self {
        let all = Bounds {
            min: (f32::NEG_INFINITY, f32::NEG_INFINITY),
            max: (f32::INFINITY, f32::INFINITY),
        };
        let mut scene = Scene::new(anatomy);
        for (_, b) in &mut scene.tissue {
            *b = all;
        }
        for bone in &mut scene.bones {
            bone.bounds = bone.bounds.map(|_| all);
            for (_, b) in &mut bone.parts {
                *b = all;
            }
        }
        scene
    }
}

/// Projected density of a bone at `q`: shell of cortical bone around a medullary core.
fn bone_density(prepared: &Prepared, q: P2) -> f32 {
    let bone = prepared.bone;
    prepared
        .parts
        .iter()
        .filter(|(_, b)| b.contains(q))
        .map(|(p, _)| {
            let (r, d) = radial(p, q);
            if d >= r {
                return 0.0;
            }
            let ri = r * (1.0 - bone.cortex);
            let inner = chord(ri, d);
            MU_CORTEX * (chord(r, d) - inner) + MU_MEDULLA * inner
        })
        .fold(0.0, f32::max)
        * bone.density
}

/// The local frame of a bone's main shaft: origin, unit axis, unit normal, length, radius.
struct Frame {
    a: P2,
    dir: P2,
    nrm: P2,
    len: f32,
    r: f32,
}

impl Frame {
    fn of(bone: &Bone) -> Option<Frame> {
        match bone.parts.first() {
            Some(&Part::Shaft { a, b, r }) => {
                let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                let len = (dx * dx + dy * dy).sqrt().max(1e-6);
                let dir = (dx / len, dy / len);
                Some(Frame {
                    a,
                    dir,
                    nrm: (-dir.1, dir.0),
                    len,
                    r,
                })
            }
            _ => None,
        }
    }

    /// (along, across) coordinates of `q`.
    fn local(&self, q: P2) -> P2 {
        let (dx, dy) = (q.0 - self.a.0, q.1 - self.a.1);
        (
            dx * self.dir.0 + dy * self.dir.1,
            dx * self.nrm.0 + dy * self.nrm.1,
        )
    }

    fn point(&self, u: f32, v: f32) -> P2 {
        (
            self.a.0 + u * self.dir.0 + v * self.nrm.0,
            self.a.1 + u * self.dir.1 + v * self.nrm.1,
        )
    }
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The anatomy-space centre of a finding (for placing it within the film).
pub fn finding_centre(anatomy: &Anatomy, finding: &Finding) -> Option<P2> {
    let f = Frame::of(anatomy.bones.get(finding.bone)?)?;
    Some(f.point(finding.at * f.len, 0.0))
}

/// Total attenuation at anatomy point `q`.
fn attenuation(near: &Near, finding: Option<&Finding>, q: P2) -> f32 {
    let tissue = near
        .tissue
        .iter()
        .filter(|(_, b)| b.contains(q))
        .map(|(p, _)| {
            let (r, d) = radial(p, q);
            chord(r, d)
        })
        .fold(0.0, f32::max);
    // Thick soft tissue (a shoulder) saturates instead of glowing like bone.
    let mut total = MU_TISSUE * TISSUE_SAT * (1.0 - (-tissue / TISSUE_SAT).exp());
    // In the anatomy's order: the sum is the same as over every bone (the others add 0).
    for &(i, bone) in &near.bones {
        let hit = finding.filter(|f| f.bone == i);
        total += match (hit, &bone.frame) {
            // A finding reaches beyond its bone (a plate, a displaced fragment).
            (Some(f), Some(frame)) => pathological_bone(bone, frame, f, q),
            _ if bone.bounds.is_some_and(|b| b.contains(q)) => bone_density(bone, q),
            _ => 0.0,
        };
    }
    total
}

/// The tissue parts and bones (with their index in the anatomy) whose bounds meet one tile of
/// the film, and the bone that carries the finding.
struct Near<'s, 'a> {
    tissue: Vec<&'s (&'a Part, Bounds)>,
    bones: Vec<(usize, &'s Prepared<'a>)>,
}

impl<'s, 'a> Near<'s, 'a> {
    fn new(scene: &'s Scene<'a>, area: Bounds, finding: Option<&Finding>) -> Self {
        Near {
            tissue: scene
                .tissue
                .iter()
                .filter(|(_, b)| b.meets(&area))
                .collect(),
            bones: scene
                .bones
                .iter()
                .enumerate()
                .filter(|(i, bone)| {
                    finding.is_some_and(|f| f.bone == *i)
                        || bone.bounds.is_some_and(|b| b.meets(&area))
                })
                .collect(),
        }
    }
}

fn pathological_bone(bone: &Prepared, frame: &Frame, f: &Finding, q: P2) -> f32 {
    let (u, v) = frame.local(q);
    let u0 = f.at * frame.len;
    let r = frame.r;
    // The finding's own unit of size: the bone's radius, times its scale.
    let k = f.scale.max(0.0);
    let rs = r * k;
    match f.pathology {
        Pathology::Fracture {
            obliquity,
            gap,
            displacement,
            phases,
        } => {
            let vn = v / r;
            let jag = 0.22
                * r
                * ((3.1 * vn + phases[0]).sin()
                    + 0.6 * (7.3 * vn + phases[1]).sin()
                    + 0.4 * (13.7 * vn + phases[2]).sin());
            let line = u0 + obliquity.tan() * v + jag;
            let distal = u > line;
            let q_src = if distal {
                let (du, dv) = (displacement.0 * rs, displacement.1 * rs);
                (
                    q.0 - du * frame.dir.0 - dv * frame.nrm.0,
                    q.1 - du * frame.dir.1 - dv * frame.nrm.1,
                )
            } else {
                q
            };
            let density = bone_density(bone, q_src);
            let half_gap = 0.5 * (gap * rs).max(MIN_GAP * k);
            let in_gap = 1.0 - smoothstep(half_gap, half_gap * 1.6, (u - line).abs());
            density * (1.0 - 0.9 * in_gap)
        }
        Pathology::Lesion {
            lytic,
            rx,
            ry,
            offset,
        } => {
            let density = bone_density(bone, q);
            let rho = (((u - u0) / (rx * rs).max(MIN_LESION * k)).powi(2)
                + ((v - offset * r) / (ry * rs)).powi(2))
            .sqrt();
            let mask = 1.0 - smoothstep(0.7, 1.0, rho);
            if density <= 0.0 {
                density
            } else if lytic {
                density * (1.0 - 0.9 * mask)
            } else {
                density + 0.9 * mask
            }
        }
        Pathology::Hardware {
            length,
            side,
            screws,
        } => {
            let density = bone_density(bone, q);
            let half = 0.5 * (length * k).min(0.9) * frame.len;
            let pw = 0.55 * rs;
            let centre = side * (r * 1.1 + pw / 2.0);
            let mut metal = 0.0;
            if (u - u0).abs() < half && (v - centre).abs() < pw / 2.0 {
                metal += MU_METAL;
            }
            let n = screws.max(1) as f32;
            for j in 0..screws {
                let uk = u0 - half + (j as f32 + 0.5) * (2.0 * half / n);
                if (u - uk).abs() < 0.13 * rs
                    && v * side > -1.2 * r
                    && v * side < centre * side + pw
                {
                    metal += 0.8 * MU_METAL;
                }
            }
            density + metal
        }
    }
}

/// Renders one radiograph of `size`×`size` pixels (2×2 supersampled), values in [0, 1].
pub fn render<R: Rng>(
    anatomy: &Anatomy,
    finding: Option<&Finding>,
    view: &View,
    size: u32,
    noise_rng: &mut R,
) -> GrayImage {
    render_scene(&Scene::new(anatomy), finding, view, size, noise_rng)
}

/// Side of the square tiles of pixels that share one list of nearby parts.
const TILE: usize = 16;

/// [`render`] of a prepared anatomy.
fn render_scene<R: Rng>(
    scene: &Scene,
    finding: Option<&Finding>,
    view: &View,
    size: u32,
    noise_rng: &mut R,
) -> GrayImage {
    let n = size as usize;
    let mut pixels = vec![0.0f32; n * n];
    let inv = 1.0 / size as f32;
    let turn = (-view.angle).sin_cos();
    for ty in (0..n).step_by(TILE) {
        for tx in (0..n).step_by(TILE) {
            let (y1, x1) = ((ty + TILE).min(n), (tx + TILE).min(n));
            // The view maps the tile's square to a parallelogram: the box of its corners
            // holds every sample of the tile.
            let corners = [(tx, ty), (x1, ty), (tx, y1), (x1, y1)]
                .map(|(x, y)| view.body_point(turn, (x as f32 * inv, y as f32 * inv)));
            let near = Near::new(scene, Bounds::around(&corners), finding);
            for y in ty..y1 {
                for x in tx..x1 {
                    let mut acc = 0.0;
                    for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                        let p = ((x as f32 + ox) * inv, (y as f32 + oy) * inv);
                        let a = attenuation(&near, finding, view.body_point(turn, p));
                        acc += 1.0 - (-a * view.exposure).exp();
                    }
                    let fog = view.fog * (1.0 - 0.5 * (y as f32 * inv));
                    pixels[y * n + x] = (acc / 4.0).powf(view.gamma) + fog;
                }
            }
        }
    }
    if let Some(corner) = view.marker {
        draw_marker(&mut pixels, n, corner);
    }
    for v in &mut pixels {
        let z: f32 = StandardNormal.sample(noise_rng);
        *v = (*v + view.noise * z).clamp(0.0, 1.0);
    }
    GrayImage {
        width: size,
        height: size,
        pixels,
    }
}

/// A bright "L"-shaped lead marker in one corner, as radiographers place on the film.
fn draw_marker(pixels: &mut [f32], n: usize, corner: u8) {
    let s = (n / 12).max(3);
    let t = (s / 4).max(1);
    let m = n / 20;
    let (x0, y0) = match corner {
        0 => (m, m),
        1 => (n - m - s, m),
        2 => (m, n - m - s),
        _ => (n - m - s, n - m - s),
    };
    for y in y0..y0 + s {
        for x in x0..x0 + s {
            if x < x0 + t || y >= y0 + s - t {
                pixels[y * n + x] = 0.97;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::Category;
    use crate::synth::{patient_anatomy, study_finding};

    /// Skipping the parts whose bounds miss a point changes no pixel: every category, normal and
    /// with each kind of finding (at the main job's scale 3, where plates and displaced
    /// fragments reach furthest from their bone), 40 pixels wide so that the last tiles are
    /// partial.
    #[test]
    fn bounds_skip_only_what_adds_nothing() {
        let mut kinds = std::collections::BTreeSet::new();
        for (ci, &category) in Category::ALL.iter().enumerate() {
            for patient in 0..6u64 {
                let seed = 1000 * ci as u64 + patient;
                let anatomy = patient_anatomy(category, seed);
                let finding = study_finding(&anatomy, seed).map(|f| Finding { scale: 3.0, ..f });
                if let Some(f) = &finding {
                    kinds.insert(f.pathology.name());
                }
                let view = View::random(&mut ChaCha8Rng::seed_from_u64(seed));
                for f in [None, finding.as_ref()] {
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    let fast = render(&anatomy, f, &view, 40, &mut rng);
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    let full = render_scene(&Scene::unbounded(&anatomy), f, &view, 40, &mut rng);
                    assert_eq!(fast.pixels, full.pixels, "{category:?}, patient {seed}");
                }
            }
        }
        assert_eq!(kinds.len(), 4, "every kind of finding was drawn: {kinds:?}");
    }
}
