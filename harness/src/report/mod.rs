//! `harness report`: renders a run's samples — and nothing else — into Markdown, JSON and SVG
//! charts. Every figure is computed here from the samples; none is typed.

pub mod claims;
pub mod svg;
pub mod table;

use std::{collections::BTreeMap, path::Path};

use serde::Serialize;

use crate::{
    Error, Result,
    delivery::{Method, Profile, fault::Fault},
    measure::{Metric, Outcome, RunInfo, Sample, percentile},
};

/// The latency metrics charted, with their titles.
pub const CHARTED: [(Metric, &str); 2] = [
    (
        Metric::DeliveryLatency,
        "Delivery: pod created → value readable in the app container",
    ),
    (
        Metric::RotationLatency,
        "Rotation: Vault write → the app container sees the new value",
    ),
];

/// What the comparison section rests on, said once above its table.
const CLAIMS_INTRO: &str = "Each cell: the article's claim, then the verdict its row's rule (R0–R5, \
`docs/comparison-table.md`; thresholds in `fixtures/claims/comparison.toml`) computes from this run's samples. \
The CSI column is measured with the secrets-store-csi-driver and the harness's own Vault provider \
(vault-csi-provider 1.7.x-compatible, written by this project: HashiCorp's is not served here).\n\n";

/// Everything the report shows, computed from samples.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every version the samples were measured on (component → version).
    pub versions: BTreeMap<String, String>,
    /// The runs the samples come from: one, unless merged on request.
    pub runs: Vec<RunSummary>,
    pub methods: Vec<MethodFigures>,
    pub faults: Vec<FaultFigures>,
    /// The comparison table's claims, each with its verdict and evidence.
    pub claims: Vec<claims::Judged>,
}

/// One run the samples come from.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    #[serde(flatten)]
    pub run: RunInfo,
    /// When its first sample's measurement started (UTC), if recorded.
    pub started: Option<String>,
    pub samples: usize,
}

/// One method in one profile (and one run, when runs are merged).
#[derive(Debug, Serialize)]
pub struct MethodFigures {
    pub method: String,
    pub profile: String,
    /// The run's label, when the report merges several runs.
    pub run: Option<String>,
    pub delivery: Latency,
    pub rotation: Latency,
    pub added_containers_per_pod: Option<f64>,
    pub pod_overhead_cpu_millicores: Option<f64>,
    pub pod_overhead_memory_mib: Option<f64>,
    pub cluster_components: ClusterComponents,
    pub vault_requests_per_pod_minute: Option<f64>,
    /// Whether a Kubernetes Secret in the consumer's namespace held the delivered values.
    pub stored_as_kubernetes_secret: Option<bool>,
    /// What else ran while its deliveries and its rotations were measured.
    pub concurrent: Concurrent,
}

/// A method's per-cluster components.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ClusterComponents {
    NotMeasured,
    /// The method has none.
    NotApplicable,
    Measured {
        containers: f64,
        cpu_millicores: f64,
        memory_mib: f64,
    },
}

/// Labels of the activities that ran alongside a method's measurements (empty: nothing else).
#[derive(Debug, Default, Serialize)]
pub struct Concurrent {
    pub deliveries: Vec<String>,
    pub rotations: Vec<String>,
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
    pub fault: Fault,
    pub method: String,
    pub run: Option<String>,
    pub pod_running: Option<bool>,
    pub app_has_value: Option<bool>,
    pub restarts: Option<f64>,
    pub recovery: Latency,
}

/// The distinct runs among `samples`; more than one is an error unless `merge` is set, since
/// figures of different runs (commits, machines, loads) are not comparable unlabelled.
pub fn runs(samples: &[Sample], merge: bool) -> Result<Vec<RunInfo>> {
    let mut runs: Vec<RunInfo> = Vec::new();
    for sample in samples {
        if !runs.contains(&sample.run) {
            runs.push(sample.run.clone());
        }
    }
    if runs.len() > 1 && !merge {
        let ids: Vec<String> = runs.iter().map(RunInfo::label).collect();
        return Err(Error::State(format!(
            "the samples come from {} runs ({}); pass --merge-runs to render them together, each row labelled with its run",
            runs.len(),
            ids.join(", ")
        )));
    }
    Ok(runs)
}

/// Builds the report from samples (method runs and faults alike). With samples of several runs
/// (see [`runs`]) every row is labelled with its run.
pub fn build(samples: &[Sample]) -> Report {
    let mut versions = BTreeMap::new();
    for sample in samples {
        versions.extend(sample.versions.clone());
    }
    let runs = runs(samples, true).unwrap_or_default();
    let merged = runs.len() > 1;
    let label = |run: &RunInfo| merged.then(|| run.label());

    let mut keys: Vec<(&str, &str, &RunInfo)> = Vec::new();
    for s in samples
        .iter()
        .filter(|s| s.fault.is_none() && s.metric != Metric::LoginLatency)
    {
        let key = (s.method.as_str(), s.profile.as_str(), &s.run);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.sort_by_key(|(method, profile, run)| (Method::order(method), profile_order(profile), (*run).clone()));
    let methods: Vec<MethodFigures> = keys
        .into_iter()
        .map(|(method, profile, run)| {
            let of = |metric: Metric| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|s| {
                        s.method == method
                            && s.profile == profile
                            && s.run == *run
                            && s.metric == metric
                            && s.fault.is_none()
                    })
                    .collect()
            };
            let one = |metric: Metric| of(metric).first().map(|s| s.value);
            let component = |metric: Metric| of(metric).first().map(|s| (s.outcome, s.value));
            let cluster_components = match (
                component(Metric::ClusterComponents),
                component(Metric::ClusterComponentsCpu),
                component(Metric::ClusterComponentsMemory),
            ) {
                (Some((Outcome::NotApplicable, _)), _, _) => ClusterComponents::NotApplicable,
                (Some((_, containers)), Some((_, cpu)), Some((_, memory))) => ClusterComponents::Measured {
                    containers,
                    cpu_millicores: cpu,
                    memory_mib: memory,
                },
                _ => ClusterComponents::NotMeasured,
            };
            MethodFigures {
                delivery: latency(&of(Metric::DeliveryLatency)),
                rotation: latency(&of(Metric::RotationLatency)),
                added_containers_per_pod: one(Metric::AddedContainersPerPod),
                pod_overhead_cpu_millicores: one(Metric::PodOverheadCpu),
                pod_overhead_memory_mib: one(Metric::PodOverheadMemory),
                cluster_components,
                vault_requests_per_pod_minute: one(Metric::VaultRequestsPerPodMinute),
                stored_as_kubernetes_secret: one(Metric::StoredAsKubernetesSecret).map(|v| v > 0.0),
                concurrent: Concurrent {
                    deliveries: concurrent(&of(Metric::DeliveryLatency)),
                    rotations: concurrent(&of(Metric::RotationLatency)),
                },
                method: method.to_string(),
                profile: profile.to_string(),
                run: label(run),
            }
        })
        .collect();

    let mut faults = Vec::new();
    for fault in Fault::ALL {
        let mut keys: Vec<(&str, &RunInfo)> = Vec::new();
        for s in samples.iter().filter(|s| s.fault == Some(fault)) {
            if !keys.contains(&(s.method.as_str(), &s.run)) {
                keys.push((s.method.as_str(), &s.run));
            }
        }
        keys.sort_by_key(|(method, run)| (Method::order(method), (*run).clone()));
        for (method, run) in keys {
            let of = |metric: Metric| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|s| s.method == method && s.run == *run && s.fault == Some(fault) && s.metric == metric)
                    .collect()
            };
            let flag = |metric: Metric| of(metric).first().map(|s| s.value > 0.0);
            faults.push(FaultFigures {
                fault,
                method: method.to_string(),
                run: label(run),
                pod_running: flag(Metric::PodRunningDuringOutage),
                app_has_value: flag(Metric::AppHasValueDuringOutage),
                restarts: of(Metric::Restarts).first().map(|s| s.value),
                recovery: latency(&of(Metric::RecoveryLatency)),
            });
        }
    }
    let claims = claims::comparison()
        .map(|c| claims::judge(&c, samples))
        .unwrap_or_default();
    let runs = runs
        .into_iter()
        .map(|run| {
            let of_run: Vec<&Sample> = samples.iter().filter(|s| s.run == run).collect();
            let first = of_run
                .iter()
                .map(|s| s.started_at)
                .filter(|t| *t > 0.0)
                .reduce(f64::min);
            RunSummary {
                started: first.and_then(utc),
                samples: of_run.len(),
                run,
            }
        })
        .collect();
    Report {
        versions,
        runs,
        methods,
        faults,
        claims,
    }
}

/// The profiles in the report's order; unknown ones last.
pub(crate) fn profile_order(name: &str) -> usize {
    let all = Profile::ALL;
    all.iter().position(|p| p.name() == name).unwrap_or(all.len())
}

/// The distinct labels the samples saw running alongside them.
fn concurrent(samples: &[&Sample]) -> Vec<String> {
    let labels: std::collections::BTreeSet<&String> = samples.iter().flat_map(|s| &s.concurrent).collect();
    labels.into_iter().cloned().collect()
}

fn utc(unix: f64) -> Option<String> {
    let at = jiff::Timestamp::from_second(unix as i64).ok()?;
    Some(at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
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

/// The report as Markdown: versions and runs, the per-method table, what ran alongside, the
/// faults table, the claims, the charts.
pub fn markdown(report: &Report) -> String {
    let mut md = String::from("# Vault × Kubernetes secret delivery: measured\n\n");
    let versions: Vec<String> = report.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    md.push_str(&format!("Measured on: {}.\n\n", versions.join(", ")));
    md.push_str(&runs_text(report));
    md.push_str("\n## Delivery and rotation per method\n\n");
    md.push_str(&table::methods(&report.methods).markdown());
    md.push('\n');
    md.push_str(&concurrency_text(report));
    if !report.faults.is_empty() {
        md.push_str("\n## Vault outages\n\n");
        md.push_str(&table::faults(&report.faults).markdown());
    }
    if !report.claims.is_empty() {
        md.push_str("\n## The article's comparison table, cell by cell\n\n");
        md.push_str(CLAIMS_INTRO);
        md.push_str(&table::comparison(&report.claims).markdown());
        md.push_str("\nEvidence, cell by cell (cells numbered row by row; a Sidecar Pattern cell combines `agent_sidecar` and `injector`, R0):\n\n");
        md.push_str(&table::claims(&report.claims).markdown());
    }
    md.push_str("\n## Charts\n\n");
    for (metric, title) in CHARTED {
        md.push_str(&format!("![{title}]({metric}.svg)\n\n"));
    }
    md
}

/// One line per run: id, commit, host CPUs, start, sample count.
fn runs_text(report: &Report) -> String {
    report
        .runs
        .iter()
        .map(|r| {
            format!(
                "Run {}: harness commit {}, {} host CPUs, started {}, {} samples.\n",
                r.run.label(),
                if r.run.commit.is_empty() {
                    "unrecorded"
                } else {
                    &r.run.commit
                },
                r.run.host_cpus,
                r.started.as_deref().unwrap_or("(unrecorded)"),
                r.samples
            )
        })
        .collect()
}

/// What ran alongside each method's deliveries and rotations.
fn concurrency_text(report: &Report) -> String {
    let mut text = String::from("Measured alongside (other activities running while the samples were taken):\n\n");
    let list = |labels: &[String]| match labels.is_empty() {
        true => "nothing else".to_string(),
        false => labels.join("; "),
    };
    for m in &report.methods {
        let run = m.run.as_deref().map(|r| format!(" [run {r}]")).unwrap_or_default();
        text.push_str(&format!(
            "- {} ({}){run}: deliveries — {}; rotations — {}\n",
            m.method,
            m.profile,
            list(&m.concurrent.deliveries),
            list(&m.concurrent.rotations)
        ));
    }
    text
}

/// What `harness run` prints: the run, the per-method table and, when there are any, the
/// outages, as aligned text.
pub fn terminal(report: &Report) -> String {
    let mut text = runs_text(report);
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

/// Writes report.md, report.json and one SVG per charted metric into `out`. Samples of several
/// runs need `merge` (see [`runs`]).
pub fn write(samples: &[Sample], out: &Path, merge: bool) -> Result<Report> {
    runs(samples, merge)?;
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

/// Where a README holds the report.
const README_BEGIN: &str = "<!-- report:begin -->";
const README_END: &str = "<!-- report:end -->";

/// The report as a README section: without its title and charts, its headings two levels down.
pub fn readme_section(md: &str) -> String {
    let body = md.split_once("\n## Charts\n").map_or(md, |(body, _)| body);
    body.lines()
        .skip_while(|l| l.starts_with("# ") || l.is_empty())
        .map(|l| match l.starts_with("## ") {
            true => format!("##{l}"),
            false => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `readme` with the text between its report markers replaced by the report `md`.
pub fn splice_readme(readme: &str, md: &str) -> Result<String> {
    let missing = || {
        Error::State(format!(
            "the README has no {README_BEGIN} … {README_END} lines to put the report between"
        ))
    };
    let (before, rest) = readme.split_once(README_BEGIN).ok_or_else(missing)?;
    let (_, after) = rest.split_once(README_END).ok_or_else(missing)?;
    Ok(format!(
        "{before}{README_BEGIN}\n{}\n{README_END}{after}",
        readme_section(md)
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// The first method the comparison fixture maps to `column` (`Sidecar`, `CSI`, `External`).
    pub(crate) fn column_method(column: &str) -> String {
        claims::comparison()
            .unwrap()
            .column
            .into_iter()
            .find(|c| c.name.starts_with(column))
            .map(|c| c.methods[0].clone())
            .unwrap()
    }

    pub(crate) fn run(id: &str) -> RunInfo {
        RunInfo {
            id: id.into(),
            commit: "0123456789ab".into(),
            host_cpus: 2,
        }
    }

    /// Two methods (the Sidecar and ESO columns' first), tuned, one bounded defaults rotation
    /// and one outage; all of run `r1`.
    pub(crate) fn samples() -> Vec<Sample> {
        let versions = BTreeMap::from([
            ("openbao".to_string(), "2.7.2".to_string()),
            ("kubernetes".to_string(), "v1.34.4".to_string()),
        ]);
        let (sidecar, operator_method) = (column_method("Sidecar"), column_method("External"));
        let mut samples = Vec::new();
        for (method, base) in [(sidecar.as_str(), 4000u64), (operator_method.as_str(), 60000)] {
            for i in 0..20u64 {
                samples.push(
                    Sample::millis(
                        method,
                        "tuned",
                        Metric::RotationLatency,
                        Duration::from_millis(base + i * 250),
                    )
                    .during(1_764_600_000.0 + i as f64, &["other (tuned): rotations".to_string()]),
                );
            }
            for i in 0..10u64 {
                samples.push(Sample::millis(
                    method,
                    "tuned",
                    Metric::DeliveryLatency,
                    Duration::from_millis(1000 + i * 100),
                ));
            }
            samples.push(Sample::new(
                method,
                "tuned",
                Metric::VaultRequestsPerPodMinute,
                6.5,
                "r",
            ));
        }
        samples.push(Sample::new(
            &operator_method,
            "tuned",
            Metric::StoredAsKubernetesSecret,
            1.0,
            "bool",
        ));
        for metric in [
            Metric::ClusterComponents,
            Metric::ClusterComponentsCpu,
            Metric::ClusterComponentsMemory,
        ] {
            samples.push(Sample::not_applicable(&sidecar, "tuned", metric));
            samples.push(Sample::new(&operator_method, "tuned", metric, 2.0, "x"));
        }
        samples.push(Sample::not_within(
            &operator_method,
            "defaults",
            Metric::RotationLatency,
            Duration::from_secs(360),
        ));
        let sealed = |metric, value| Sample::new(&operator_method, "tuned", metric, value, "bool").under(Fault::Sealed);
        samples.push(sealed(Metric::PodRunningDuringOutage, 1.0));
        samples.push(sealed(Metric::AppHasValueDuringOutage, 1.0));
        samples.push(
            Sample::millis(
                &operator_method,
                "tuned",
                Metric::RecoveryLatency,
                Duration::from_secs(70),
            )
            .under(Fault::Sealed),
        );
        samples
            .into_iter()
            .map(|s| Sample {
                run: run("r1"),
                ..s.with_versions(&versions)
            })
            .collect()
    }

    #[test]
    fn figures_come_from_the_samples() {
        let report = build(&samples());
        let (sidecar, operator_method) = (column_method("Sidecar"), column_method("External"));
        let keys: Vec<_> = report
            .methods
            .iter()
            .map(|m| format!("{}/{}", m.method, m.profile))
            .collect();
        assert_eq!(
            keys,
            [
                format!("{sidecar}/tuned"),
                format!("{operator_method}/tuned"),
                format!("{operator_method}/defaults")
            ]
        );
        let first = &report.methods[0];
        assert_eq!(first.rotation.samples, 20);
        assert_eq!(first.rotation.p50_ms, Some(6250.0));
        assert_eq!(first.rotation.max_ms, Some(8750.0));
        assert_eq!(first.vault_requests_per_pod_minute, Some(6.5));
        assert_eq!(first.cluster_components, ClusterComponents::NotApplicable);
        assert_eq!(first.concurrent.rotations, ["other (tuned): rotations"]);
        assert!(first.concurrent.deliveries.is_empty());
        assert_eq!(
            report.methods[1].cluster_components,
            ClusterComponents::Measured {
                containers: 2.0,
                cpu_millicores: 2.0,
                memory_mib: 2.0
            }
        );
        let defaults = &report.methods[2];
        assert_eq!((defaults.rotation.samples, defaults.rotation.not_within), (0, 1));
        assert_eq!(defaults.cluster_components, ClusterComponents::NotMeasured);
        assert_eq!(report.faults.len(), 1);
        assert_eq!(report.faults[0].recovery.p50_ms, Some(70000.0));
        assert_eq!(report.versions["openbao"], "2.7.2");
        assert_eq!(report.runs.len(), 1);
        assert_eq!(report.runs[0].started.as_deref(), Some("2025-12-01 14:40:00 UTC"));
        assert!(report.methods.iter().all(|m| m.run.is_none()), "one run: no run labels");
    }

    #[test]
    fn samples_of_two_runs_are_refused_unless_merged_and_then_labelled() {
        let mut samples = samples();
        let other: Vec<Sample> = samples
            .iter()
            .take(30)
            .map(|s| Sample {
                run: run("r2"),
                ..s.clone()
            })
            .collect();
        samples.extend(other);
        let dir = tempfile::tempdir().unwrap();
        let err = write(&samples, dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("the samples come from 2 runs (r1, r2)"), "{err}");
        assert!(err.contains("--merge-runs"), "{err}");
        assert!(!dir.path().join("report.md").exists(), "nothing written when refused");

        let report = write(&samples, dir.path(), true).unwrap();
        let labels: Vec<_> = report.methods.iter().map(|m| m.run.clone().unwrap()).collect();
        assert_eq!(labels, ["r1", "r2", "r1", "r1"]);
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("Run r1: harness commit 0123456789ab, 2 host CPUs"), "{md}");
        assert!(md.contains("Run r2:"), "{md}");
        assert!(md.contains("| run | method | profile |"), "{md}");
    }

    #[test]
    fn markdown_snapshot() {
        let md = markdown(&build(&samples()));
        let (sidecar, operator_method) = (column_method("Sidecar"), column_method("External"));
        let expected = format!(
            "\
# Vault × Kubernetes secret delivery: measured

Measured on: kubernetes v1.34.4, openbao 2.7.2.

Run r1: harness commit 0123456789ab, 2 host CPUs, started 2025-12-01 14:40:00 UTC, 73 samples.

## Delivery and rotation per method

| method | profile | delivery p50 / p95 (n) | rotation p50 / p95 / max (n) | added containers per pod | per-pod CPU / memory | cluster components (containers, CPU, memory) | Vault requests per pod per minute | stored as a Kubernetes Secret |
|---|---|---|---|---|---|---|---|---|
| {sidecar} | tuned | 1.4 s / 1.9 s (10) | 6.2 s / 8.5 s / 8.8 s (20) | - | - / - | not applicable (none) | 6.50 | - |
| {operator_method} | tuned | 1.4 s / 1.9 s (10) | 62.2 s / 64.5 s / 64.8 s (20) | - | - / - | 2, 2.0m / 2.0 MiB | 6.50 | yes |
| {operator_method} | defaults | - / - (0) | - / - / - (0) + 1 not within 360.0 s | - | - / - | - | - | - |

Measured alongside (other activities running while the samples were taken):

- {sidecar} (tuned): deliveries — nothing else; rotations — other (tuned): rotations
- {operator_method} (tuned): deliveries — nothing else; rotations — other (tuned): rotations
- {operator_method} (defaults): deliveries — nothing else; rotations — nothing else

## Vault outages

| fault | method | pod running during the outage | app has a complete value | restarts | recovery after Vault is back |
|---|---|---|---|---|---|
| vault_sealed | {operator_method} | yes | yes | - | 70.0 s |

## Charts

![Delivery: pod created → value readable in the app container](delivery_latency.svg)

![Rotation: Vault write → the app container sees the new value](rotation_latency.svg)

"
        );
        let (head, comparison) = md
            .split_once("\n## The article's comparison table, cell by cell\n\n")
            .expect("the comparison section");
        let (expected_head, expected_tail) = expected.split_once("## Charts").unwrap();
        assert_eq!(format!("{head}\n"), expected_head);
        assert!(
            comparison.ends_with(&format!("## Charts{expected_tail}")),
            "{comparison}"
        );
        for line in [
            "| Feature | Sidecar Pattern | CSI Driver | External Secrets Operator |",
            "| Secret Rotation | Manual: not measured in this run | Automatic: not measured in this run | Automatic: partly |",
            "| Support | Community: not measurable here | Community: not measurable here | Community: not measurable here |",
            "| # | feature | column | claim | rule | verdict | evidence |",
        ] {
            assert!(comparison.contains(line), "{line}\n{comparison}");
        }
        let numbered = comparison
            .lines()
            .filter(|l| {
                l.strip_prefix("| ")
                    .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        assert_eq!(numbered, 60, "one evidence line per cell");
    }

    #[test]
    fn the_committed_report_and_the_readmes_are_the_rendering_of_the_committed_samples() {
        let root = crate::fixtures::repo_root();
        let samples = read_samples(&root.join("docs/report")).unwrap();
        let md = markdown(&build(&samples));
        let committed = std::fs::read_to_string(root.join("docs/report/report.md")).unwrap();
        assert!(
            committed == md,
            "docs/report/report.md is stale: run `harness report --in docs/report --out docs/report --readme README.md`"
        );
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        assert!(
            splice_readme(&readme, &md).unwrap() == readme,
            "README.md's report is stale: run `harness report --in docs/report --out docs/report --readme README.md`"
        );
    }

    #[test]
    fn a_readme_without_markers_is_refused() {
        let err = splice_readme("# x\n", "# r\n").unwrap_err().to_string();
        assert!(err.contains("no <!-- report:begin -->"), "{err}");
        let spliced = splice_readme(
            "a\n<!-- report:begin -->\nold\n<!-- report:end -->\nb\n",
            "# T\n\n## S\n\nx\n\n## Charts\n\n![c](c.svg)\n",
        )
        .unwrap();
        assert_eq!(
            spliced,
            "a\n<!-- report:begin -->\n#### S\n\nx\n<!-- report:end -->\nb\n"
        );
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
