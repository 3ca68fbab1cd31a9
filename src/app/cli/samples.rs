//! samples: the files `shipdeck judge` reads — one number per line, a CSV with the numbers
//! in its last column, a JSON array of numbers, or a Prometheus `query_range` answer with
//! one series — turned into numbers, NaN where a value is missing. Every refusal says the
//! file, line and column.

use serde_json::Value;
use std::path::Path;

/// A file that holds no samples `shipdeck judge` can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplesError {
    #[error(
        "{path}:{line}:{col}: `{text}` is not a number; give one number per line, a CSV with the numbers in its last column, or a JSON array"
    )]
    NotANumber {
        path: String,
        line: usize,
        col: usize,
        text: String,
    },
    #[error("{path}:{line}:{col}: not valid JSON: {message}")]
    Json {
        path: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error(
        "{path}: {what}; give a JSON array of numbers (null for a missing one) or a Prometheus query_range answer"
    )]
    JsonShape { path: String, what: String },
    #[error(
        "{path}: the Prometheus answer holds {count} series; export one (narrow the query by its labels, or aggregate it)"
    )]
    SeriesCount { path: String, count: usize },
}

/// The samples in `text`, read from `path` (named in errors only).
pub fn parse(path: &Path, text: &str) -> Result<Vec<f64>, SamplesError> {
    let path = path.display().to_string();
    match text.trim_start().chars().next() {
        Some('[' | '{') => json(path, text),
        _ => lines(path, text),
    }
}

/// One value a line, in the last comma-separated cell. Blank lines and `#` comments are
/// skipped; an empty cell or `NaN` is a missing value; the first line may be a header.
fn lines(path: String, text: &str) -> Result<Vec<f64>, SamplesError> {
    let mut out = Vec::new();
    let mut header_allowed = true;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let start = line.rfind(',').map_or(0, |c| c + 1);
        let cell = line[start..].trim().trim_matches('"').trim();
        let value = if cell.is_empty() {
            Some(f64::NAN)
        } else {
            cell.parse::<f64>().ok()
        };
        match value {
            Some(v) => out.push(v),
            // A header names its columns; a mistyped number is not one.
            None if header_allowed && cell.chars().any(char::is_alphabetic) => {}
            None => {
                let lead = line[start..].len() - line[start..].trim_start().len();
                return Err(SamplesError::NotANumber {
                    path,
                    line: i + 1,
                    col: line[..start + lead].chars().count() + 1,
                    text: cell.to_string(),
                });
            }
        }
        header_allowed = false;
    }
    Ok(out)
}

fn json(path: String, text: &str) -> Result<Vec<f64>, SamplesError> {
    let value: Value = serde_json::from_str(text).map_err(|e| SamplesError::Json {
        path: path.clone(),
        line: e.line(),
        col: e.column(),
        message: e.to_string(),
    })?;
    let shape = |what: String| SamplesError::JsonShape {
        path: path.clone(),
        what,
    };
    if let Value::Array(items) = &value {
        return items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Null => Ok(f64::NAN),
                Value::Number(n) => n
                    .as_f64()
                    .ok_or_else(|| shape(format!("element {i} is out of range"))),
                other => Err(shape(format!("element {i} is {other}, not a number"))),
            })
            .collect();
    }
    // A Prometheus answer: {"data": {"resultType": "matrix", "result": [{"values": [[t, "v"], …]}]}}
    let Some(result) = value.pointer("/data/result").and_then(Value::as_array) else {
        return Err(shape("an object without data.result".into()));
    };
    let [series] = result.as_slice() else {
        return Err(SamplesError::SeriesCount {
            path,
            count: result.len(),
        });
    };
    let Some(values) = series.get("values").and_then(Value::as_array) else {
        return Err(shape(
            "a series without values (ask query_range, not query)".into(),
        ));
    };
    values
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            pair.get(1)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(|| shape(format!("values[{i}] is not [time, \"number\"]")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<f64>, SamplesError> {
        parse(Path::new("in.txt"), text)
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn one_number_a_line_with_comments_and_blanks() {
        let v = read("# p95 in ms\n1.5\n\n  2\nNaN\n-3e2\n").expect("numbers");
        assert!(same(&v, &[1.5, 2.0, f64::NAN, -300.0]), "{v:?}");
    }

    #[test]
    fn csv_takes_the_last_column_after_a_header() {
        let text = "time,value\n2026-03-15T14:00:00Z,310.5\n2026-03-15T14:00:15Z,\n2026-03-15T14:00:30Z,\"312\"\n";
        let v = read(text).expect("numbers");
        assert!(same(&v, &[310.5, f64::NAN, 312.0]), "{v:?}");
    }

    #[test]
    fn a_word_after_the_first_line_says_where() {
        let err = read("1\n2\n3,  abc\n").expect_err("not a number");
        // The first line too, when it is no header.
        assert!(matches!(
            read("1.2.3\n4\n"),
            Err(SamplesError::NotANumber {
                line: 1,
                col: 1,
                ..
            })
        ));
        assert_eq!(
            err,
            SamplesError::NotANumber {
                path: "in.txt".into(),
                line: 3,
                col: 5,
                text: "abc".into(),
            }
        );
        assert!(
            err.to_string()
                .starts_with("in.txt:3:5: `abc` is not a number")
        );
    }

    #[test]
    fn a_json_array_with_nulls() {
        let v = read("[1, 2.5, null, 4]").expect("numbers");
        assert!(same(&v, &[1.0, 2.5, f64::NAN, 4.0]), "{v:?}");
        let err = read("[1, \"2\"]").expect_err("a string");
        assert!(err.to_string().contains("element 1 is \"2\""), "{err}");
        let err = read("[1, 2,\n 3").expect_err("cut short");
        assert!(matches!(err, SamplesError::Json { line: 2, .. }), "{err:?}");
    }

    #[test]
    fn a_prometheus_range_answer_with_one_series() {
        let text = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"track":"canary"},"values":[[1710511200,"0.31"],[1710511215,"NaN"],[1710511230,"+Inf"]]}]}}"#;
        let v = read(text).expect("numbers");
        assert!(same(&v, &[0.31, f64::NAN, f64::INFINITY]), "{v:?}");
        let two = r#"{"data":{"result":[{"values":[]},{"values":[]}]}}"#;
        assert_eq!(
            read(two),
            Err(SamplesError::SeriesCount {
                path: "in.txt".into(),
                count: 2
            })
        );
    }
}
