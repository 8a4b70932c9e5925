//! Synthetic radiographs in MURA-v1.1's layout, so every tool runs the same on synthetic and
//! real data.
//!
//! Each image is rendered from a patient's anatomy (bone calibre, lengths, flexion), a view
//! (pose, magnification, exposure, gamma, fog, noise, a lead side marker) and, for abnormal
//! studies, one finding: a fracture (optionally displaced), metal hardware, or a lytic or
//! sclerotic lesion. Everything is drawn from seeded generators: the same seed writes the
//! same bytes, whatever the number of threads.

mod anatomy;
mod render;

use std::fs;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use anatomy::{Anatomy, Bone, Part};
pub use render::{Finding, Pathology, View};

use crate::atomic::write_atomic;
use crate::image::GrayImage;
pub use crate::image::write_png;
use crate::image::write_png_renamed;
use crate::mura::{MURA_DIR, image_paths_csv, labeled_studies_csv};
use crate::seed::item_seed;
use crate::{Category, DataError, Label, Result, Split};

/// The file beside the split CSVs that names each abnormal study's finding (`study,pathology`:
/// the study folder as in the labelled-studies CSVs, and [`Pathology::name`], or `none` where
/// no place on the film could hold one).
pub const FINDINGS_CSV: &str = "synthetic_findings.csv";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Side of each (square) image in pixels.
    pub image_size: u32,
    /// Studies per category, over both splits.
    pub studies_per_category: usize,
    /// Fraction of each category's studies that go to the `valid` split.
    pub valid_fraction: f32,
    /// Fraction of abnormal studies in each split.
    pub abnormal_fraction: f32,
    /// Each study has 1 to this many images (views).
    pub max_images_per_study: usize,
    /// Categories to generate.
    pub categories: Vec<Category>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Size of every finding against its default drawing (1); larger findings stay visible
    /// when the images are shrunk for a small network.
    #[serde(default = "unit_scale")]
    pub finding_scale: f32,
}

/// Findings at their default size.
fn unit_scale() -> f32 {
    1.0
}

impl Default for SynthConfig {
    /// 30 studies per category (20 train, 10 valid), 40 % abnormal, 1–3 views of 128×128,
    /// all 7 categories, seed 0: about 400 images, written in seconds.
    fn default() -> Self {
        Self {
            image_size: 128,
            studies_per_category: 30,
            valid_fraction: 1.0 / 3.0,
            abnormal_fraction: 0.4,
            max_images_per_study: 3,
            categories: Category::ALL.to_vec(),
            seed: 0,
            finding_scale: 1.0,
        }
    }
}

impl SynthConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::InvalidParameter(m));
        if !(16..=2048).contains(&self.image_size) {
            return bad(format!(
                "synthetic image size {} out of range 16..=2048",
                self.image_size
            ));
        }
        if self.studies_per_category < 2 {
            return bad("at least 2 studies per category (one per split)".into());
        }
        if !(0.0..1.0).contains(&self.valid_fraction)
            || !(0.0..1.0).contains(&self.abnormal_fraction)
        {
            return bad("valid and abnormal fractions must lie in [0, 1)".into());
        }
        if !(0.25..=8.0).contains(&self.finding_scale) {
            return bad(format!(
                "finding scale {} out of range 0.25..=8",
                self.finding_scale
            ));
        }
        if self.max_images_per_study == 0 || self.categories.is_empty() {
            return bad("need at least one image per study and one category".into());
        }
        Ok(())
    }
}

/// One study to be written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyPlan {
    /// Body part.
    pub category: Category,
    /// Split.
    pub split: Split,
    /// Patient folder name, `patientNNNNN`.
    pub patient: String,
    /// Study number within the patient (1-based).
    pub study: usize,
    /// Normal or abnormal.
    pub label: Label,
    /// Number of images.
    pub images: usize,
    /// Seed of the patient's anatomy.
    pub patient_seed: u64,
    /// Seed of the study's finding and views.
    pub study_seed: u64,
    /// Size of the study's finding against its default drawing.
    #[serde(default = "unit_scale")]
    pub finding_scale: f32,
}

impl StudyPlan {
    /// The study folder relative to the data set folder, e.g.
    /// `train/XR_HAND/patient00003/study1_positive`.
    pub fn rel_dir(&self) -> String {
        let sign = match self.label {
            Label::Normal => "negative",
            Label::Abnormal => "positive",
        };
        format!(
            "{}/{}/{}/study{}_{sign}",
            self.split.name(),
            self.category.folder(),
            self.patient,
            self.study
        )
    }
}

/// Plans every study: patients are never shared between splits.
pub fn plan(config: &SynthConfig) -> Result<Vec<StudyPlan>> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut plans = Vec::new();
    let mut patient_no = 0usize;
    for &category in &config.categories {
        let n = config.studies_per_category;
        let n_valid = ((n as f32 * config.valid_fraction).round() as usize).clamp(1, n - 1);
        for (split, count) in [(Split::Train, n - n_valid), (Split::Valid, n_valid)] {
            let n_abnormal = (count as f32 * config.abnormal_fraction).round() as usize;
            let mut made = 0;
            while made < count {
                patient_no += 1;
                let patient = format!("patient{patient_no:05}");
                let patient_seed = rng.random();
                // About one patient in five has a second study of the same body part.
                let studies = if made + 1 < count && rng.random_bool(0.2) {
                    2
                } else {
                    1
                };
                for study in 1..=studies {
                    let label = if made < n_abnormal {
                        Label::Abnormal
                    } else {
                        Label::Normal
                    };
                    plans.push(StudyPlan {
                        category,
                        split,
                        patient: patient.clone(),
                        study,
                        label,
                        images: rng.random_range(1..=config.max_images_per_study),
                        patient_seed,
                        study_seed: rng.random(),
                        finding_scale: config.finding_scale,
                    });
                    made += 1;
                }
            }
        }
    }
    Ok(plans)
}

/// Draws a patient's anatomy.
pub fn patient_anatomy(category: Category, patient_seed: u64) -> Anatomy {
    anatomy::build(category, &mut ChaCha8Rng::seed_from_u64(patient_seed))
}

/// Draws a study's finding on `anatomy`, placed well inside the film.
pub fn study_finding(anatomy: &Anatomy, study_seed: u64) -> Option<Finding> {
    let mut rng = ChaCha8Rng::seed_from_u64(study_seed ^ 0xF1D1_0000);
    let bones = anatomy.long_bones();
    let pathology = Pathology::random(&mut rng);
    // Findings favour the larger bones (weight ∝ radius²), as lesions and plates do.
    let weights: Vec<f32> = bones
        .iter()
        .map(|&b| anatomy.shaft_radius(b).powi(2))
        .collect();
    let total: f32 = weights.iter().sum();
    for _ in 0..64 {
        let mut pick = rng.random_range(0.0..total.max(f32::MIN_POSITIVE));
        let k = weights.iter().position(|&w| {
            pick -= w;
            pick <= 0.0
        });
        let bone = *bones.get(k.unwrap_or(0))?;
        let finding = Finding {
            bone,
            at: rng.random_range(0.25..0.75),
            pathology,
            scale: 1.0,
        };
        if let Some((x, y)) = render::finding_centre(anatomy, &finding)
            && (0.15..0.85).contains(&x)
            && (0.15..0.85).contains(&y)
        {
            return Some(finding);
        }
    }
    None
}

/// Renders image `index` of a study: the same seeds with and without `finding` differ only
/// by the finding.
pub fn render_view(
    anatomy: &Anatomy,
    finding: Option<&Finding>,
    study_seed: u64,
    index: usize,
    size: u32,
) -> GrayImage {
    let mut rng = ChaCha8Rng::seed_from_u64(item_seed(study_seed, index as u64));
    let view = View::random(&mut rng);
    render::render(anatomy, finding, &view, size, &mut rng)
}

/// The finding a planned study carries, at its scale (`None` for a normal study, or where no
/// place on the film could hold one).
pub fn plan_finding(plan: &StudyPlan, anatomy: &Anatomy) -> Option<Finding> {
    match plan.label {
        Label::Abnormal => study_finding(anatomy, plan.study_seed).map(|f| Finding {
            scale: plan.finding_scale,
            ..f
        }),
        Label::Normal => None,
    }
}

/// Renders every image of a planned study; returns them with the finding they show.
pub fn render_study(plan: &StudyPlan, size: u32) -> (Option<Finding>, Vec<GrayImage>) {
    let anatomy = patient_anatomy(plan.category, plan.patient_seed);
    let finding = plan_finding(plan, &anatomy);
    let images = (0..plan.images)
        .map(|i| render_view(&anatomy, finding.as_ref(), plan.study_seed, i, size))
        .collect();
    (finding, images)
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthReport {
    /// The `MURA-v1.1` folder that was written.
    pub dataset_dir: PathBuf,
    /// Studies written.
    pub studies: usize,
    /// Images written.
    pub images: usize,
}

/// Whether [`generate`] finished writing a set under `out`: the last file it writes, the
/// valid split's study labels, is there (an interrupted run leaves a set without it).
pub fn is_complete(out: &Path) -> bool {
    completion_marker(&out.join(MURA_DIR)).is_file()
}

/// The file [`generate`] writes last into a set's `MURA-v1.1` folder `dir`.
fn completion_marker(dir: &Path) -> PathBuf {
    dir.join(labeled_studies_csv(Split::Valid))
}

/// Writes a MURA-v1.1-shaped tree under `out` (`out/MURA-v1.1/...`, PNGs and both CSVs for
/// each split, the valid split's study labels last). `progress` is called with the number of
/// studies written so far.
pub fn generate(
    out: &Path,
    config: &SynthConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SynthReport> {
    let plans = plan(config)?;
    let dir = out.join(MURA_DIR);
    fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    // Until this run has written everything, the folder is not a complete set.
    let marker = completion_marker(&dir);
    if marker.is_file() {
        fs::remove_file(&marker).map_err(|e| DataError::io(&marker, e))?;
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = plans.len();
    // Each study's finding, in plan order, as it was rendered.
    let drawn = plans
        .par_iter()
        .map(|p| -> Result<Option<Finding>> {
            let study_dir = dir.join(p.rel_dir());
            fs::create_dir_all(&study_dir).map_err(|e| DataError::io(&study_dir, e))?;
            let (finding, images) = render_study(p, config.image_size);
            for (i, img) in images.iter().enumerate() {
                // Not synced one by one (a sync per image doubled the time of a large set):
                // the CSVs, written last and synced, mark the set complete.
                write_png_renamed(&study_dir.join(format!("image{}.png", i + 1)), img)?;
            }
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total);
            Ok(finding)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut findings = String::from("study,pathology\n");
    for (p, finding) in plans.iter().zip(&drawn) {
        if p.label == Label::Abnormal {
            let name = finding.map_or("none", |f| f.pathology.name());
            findings.push_str(&format!("{MURA_DIR}/{}/,{name}\n", p.rel_dir()));
        }
    }
    write_atomic(&dir.join(FINDINGS_CSV), findings.as_bytes())?;
    let mut images = 0;
    for split in [Split::Train, Split::Valid] {
        let mut paths = String::new();
        let mut studies = String::new();
        for p in plans.iter().filter(|p| p.split == split) {
            let rel = p.rel_dir();
            for i in 1..=p.images {
                paths.push_str(&format!("{MURA_DIR}/{rel}/image{i}.png\n"));
                images += 1;
            }
            studies.push_str(&format!("{MURA_DIR}/{rel}/,{}\n", p.label.as_u8()));
        }
        write_atomic(&dir.join(image_paths_csv(split)), paths.as_bytes())?;
        write_atomic(&dir.join(labeled_studies_csv(split)), studies.as_bytes())?;
    }
    Ok(SynthReport {
        dataset_dir: dir,
        studies: plans.len(),
        images,
    })
}

/// A picture of `per_row` normal and `per_row` abnormal samples for each category: one row
/// per category, normals left, abnormals right (findings drawn at `finding_scale`).
pub fn preview(
    categories: &[Category],
    per_row: usize,
    size: u32,
    seed: u64,
    finding_scale: f32,
) -> GrayImage {
    let cols = 2 * per_row;
    let gap = 4;
    let (w, h) = (
        cols as u32 * (size + gap) + gap * 3,
        categories.len() as u32 * (size + gap) + gap,
    );
    let mut canvas = GrayImage {
        width: w,
        height: h,
        pixels: vec![1.0; (w * h) as usize],
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (row, &cat) in categories.iter().enumerate() {
        for col in 0..cols {
            let anatomy = patient_anatomy(cat, rng.random());
            let study_seed: u64 = rng.random();
            let finding = if col >= per_row {
                study_finding(&anatomy, study_seed).map(|f| Finding {
                    scale: finding_scale,
                    ..f
                })
            } else {
                None
            };
            let img = render_view(&anatomy, finding.as_ref(), study_seed, 0, size);
            let x0 = gap + col as u32 * (size + gap) + if col >= per_row { gap * 2 } else { 0 };
            let y0 = gap + row as u32 * (size + gap);
            for y in 0..size {
                for x in 0..size {
                    canvas.pixels[((y0 + y) * w + x0 + x) as usize] =
                        img.pixels[(y * size + x) as usize];
                }
            }
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many values of `a` and `b` differ by more than `by`.
    fn changed_pixels(a: &[f32], b: &[f32], by: f32) -> usize {
        a.iter()
            .zip(b)
            .filter(|(x, y)| (*x - *y).abs() > by)
            .count()
    }

    fn max_abs_diff(a: &GrayImage, b: &GrayImage) -> f32 {
        a.pixels
            .iter()
            .zip(&b.pixels)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn plan_keeps_patients_disjoint_and_counts() {
        let cfg = SynthConfig {
            studies_per_category: 12,
            ..SynthConfig::default()
        };
        let plans = plan(&cfg).unwrap();
        assert_eq!(plans.len(), 12 * 7);
        for cat in Category::ALL {
            let valid = plans
                .iter()
                .filter(|p| p.category == cat && p.split == Split::Valid)
                .count();
            assert_eq!(valid, 4);
        }
        let train: std::collections::BTreeSet<_> = plans
            .iter()
            .filter(|p| p.split == Split::Train)
            .map(|p| &p.patient)
            .collect();
        assert!(
            plans
                .iter()
                .filter(|p| p.split == Split::Valid)
                .all(|p| !train.contains(&p.patient))
        );
        assert!(plans.iter().any(|p| p.label == Label::Abnormal));
        assert_eq!(plan(&cfg).unwrap(), plans);
    }

    #[test]
    fn rendering_is_deterministic_and_radiograph_like() {
        for cat in Category::ALL {
            let a = patient_anatomy(cat, 7);
            let x = render_view(&a, None, 11, 0, 64);
            let y = render_view(&a, None, 11, 0, 64);
            assert_eq!(x, y, "{cat}");
            // Dark background at the film's edge, bright bone somewhere.
            let max = x.pixels.iter().copied().fold(0.0f32, f32::max);
            let mean = x.pixels.iter().sum::<f32>() / x.pixels.len() as f32;
            assert!(max > 0.5, "{cat}: max {max}");
            assert!(mean < 0.5, "{cat}: mean {mean}");
        }
    }

    #[test]
    fn every_pathology_changes_the_image_locally() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..40u64 {
            let cat = Category::ALL[(seed % 7) as usize];
            let a = patient_anatomy(cat, seed);
            let Some(f) = study_finding(&a, seed * 31 + 5) else {
                continue;
            };
            seen.insert(f.pathology.name());
            let normal = render_view(&a, None, seed, 0, 128);
            let abnormal = render_view(&a, Some(&f), seed, 0, 128);
            let diff = max_abs_diff(&normal, &abnormal);
            let changed = changed_pixels(&normal.pixels, &abnormal.pixels, 0.05);
            assert!(
                changed >= 5,
                "{cat} {}: only {changed} pixels changed",
                f.pathology.name()
            );
            // Noise is identical in both renderings, so every change is the finding's.
            assert!(
                diff > 0.1,
                "{cat} {}: largest change {diff}",
                f.pathology.name()
            );
            // Local: most of the film is untouched.
            assert!(
                changed < normal.pixels.len() / 4,
                "{cat}: {changed} pixels changed"
            );
        }
        assert_eq!(seen.len(), 4, "all pathologies drawn: {seen:?}");
    }

    #[test]
    fn fractures_stay_visible_at_32_pixels_in_every_category() {
        // The main job renders 128×128 films, draws findings 3× and trains on what the loader
        // makes of them at 32×32: a fracture must change at least 15 of those pixels on
        // average in every category, HAND included (whose phalanges were once a pixel wide,
        // and its fractures changed about 5). The loader maps [0, 1] to [-1, 1], so a change
        // of 0.05 on the film is one of 0.1 there.
        let input = |img: &GrayImage| {
            crate::image::preprocess(img, &crate::PreprocessConfig::new(32), 0)
                .map(|p| p.pixels)
                .unwrap()
        };
        for cat in Category::ALL {
            let mut counts = Vec::new();
            for seed in 0..200u64 {
                let a = patient_anatomy(cat, 1000 + seed);
                let Some(f) = study_finding(&a, 5000 + seed) else {
                    continue;
                };
                if !matches!(f.pathology, Pathology::Fracture { .. }) {
                    continue;
                }
                let f = Finding { scale: 3.0, ..f };
                let normal = input(&render_view(&a, None, seed, 0, 128));
                let abnormal = input(&render_view(&a, Some(&f), seed, 0, 128));
                counts.push(changed_pixels(&normal, &abnormal, 0.1) as f32);
                if counts.len() == 10 {
                    break;
                }
            }
            let mean = counts.iter().sum::<f32>() / counts.len() as f32;
            eprintln!("{cat}: {mean}");
            assert!(counts.len() == 10 && mean >= 15.0, "{cat}: {counts:?}");
        }
    }
}
