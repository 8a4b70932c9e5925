//! Reading scored images from a CSV file with a header holding at least `label,score` and
//! optionally `category` and `study`. Labels may be `0/1`, `normal/abnormal` or
//! `negative/positive`.

use std::path::Path;

use crate::report::ScoredImage;
use crate::{MetricsError, Result};

/// Parses a label: `0/1`, `normal/abnormal`, `negative/positive` (any case). `true` = abnormal.
pub fn parse_label(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "0" | "normal" | "negative" => Some(false),
        "1" | "abnormal" | "positive" => Some(true),
        _ => None,
    }
}

/// Reads a scores CSV. Every bad line is an error naming the file and line: metrics over a
/// silently shortened input would mislead.
pub fn read_scores_csv(path: &Path) -> Result<Vec<ScoredImage>> {
    read_scores_csv_column(path, "score")
}

/// Reads a scores CSV taking the scores from the column `column` (e.g. one component of the
/// file `murgan evaluate --scores-out` writes).
pub fn read_scores_csv_column(path: &Path, column: &str) -> Result<Vec<ScoredImage>> {
    let bytes = std::fs::read(path).map_err(|e| MetricsError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    parse_scores_csv_column(&bytes, path, column)
}

/// Parses scores CSV bytes; `path` is used in error messages.
pub fn parse_scores_csv(bytes: &[u8], path: &Path) -> Result<Vec<ScoredImage>> {
    parse_scores_csv_column(bytes, path, "score")
}

/// Parses scores CSV bytes, scores from the column `column`.
pub fn parse_scores_csv_column(
    bytes: &[u8],
    path: &Path,
    column: &str,
) -> Result<Vec<ScoredImage>> {
    let err = |line: usize, message: String| MetricsError::Parse {
        file: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let header = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let label_col = col("label").ok_or_else(|| err(1, "header has no `label` column".into()))?;
    let score_col =
        col(column).ok_or_else(|| err(1, format!("header has no `{column}` column")))?;
    let (cat_col, study_col) = (col("category"), col("study"));
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| err(line, e.to_string()))?;
        let field = |c: usize| row.get(c).unwrap_or("");
        let label = parse_label(field(label_col)).ok_or_else(|| {
            err(
                line,
                format!(
                    "label {:?}: expected 0/1, normal/abnormal or negative/positive",
                    field(label_col)
                ),
            )
        })?;
        let score: f64 = field(score_col).parse().map_err(|_| {
            err(
                line,
                format!("score {:?} is not a number", field(score_col)),
            )
        })?;
        if score.is_nan() {
            return Err(err(line, "score is NaN".into()));
        }
        let opt = |c: Option<usize>| c.map(field).filter(|s| !s.is_empty()).map(str::to_string);
        out.push(ScoredImage {
            category: opt(cat_col),
            study: opt(study_col),
            label,
            score,
        });
    }
    if out.is_empty() {
        return Err(MetricsError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let p = Path::new("s.csv");
        let ok = parse_scores_csv(
            b"score,label,category,study\n0.5,positive,HAND,s1\n0.1,0,WRIST,\n",
            p,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(
            ok[0],
            ScoredImage {
                category: Some("HAND".into()),
                study: Some("s1".into()),
                label: true,
                score: 0.5
            }
        );
        assert_eq!(ok[1].study, None);
        let e = parse_scores_csv(b"label,score\n1,0.3\n2,0.1\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.csv:3") && e.contains("label"), "{e}");
        let cols = parse_scores_csv_column(b"label,score,l1\n1,0.3,7\n0,0.1,2\n", p, "l1").unwrap();
        assert_eq!((cols[0].score, cols[1].score), (7.0, 2.0));
        let e = parse_scores_csv_column(b"label,score\n1,0.3\n", p, "l2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`l2`"), "{e}");
        let e = parse_scores_csv(b"label,score\n1,NaN\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.csv:2") && e.contains("NaN"), "{e}");
        let e = parse_scores_csv(b"label,value\n1,0.3\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("score"), "{e}");
        assert!(matches!(
            parse_scores_csv(b"label,score\n", p),
            Err(MetricsError::Empty)
        ));
        assert!(parse_scores_csv(b"label,score\n1,abc\n", p).is_err());
    }
}
