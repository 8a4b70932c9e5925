//! Folder-layout data sets: `ROOT/<split>/<class>/**/*.{png,jpg,jpeg}`, where the user names
//! the normal classes and, optionally, the abnormal ones.

use std::path::Path;

use walkdir::WalkDir;

use crate::dataset::{DataSet, Format, is_image_file, require_dir};
use crate::{DataError, ImageRecord, Label, Result, Split};

/// Which class folders are normal and which abnormal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    /// Class folder names that hold normal images (e.g. `NORMAL`, or `0`).
    pub normal: Vec<String>,
    /// Class folder names that hold abnormal images; `None` means every class not in
    /// `normal`. Classes named in neither list are left out.
    pub abnormal: Option<Vec<String>>,
}

impl ClassMap {
    /// Normal classes given, every other class abnormal.
    pub fn normal(classes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            normal: classes.into_iter().map(Into::into).collect(),
            abnormal: None,
        }
    }

    /// The map a user's two lists describe (as given on a command line): `None` when no normal
    /// class is named; an empty `abnormal` means every other class is abnormal.
    pub fn from_lists(normal: &[String], abnormal: &[String]) -> Option<Self> {
        if normal.is_empty() {
            return None;
        }
        let map = Self::normal(normal.iter().cloned());
        Some(if abnormal.is_empty() {
            map
        } else {
            map.with_abnormal(abnormal.iter().cloned())
        })
    }

    /// Names the abnormal classes explicitly.
    pub fn with_abnormal(mut self, classes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.abnormal = Some(classes.into_iter().map(Into::into).collect());
        self
    }

    /// The label of `class`, or `None` when it is left out. Names compare case-insensitively.
    pub fn label_of(&self, class: &str) -> Option<Label> {
        let eq = |c: &String| c.eq_ignore_ascii_case(class);
        if self.normal.iter().any(eq) {
            Some(Label::Normal)
        } else {
            match &self.abnormal {
                None => Some(Label::Abnormal),
                Some(list) if list.iter().any(eq) => Some(Label::Abnormal),
                Some(_) => None,
            }
        }
    }

    fn validate(&self) -> Result<()> {
        if self.normal.is_empty() {
            return Err(DataError::InvalidParameter(
                "name at least one normal class (e.g. --normal NORMAL)".into(),
            ));
        }
        if let Some(both) = self
            .abnormal
            .iter()
            .flatten()
            .find(|a| self.normal.iter().any(|n| n.eq_ignore_ascii_case(a)))
        {
            return Err(DataError::InvalidParameter(format!(
                "class {both:?} is named both normal and abnormal"
            )));
        }
        Ok(())
    }
}

/// Opens a folder-layout data set. Split folders `train`, `val`/`valid` and `test` are
/// understood; other top-level folders are reported in [`DataSet::problems`] and skipped.
/// Every image is its own study; there is no category.
pub fn open(root: impl AsRef<Path>, classes: &ClassMap) -> Result<DataSet> {
    let root = root.as_ref();
    require_dir(root)?;
    classes.validate()?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut split_dirs: Vec<_> = std::fs::read_dir(root)
        .map_err(|e| DataError::io(root, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    split_dirs.sort_by_key(|e| e.file_name());
    for split_entry in split_dirs {
        let name = split_entry.file_name().to_string_lossy().into_owned();
        let Ok(split) = name.parse::<Split>() else {
            problems.push(DataError::Parse {
                file: split_entry.path(),
                line: 0,
                message: "not a split folder (train, val/valid, test); skipped".into(),
            });
            continue;
        };
        let mut class_dirs: Vec<_> = std::fs::read_dir(split_entry.path())
            .map_err(|e| DataError::io(split_entry.path(), e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .collect();
        class_dirs.sort_by_key(|e| e.file_name());
        for class_entry in class_dirs {
            let class = class_entry.file_name().to_string_lossy().into_owned();
            let Some(label) = classes.label_of(&class) else {
                continue;
            };
            for entry in WalkDir::new(class_entry.path()).sort_by_file_name() {
                match entry {
                    Ok(e) if e.file_type().is_file() && is_image_file(e.path()) => {
                        records.push(ImageRecord {
                            path: e.path().to_path_buf(),
                            category: None,
                            patient: None,
                            study: None,
                            label,
                            split,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let path = e.path().map_or(class_entry.path(), Path::to_path_buf);
                        problems.push(DataError::io(path, std::io::Error::other(e.to_string())));
                    }
                }
            }
        }
    }
    if !records.iter().any(|r| r.label == Label::Normal) {
        return Err(DataError::InvalidParameter(format!(
            "{}: no images in the normal class(es) {:?} under any split folder",
            root.display(),
            classes.normal
        )));
    }
    Ok(DataSet {
        root: root.to_path_buf(),
        format: Format::Folder,
        records,
        problems,
    })
}
