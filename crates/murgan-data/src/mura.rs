//! The MURA-v1.1 index: `train|valid_image_paths.csv`, `train|valid_labeled_studies.csv`, or
//! a walk of the folder tree when the CSVs are missing.
//!
//! MURA's layout is `MURA-v1.1/<split>/XR_<CAT>/patientNNNNN/studyN_<positive|negative>/imageN.png`;
//! each CSV entry starts with the data set's folder name (`MURA-v1.1/train/...`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::dataset::{DataSet, Format, is_image_file, require_dir, safe_join};
use crate::{Category, DataError, ImageRecord, Label, Result, Split};

/// The folder name of MURA's current release.
pub const MURA_DIR: &str = "MURA-v1.1";

/// The two splits MURA ships.
pub const MURA_SPLITS: [Split; 2] = [Split::Train, Split::Valid];

/// Where a split's records came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSource {
    /// The `<split>_image_paths.csv` file.
    Csv,
    /// A walk of the `<split>/` folder tree (the CSVs were missing).
    TreeWalk,
}

/// The name of a split's image list, e.g. `train_image_paths.csv`.
pub fn image_paths_csv(split: Split) -> String {
    format!("{}_image_paths.csv", split.name())
}

/// The name of a split's study-label list, e.g. `valid_labeled_studies.csv`.
pub fn labeled_studies_csv(split: Split) -> String {
    format!("{}_labeled_studies.csv", split.name())
}

/// Finds the MURA data set folder: `root` itself when it holds the split folders or CSVs,
/// else `root/MURA-v1.1`.
pub fn locate(root: &Path) -> Result<PathBuf> {
    require_dir(root)?;
    let holds_mura = |dir: &Path| {
        MURA_SPLITS
            .iter()
            .any(|s| dir.join(s.name()).is_dir() || dir.join(image_paths_csv(*s)).is_file())
    };
    if holds_mura(root) {
        return Ok(root.to_path_buf());
    }
    let nested = root.join(MURA_DIR);
    if nested.is_dir() && holds_mura(&nested) {
        return Ok(nested);
    }
    Err(DataError::Inconsistent {
        file: root.to_path_buf(),
        message: format!(
            "not a MURA root: expected train/, valid/ or train_image_paths.csv here or in {MURA_DIR}/"
        ),
    })
}

/// Opens a MURA-v1.1 data set from either the `MURA-v1.1` folder or its parent.
///
/// Each split is read from its CSVs when `<split>_image_paths.csv` exists, else by walking
/// `<split>/`. The image list and the study labels are cross-checked; entries that disagree,
/// escape the root, or point to missing files are skipped and listed in
/// [`DataSet::problems`].
pub fn open(root: impl AsRef<Path>) -> Result<DataSet> {
    let root = root.as_ref();
    let dir = locate(root)?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut found_any_split = false;
    for split in MURA_SPLITS {
        let csv = dir.join(image_paths_csv(split));
        let source = if csv.is_file() {
            IndexSource::Csv
        } else if dir.join(split.name()).is_dir() {
            IndexSource::TreeWalk
        } else {
            continue;
        };
        found_any_split = true;
        let labels = read_labeled_studies(&dir, split, &mut problems)?;
        let split_records = match source {
            IndexSource::Csv => read_image_paths(&dir, split, &csv, &mut problems)?,
            IndexSource::TreeWalk => walk_split(&dir, split, &mut problems),
        };
        records.extend(cross_check(
            &dir,
            split,
            split_records,
            labels,
            &mut problems,
        ));
    }
    if !found_any_split {
        return Err(DataError::Empty(dir));
    }
    records.sort_by(|a, b| (a.split, &a.path).cmp(&(b.split, &b.path)));
    Ok(DataSet {
        root: root.to_path_buf(),
        format: Format::Mura,
        records,
        problems,
    })
}

/// The parts of a MURA image path below the data set folder:
/// `<split>/XR_<CAT>/<patient>/<study>_<positive|negative>/<image>`.
fn record_from_rel(split: Split, rel: &[&str], path: PathBuf) -> Option<ImageRecord> {
    let [split_dir, cat_dir, patient, study_dir, _image] = rel else {
        return None;
    };
    if split_dir.parse::<Split>().ok()? != split {
        return None;
    }
    let category = cat_dir.parse::<Category>().ok()?;
    let (_, suffix) = study_dir.rsplit_once('_')?;
    let label = suffix.parse::<Label>().ok()?;
    Some(ImageRecord {
        path,
        category: Some(category),
        patient: Some((*patient).to_string()),
        study: Some(study_key(split, cat_dir, patient, study_dir)),
        label,
        split,
    })
}

/// The study key of a MURA study: `<split>/XR_<CAT>/<patient>/<study folder>`.
fn study_key(split: Split, cat_dir: &str, patient: &str, study_dir: &str) -> String {
    format!("{}/{cat_dir}/{patient}/{study_dir}", split.name())
}

/// Strips the data set folder name (`MURA-v1.1/`) that MURA's CSV entries start with.
fn strip_dataset_prefix(entry: &str) -> &str {
    let trimmed = entry.trim().trim_start_matches("./");
    match trimmed.split_once('/') {
        Some((first, rest)) if first.parse::<Split>().is_err() => rest,
        _ => trimmed,
    }
}

fn read_image_paths(
    dir: &Path,
    split: Split,
    csv: &Path,
    problems: &mut Vec<DataError>,
) -> Result<Vec<ImageRecord>> {
    let text = fs::read_to_string(csv).map_err(|e| DataError::io(csv, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let entry = line.split(',').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let rel = strip_dataset_prefix(entry);
        let path = match safe_join(dir, rel, csv, line_no) {
            Ok(p) => p,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let Some(record) = record_from_rel(split, &parts, path.clone()) else {
            problems.push(DataError::Parse {
                file: csv.to_path_buf(),
                line: line_no,
                message: format!(
                    "{entry:?} is not a MURA image path ({}/XR_<CAT>/patient*/study*_positive|negative/image*)",
                    split.name()
                ),
            });
            continue;
        };
        if !path.is_file() {
            problems.push(DataError::MissingFile {
                path,
                listed_in: csv.to_path_buf(),
            });
            continue;
        }
        out.push(record);
    }
    Ok(out)
}

fn walk_split(dir: &Path, split: Split, problems: &mut Vec<DataError>) -> Vec<ImageRecord> {
    let split_dir = dir.join(split.name());
    let mut out = Vec::new();
    for entry in WalkDir::new(&split_dir).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map_or(split_dir.clone(), Path::to_path_buf);
                problems.push(DataError::io(path, std::io::Error::other(e.to_string())));
                continue;
            }
        };
        if !entry.file_type().is_file() || !is_image_file(entry.path()) {
            continue;
        }
        let path = entry.path().to_path_buf();
        let Ok(rel) = path.strip_prefix(dir) else {
            continue;
        };
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let parts: Vec<&str> = rel_str.split('/').collect();
        match record_from_rel(split, &parts, path.clone()) {
            Some(r) => out.push(r),
            None => problems.push(DataError::Parse {
                file: path,
                line: 0,
                message: "image outside MURA's XR_<CAT>/patient*/study*_positive|negative/ layout"
                    .into(),
            }),
        }
    }
    out
}

/// Reads `<split>_labeled_studies.csv` into study key → label; `None` when the file is absent.
fn read_labeled_studies(
    dir: &Path,
    split: Split,
    problems: &mut Vec<DataError>,
) -> Result<Option<BTreeMap<String, Label>>> {
    let csv = dir.join(labeled_studies_csv(split));
    if !csv.is_file() {
        return Ok(None);
    }
    let text = fs::read_to_string(&csv).map_err(|e| DataError::io(&csv, e))?;
    let mut labels = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = line.rsplit_once(',').and_then(|(study, label)| {
            let rel = strip_dataset_prefix(study).trim_end_matches('/');
            let parts: Vec<&str> = rel.split('/').collect();
            let label = label.parse::<Label>().ok()?;
            match parts.as_slice() {
                [s, cat, patient, study_dir]
                    if s.parse::<Split>().ok() == Some(split)
                        && cat.parse::<Category>().is_ok()
                        && !rel.split('/').any(|p| p == "..") =>
                {
                    Some((study_key(split, cat, patient, study_dir), label))
                }
                _ => None,
            }
        });
        match parsed {
            Some((key, label)) => {
                labels.insert(key, label);
            }
            None => problems.push(DataError::Parse {
                file: csv.clone(),
                line: line_no,
                message: format!(
                    "{line:?} is not `<split>/XR_<CAT>/patient*/study*/,<0|1>` for split {}",
                    split.name()
                ),
            }),
        }
    }
    Ok(Some(labels))
}

/// Cross-checks image records against the study labels: an image whose folder label
/// disagrees with its study's label, or whose study is not listed, is reported and dropped;
/// a listed study without any image is reported.
fn cross_check(
    dir: &Path,
    split: Split,
    records: Vec<ImageRecord>,
    labels: Option<BTreeMap<String, Label>>,
    problems: &mut Vec<DataError>,
) -> Vec<ImageRecord> {
    let Some(labels) = labels else {
        return records;
    };
    let csv = dir.join(labeled_studies_csv(split));
    let mut seen = BTreeSet::new();
    let mut kept = Vec::with_capacity(records.len());
    for r in records {
        let key = r.study_key();
        match labels.get(&key) {
            Some(&l) if l == r.label => {
                seen.insert(key);
                kept.push(r);
            }
            Some(&l) => problems.push(DataError::Inconsistent {
                file: csv.clone(),
                message: format!(
                    "study {key} is labelled {l} but its folder name says {}; {} skipped",
                    r.label,
                    r.path.display()
                ),
            }),
            None => problems.push(DataError::Inconsistent {
                file: csv.clone(),
                message: format!(
                    "study {key} of {} is not listed; image skipped",
                    r.path.display()
                ),
            }),
        }
    }
    for key in labels.keys().filter(|k| !seen.contains(*k)) {
        problems.push(DataError::Inconsistent {
            file: csv.clone(),
            message: format!("study {key} is listed but has no image"),
        });
    }
    kept
}
