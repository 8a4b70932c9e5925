//! CSV manifests: `path,label[,category][,study][,split]`.
//!
//! With a header row the columns may come in any order (`path` and `label` are required);
//! without one they are read in the order above. Paths are relative to the manifest's folder
//! and may not leave it.

use std::path::Path;

use crate::dataset::{DataSet, Format, safe_join};
use crate::{Category, DataError, ImageRecord, Label, Result, Split};

/// How to read a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestOptions {
    /// The split of rows without a `split` column.
    pub default_split: Split,
}

impl Default for ManifestOptions {
    fn default() -> Self {
        Self {
            default_split: Split::Train,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Columns {
    path: usize,
    label: usize,
    category: Option<usize>,
    study: Option<usize>,
    split: Option<usize>,
}

const POSITIONAL: Columns = Columns {
    path: 0,
    label: 1,
    category: Some(2),
    study: Some(3),
    split: Some(4),
};

fn header_columns(header: &csv::StringRecord, file: &Path) -> Result<Columns> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let required = |name: &str| {
        find(name).ok_or_else(|| DataError::Parse {
            file: file.to_path_buf(),
            line: 1,
            message: format!("header has no `{name}` column"),
        })
    };
    Ok(Columns {
        path: required("path")?,
        label: required("label")?,
        category: find("category"),
        study: find("study"),
        split: find("split"),
    })
}

/// Opens a CSV manifest. Rows that cannot be parsed, escape the manifest's folder or name a
/// missing file are listed in [`DataSet::problems`] and skipped.
pub fn open(manifest: impl AsRef<Path>, options: &ManifestOptions) -> Result<DataSet> {
    let manifest = manifest.as_ref();
    if !manifest.is_file() {
        return Err(DataError::MissingRoot {
            path: manifest.to_path_buf(),
        });
    }
    let base = match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(manifest)
        .map_err(|e| DataError::io(manifest, std::io::Error::other(e.to_string())))?;
    let mut rows = reader.records().enumerate().peekable();
    let mut columns = POSITIONAL;
    if let Some((_, Ok(first))) = rows.peek()
        && (first.get(0).is_some_and(|h| h.eq_ignore_ascii_case("path"))
            || first.iter().any(|h| h.eq_ignore_ascii_case("label")))
    {
        columns = header_columns(first, manifest)?;
        rows.next();
    }
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (i, row) in rows {
        let line = i + 1;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(DataError::Parse {
                    file: manifest.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if row.iter().all(|f| f.is_empty()) {
            continue;
        }
        match parse_row(&row, columns, base, manifest, line, options) {
            Ok(r) => records.push(r),
            Err(e) => problems.push(e),
        }
    }
    Ok(DataSet {
        root: manifest.to_path_buf(),
        format: Format::Csv,
        records,
        problems,
    })
}

fn parse_row(
    row: &csv::StringRecord,
    c: Columns,
    base: &Path,
    manifest: &Path,
    line: usize,
    options: &ManifestOptions,
) -> Result<ImageRecord> {
    let parse_err = |message: String| DataError::Parse {
        file: manifest.to_path_buf(),
        line,
        message,
    };
    let field = |i: Option<usize>| i.and_then(|i| row.get(i)).filter(|s| !s.is_empty());
    let entry = field(Some(c.path)).ok_or_else(|| parse_err("empty path".into()))?;
    let label = field(Some(c.label))
        .ok_or_else(|| parse_err("missing label".into()))?
        .parse::<Label>()
        .map_err(|e| parse_err(e.to_string()))?;
    let category = field(c.category)
        .map(str::parse::<Category>)
        .transpose()
        .map_err(|e| parse_err(e.to_string()))?;
    let split = field(c.split)
        .map(str::parse::<Split>)
        .transpose()
        .map_err(|e| parse_err(e.to_string()))?
        .unwrap_or(options.default_split);
    let path = safe_join(base, entry, manifest, line)?;
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path,
            listed_in: manifest.to_path_buf(),
        });
    }
    Ok(ImageRecord {
        path,
        category,
        patient: None,
        study: field(c.study).map(str::to_string),
        label,
        split,
    })
}
