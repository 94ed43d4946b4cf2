//! Measurements are data: each sample is one JSON line; summaries are computed from samples only.

use std::{collections::BTreeMap, io::Write, path::Path, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One measured value, as written to `samples.jsonl`: what was measured (method, profile,
/// metric), the value with its unit, and the versions it was measured on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub method: String,
    pub profile: String,
    pub metric: String,
    pub value: f64,
    pub unit: String,
    pub outcome: Outcome,
    pub versions: BTreeMap<String, String>,
}

/// Whether a sample is a measurement or the bound a wait ran out at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Measured,
    /// The bounded wait ran out: `value` is the bound, the real value is larger (or infinite).
    NotWithin,
}

impl Sample {
    pub fn millis(method: &str, profile: &str, metric: &str, elapsed: Duration) -> Sample {
        Sample::new(method, profile, metric, elapsed.as_secs_f64() * 1000.0, "ms")
    }

    pub fn new(method: &str, profile: &str, metric: &str, value: f64, unit: &str) -> Sample {
        Sample {
            method: method.into(),
            profile: profile.into(),
            metric: metric.into(),
            value,
            unit: unit.into(),
            outcome: Outcome::Measured,
            versions: BTreeMap::new(),
        }
    }

    /// A wait for `metric` that ran out after `bound`.
    pub fn not_within(method: &str, profile: &str, metric: &str, bound: Duration) -> Sample {
        Sample {
            outcome: Outcome::NotWithin,
            ..Sample::millis(method, profile, metric, bound)
        }
    }

    pub fn with_versions(mut self, versions: &BTreeMap<String, String>) -> Sample {
        self.versions = versions.clone();
        self
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
        let versions = BTreeMap::from([("openbao".to_string(), "2.7.2".to_string())]);
        let sample =
            Sample::millis("kubernetes_auth", "-", "login_latency", Duration::from_millis(12)).with_versions(&versions);
        let bound = Sample::not_within("eso", "defaults", "rotation_latency", Duration::from_secs(360));
        append(&path, &[sample.clone(), bound.clone()]).unwrap();
        let read: Vec<Sample> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(read, [sample, bound.clone()]);
        assert_eq!(bound.value, 360_000.0);
        let line = serde_json::to_string(&bound).unwrap();
        assert!(line.contains("\"outcome\":\"not_within\""), "{line}");
    }
}
