//! Measurements are data: each sample is one JSON line; summaries are computed from samples only.

use std::{io::Write, path::Path, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One measured value, as written to `samples.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub scenario: String,
    pub metric: String,
    pub value: f64,
    pub unit: String,
}

impl Sample {
    pub fn millis(scenario: &str, metric: &str, elapsed: Duration) -> Sample {
        Sample {
            scenario: scenario.into(),
            metric: metric.into(),
            value: elapsed.as_secs_f64() * 1000.0,
            unit: "ms".into(),
        }
    }
}

/// Appends samples to a JSONL file (created with its directory when missing).
pub fn append(path: &Path, samples: &[Sample]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io(format!("cannot write {}", path.display())))?;
    for sample in samples {
        let line = serde_json::to_string(sample).map_err(|e| Error::State(format!("sample: {e}")))?;
        writeln!(file, "{line}").map_err(Error::io(format!("cannot write {}", path.display())))?;
    }
    Ok(())
}

/// The nearest-rank percentile (`p` in 0..=100) of `values`; `None` when there are none.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(10.0));
        assert_eq!(percentile(&values, 95.0), Some(19.0));
        assert_eq!(percentile(&values, 100.0), Some(20.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.0), Some(1.0));
    }

    #[test]
    fn samples_round_trip_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s/samples.jsonl");
        let sample = Sample::millis("login", "latency", Duration::from_millis(12));
        append(&path, &[sample.clone(), sample.clone()]).unwrap();
        let read: Vec<Sample> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(read, [sample.clone(), sample]);
    }
}
