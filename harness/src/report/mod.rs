//! `harness report`: renders a run's samples — and nothing else — into Markdown, JSON and SVG
//! charts. Every figure is computed here from the samples; none is typed.

pub mod claims;
pub mod svg;
pub mod table;

use std::{collections::BTreeMap, path::Path};

use serde::Serialize;

use crate::{
    Error, Result,
    measure::{Outcome, Sample, percentile},
};

/// The latency metrics charted, with their titles.
pub const CHARTED: [(&str, &str); 2] = [
    (
        "delivery_latency",
        "Delivery: pod created → value readable in the app container",
    ),
    (
        "rotation_latency",
        "Rotation: Vault write → the app container sees the new value",
    ),
];

/// Everything the report shows, computed from samples.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every version the samples were measured on (component → version).
    pub versions: BTreeMap<String, String>,
    pub methods: Vec<MethodFigures>,
    pub faults: Vec<FaultFigures>,
    /// The comparison table's claims, each with its verdict and evidence.
    pub claims: Vec<claims::Judged>,
}

/// One method in one profile.
#[derive(Debug, Serialize)]
pub struct MethodFigures {
    pub method: String,
    pub profile: String,
    pub delivery: Latency,
    pub rotation: Latency,
    pub added_containers_per_pod: Option<f64>,
    pub pod_overhead_cpu_millicores: Option<f64>,
    pub pod_overhead_memory_mib: Option<f64>,
    pub cluster_components: Option<f64>,
    pub cluster_components_cpu_millicores: Option<f64>,
    pub cluster_components_memory_mib: Option<f64>,
    pub vault_requests_per_pod_minute: Option<f64>,
    /// Whether the secret was also stored as a Kubernetes Secret (etcd) in the app cluster.
    pub secret_in_etcd: Option<bool>,
}

/// Percentiles of a latency metric in milliseconds, with the sample counts.
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub samples: usize,
    /// Waits that ran out (the method did not deliver within the bound).
    pub not_within: usize,
    pub bound_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// One method under one Vault outage.
#[derive(Debug, Serialize)]
pub struct FaultFigures {
    pub fault: String,
    pub method: String,
    pub pod_running: Option<bool>,
    pub app_has_value: Option<bool>,
    pub restarts: Option<f64>,
    pub recovery: Latency,
}

const FAULTS: [&str; 3] = [
    "vault_sealed",
    "vault_killed_during_rotation",
    "vault_down_at_pod_start",
];

/// Builds the report from samples (method runs and faults alike).
pub fn build(samples: &[Sample]) -> Report {
    let mut versions = BTreeMap::new();
    for sample in samples {
        versions.extend(sample.versions.clone());
    }
    let mut keys: Vec<(String, String)> = samples
        .iter()
        .filter(|s| s.method != "kubernetes_auth" && !is_fault(&s.metric))
        .map(|s| (s.method.clone(), s.profile.clone()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys.sort_by_key(|(method, profile)| (order(method, &METHOD_ORDER), order(profile, &PROFILE_ORDER)));
    let methods: Vec<MethodFigures> = keys
        .into_iter()
        .map(|(method, profile)| {
            let of = |metric: &str| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|s| s.method == method && s.profile == profile && s.metric == metric)
                    .collect()
            };
            let one = |metric: &str| of(metric).first().map(|s| s.value);
            MethodFigures {
                delivery: latency(&of("delivery_latency")),
                rotation: latency(&of("rotation_latency")),
                added_containers_per_pod: one("added_containers_per_pod"),
                pod_overhead_cpu_millicores: one("pod_overhead_cpu"),
                pod_overhead_memory_mib: one("pod_overhead_memory"),
                cluster_components: one("cluster_components"),
                cluster_components_cpu_millicores: one("cluster_components_cpu"),
                cluster_components_memory_mib: one("cluster_components_memory"),
                vault_requests_per_pod_minute: one("vault_requests_per_pod_minute"),
                secret_in_etcd: one("secret_in_etcd").map(|v| v > 0.0),
                method,
                profile,
            }
        })
        .collect();
    let mut faults = Vec::new();
    for fault in FAULTS {
        let mut fault_methods: Vec<&str> = samples
            .iter()
            .filter(|s| s.metric.starts_with(fault))
            .map(|s| s.method.as_str())
            .collect();
        fault_methods.dedup();
        let mut seen = std::collections::BTreeSet::new();
        fault_methods.retain(|m| seen.insert(*m));
        for method in fault_methods {
            let of = |suffix: &str| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|s| s.method == method && s.metric == format!("{fault}_{suffix}"))
                    .collect()
            };
            let flag = |suffix: &str| of(suffix).first().map(|s| s.value > 0.0);
            faults.push(FaultFigures {
                fault: fault.to_string(),
                method: method.to_string(),
                pod_running: flag("pod_running"),
                app_has_value: flag("app_has_value"),
                restarts: of("restarts").first().map(|s| s.value),
                recovery: latency(&of("recovery_latency")),
            });
        }
    }
    let claims = claims::comparison()
        .map(|c| claims::judge(&c, &methods))
        .unwrap_or_default();
    Report {
        versions,
        methods,
        faults,
        claims,
    }
}

const METHOD_ORDER: [&str; 4] = ["agent_sidecar", "injector", "csi", "eso"];
const PROFILE_ORDER: [&str; 2] = ["tuned", "defaults"];

/// Position of `name` in `order`; unknown names last.
fn order(name: &str, order: &[&str]) -> usize {
    order.iter().position(|o| *o == name).unwrap_or(order.len())
}

fn is_fault(metric: &str) -> bool {
    FAULTS.iter().any(|f| metric.starts_with(f))
}

fn latency(samples: &[&Sample]) -> Latency {
    let measured: Vec<f64> = samples
        .iter()
        .filter(|s| s.outcome == Outcome::Measured)
        .map(|s| s.value)
        .collect();
    let bounds: Vec<f64> = samples
        .iter()
        .filter(|s| s.outcome == Outcome::NotWithin)
        .map(|s| s.value)
        .collect();
    Latency {
        samples: measured.len(),
        not_within: bounds.len(),
        bound_ms: bounds.iter().copied().reduce(f64::max),
        p50_ms: percentile(&measured, 50.0),
        p95_ms: percentile(&measured, 95.0),
        max_ms: percentile(&measured, 100.0),
    }
}

/// The report as Markdown: versions, the per-method table, the faults table, the claims, the charts.
pub fn markdown(report: &Report) -> String {
    let mut md = String::from("# Vault × Kubernetes secret delivery: measured\n\n");
    let versions: Vec<String> = report.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    md.push_str(&format!("Measured on: {}.\n\n", versions.join(", ")));
    md.push_str("## Delivery and rotation per method\n\n");
    md.push_str(&table::methods(&report.methods).markdown());
    if !report.faults.is_empty() {
        md.push_str("\n## Vault outages\n\n");
        md.push_str(&table::faults(&report.faults).markdown());
    }
    if !report.claims.is_empty() {
        md.push_str("\n## The comparison table's claims\n\n");
        md.push_str(&table::claims(&report.claims).markdown());
    }
    md.push_str("\n## Charts\n\n");
    for (metric, title) in CHARTED {
        md.push_str(&format!("![{title}]({metric}.svg)\n\n"));
    }
    md
}

/// What `harness run` prints: the per-method table and, when there are any, the outages, as
/// aligned text.
pub fn terminal(report: &Report) -> String {
    let mut text = String::new();
    if !report.methods.is_empty() {
        text.push_str(&table::methods(&report.methods).aligned());
    }
    if !report.faults.is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&table::faults(&report.faults).aligned());
    }
    text
}

/// Reads every `*.jsonl` sample file in `dir`.
pub fn read_samples(dir: &Path) -> Result<Vec<Sample>> {
    let entries = std::fs::read_dir(dir).map_err(Error::io(format!("cannot read {}", dir.display())))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut samples = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(Error::io(format!("cannot read {}", file.display())))?;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let sample = serde_json::from_str(line)
                .map_err(|e| Error::State(format!("{}:{}: not a sample: {e}", file.display(), n + 1)))?;
            samples.push(sample);
        }
    }
    match samples.is_empty() {
        true => Err(Error::State(format!(
            "no samples in {} (expected the *.jsonl files `harness run --out` writes)",
            dir.display()
        ))),
        false => Ok(samples),
    }
}

/// Writes report.md, report.json and one SVG per charted metric into `out`.
pub fn write(samples: &[Sample], out: &Path) -> Result<Report> {
    std::fs::create_dir_all(out).map_err(Error::io(format!("cannot create {}", out.display())))?;
    let report = build(samples);
    let put = |name: &str, text: &str| {
        let file = out.join(name);
        std::fs::write(&file, text).map_err(Error::io(format!("cannot write {}", file.display())))
    };
    put("report.md", &markdown(&report))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::State(format!("report JSON: {e}")))?;
    put("report.json", &json)?;
    for (metric, title) in CHARTED {
        put(&format!("{metric}.svg"), &svg::strip_chart(title, metric, samples))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    pub(crate) fn samples() -> Vec<Sample> {
        let versions = BTreeMap::from([
            ("openbao".to_string(), "2.7.2".to_string()),
            ("kubernetes".to_string(), "v1.34.4".to_string()),
        ]);
        let mut samples = Vec::new();
        for (method, base) in [("agent_sidecar", 4000u64), ("eso", 60000)] {
            for i in 0..20u64 {
                samples.push(Sample::millis(
                    method,
                    "tuned",
                    "rotation_latency",
                    Duration::from_millis(base + i * 250),
                ));
            }
            for i in 0..10u64 {
                samples.push(Sample::millis(
                    method,
                    "tuned",
                    "delivery_latency",
                    Duration::from_millis(1000 + i * 100),
                ));
            }
            samples.push(Sample::new(method, "tuned", "vault_requests_per_pod_minute", 6.5, "r"));
            if method == "eso" {
                samples.push(Sample::new(method, "tuned", "secret_in_etcd", 1.0, "bool"));
            }
        }
        samples.push(Sample::not_within(
            "eso",
            "defaults",
            "rotation_latency",
            Duration::from_secs(360),
        ));
        samples.push(Sample::new("eso", "tuned", "vault_sealed_pod_running", 1.0, "bool"));
        samples.push(Sample::new("eso", "tuned", "vault_sealed_app_has_value", 1.0, "bool"));
        samples.push(Sample::millis(
            "eso",
            "tuned",
            "vault_sealed_recovery_latency",
            Duration::from_secs(70),
        ));
        samples.into_iter().map(|s| s.with_versions(&versions)).collect()
    }

    #[test]
    fn figures_come_from_the_samples() {
        let report = build(&samples());
        let keys: Vec<_> = report
            .methods
            .iter()
            .map(|m| format!("{}/{}", m.method, m.profile))
            .collect();
        assert_eq!(keys, ["agent_sidecar/tuned", "eso/tuned", "eso/defaults"]);
        let sidecar = &report.methods[0];
        assert_eq!(sidecar.rotation.samples, 20);
        assert_eq!(sidecar.rotation.p50_ms, Some(6250.0));
        assert_eq!(sidecar.rotation.max_ms, Some(8750.0));
        assert_eq!(sidecar.vault_requests_per_pod_minute, Some(6.5));
        let defaults = &report.methods[2];
        assert_eq!((defaults.rotation.samples, defaults.rotation.not_within), (0, 1));
        assert_eq!(report.faults.len(), 1);
        assert_eq!(report.faults[0].recovery.p50_ms, Some(70000.0));
        assert_eq!(report.versions["openbao"], "2.7.2");
    }

    #[test]
    fn markdown_snapshot() {
        let md = markdown(&build(&samples()));
        let expected = "\
# Vault × Kubernetes secret delivery: measured

Measured on: kubernetes v1.34.4, openbao 2.7.2.

## Delivery and rotation per method

| method | profile | delivery p50 / p95 (n) | rotation p50 / p95 / max (n) | added containers per pod | per-pod CPU / memory | cluster components (containers, CPU, memory) | Vault requests per pod per minute | secret in etcd |
|---|---|---|---|---|---|---|---|---|
| agent_sidecar | tuned | 1.4 s / 1.9 s (10) | 6.2 s / 8.5 s / 8.8 s (20) | - | - / - | -, - / - | 6.50 | - |
| eso | tuned | 1.4 s / 1.9 s (10) | 62.2 s / 64.5 s / 64.8 s (20) | - | - / - | -, - / - | 6.50 | yes |
| eso | defaults | - / - (0) | - / - / - (0) + 1 not within 360.0 s | - | - / - | -, - / - | - | - |

## Vault outages

| fault | method | pod running during the outage | app has a complete value | restarts | recovery after Vault is back |
|---|---|---|---|---|---|
| vault_sealed | eso | yes | yes | - | 70.0 s |

## The comparison table's claims

| row | column | claim | verdict | evidence |
|---|---|---|---|---|
| Secret Rotation | Sidecar | Manual | **contradicted** | agent_sidecar (tuned): 20 of 20 rotations reached the app container without a restart, p50 6.2 s |
| Secret Rotation | CSI | Automatic | not measured in this run | no rotation samples of csi in this run |
| Secret Rotation | ESO | Automatic | confirmed | eso (tuned): 20 of 20 rotations reached the app container without a restart, p50 62.2 s; eso (defaults): 0 of 1 rotations reached the app container without a restart; 1 not within 360 s |
| Performance | Sidecar | High | not measurable | \"High\" is not defined; the report gives delivery and rotation latency, overhead and Vault load instead |
| Performance | CSI | Medium | not measurable | \"Medium\" is not defined; the report gives delivery and rotation latency, overhead and Vault load instead |
| Performance | ESO | High | not measurable | \"High\" is not defined; the report gives delivery and rotation latency, overhead and Vault load instead |

## Charts

![Delivery: pod created → value readable in the app container](delivery_latency.svg)

![Rotation: Vault write → the app container sees the new value](rotation_latency.svg)

";
        assert_eq!(md, expected);
    }

    #[test]
    fn an_empty_or_foreign_directory_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_samples(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("no samples in"), "{err}");
        std::fs::write(dir.path().join("x.jsonl"), "{\"not\": 1}\n").unwrap();
        let err = read_samples(dir.path()).unwrap_err().to_string();
        assert!(err.contains("x.jsonl:1: not a sample"), "{err}");
    }
}
