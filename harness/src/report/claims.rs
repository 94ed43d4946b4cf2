//! The article's comparison table, cell by cell (`fixtures/claims/comparison.toml`): each of its
//! 60 cells judged by its row's rule from one run's samples, with the evidence the verdict rests
//! on. The rules and their thresholds are data in the fixture; nothing here is a measured figure.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    measure::{Metric, Outcome, Sample, percentile},
};

const COMPARISON: &str = include_str!("../../../fixtures/claims/comparison.toml");

/// The table as the fixture holds it: columns, rows, the graded rows' thresholds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub column: Vec<Column>,
    pub graded: Thresholds,
    pub row: Vec<Row>,
}

/// One of the article's columns and the methods behind it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    pub methods: Vec<String>,
}

/// R1's grading thresholds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub grade_ratios: [f64; 2],
    pub borderline: f64,
    pub max_missing: usize,
}

/// One row: the feature, its three cells (one per column) and the rule that decides them.
#[derive(Debug, Deserialize)]
pub struct Row {
    pub feature: String,
    pub cells: Vec<String>,
    /// A choice of the harness's fixtures the row's verdicts depend on, printed with them.
    #[serde(default)]
    pub caveat: Option<String>,
    /// The columns the caveat concerns (all when absent).
    #[serde(default)]
    pub caveat_columns: Option<Vec<String>>,
    #[serde(flatten)]
    pub rule: Rule,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// R4a: the credential each method read with, from the audit log.
    Authentication,
    /// R4b: what backs the app's secrets directory, and any copy of another kind.
    Injection,
    /// R4c: where each per-app setting lives.
    Configuration,
    /// R4d: whether a write reaches the running app without a restart, per profile.
    Rotation,
    /// R4e: dynamic (PKI) secrets kept valid.
    UseCase,
    /// R4f: delivered on the run's substrate.
    Ecosystem,
    /// R3: exposures S1–S5.
    Security,
    /// R1: five metrics, each graded by its ratio to the run's best.
    Graded {
        more_is: MoreIs,
        metrics: Vec<GradedMetric>,
    },
    /// R2: five pass/fail probes, graded against the run's best score.
    Probes { probes: Vec<String> },
    /// R5: no run can decide it; the stand-in facts, ungraded, are printed beside the reason.
    NotMeasurable {
        reason: String,
        #[serde(default)]
        stand_in: Option<StandIn>,
    },
}

/// Facts an R5 row prints instead of a verdict, per method.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StandIn {
    /// Documented defaults this run checked, each held, failed or not checked.
    DocumentedStatements,
    /// Licence and owner of the modules the images were built from.
    Licences,
    /// What a user writes per app: kinds and method-specific keys.
    Vocabulary,
}

impl Rule {
    fn id(&self) -> &'static str {
        match self {
            Rule::Authentication => "R4a",
            Rule::Injection => "R4b",
            Rule::Configuration => "R4c",
            Rule::Rotation => "R4d",
            Rule::UseCase => "R4e",
            Rule::Ecosystem => "R4f",
            Rule::Security => "R3",
            Rule::Graded { .. } => "R1",
            Rule::Probes { .. } => "R2",
            Rule::NotMeasurable { .. } => "R5",
        }
    }
}

/// Whether the row's claim words grade "more" as better (Performance) or worse (Cost).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MoreIs {
    Better,
    Worse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradedMetric {
    pub name: String,
    pub epsilon: Epsilon,
    pub unit: String,
}

/// R1's ε: a fixed amount in the metric's unit, or the measuring window's resolution.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum Epsilon {
    Fixed(f64),
    Window(WindowResolution),
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowResolution {
    Resolution,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Confirmed,
    Partly,
    Contradicted,
    /// Measurable, but this run has not measured what the rule needs.
    NotMeasured,
    /// No run can decide it.
    NotMeasurable,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Partly => "partly",
            Verdict::Contradicted => "contradicted",
            Verdict::NotMeasured => "not measured in this run",
            Verdict::NotMeasurable => "not measurable here",
        })
    }
}

/// One cell of the article's table, judged.
#[derive(Debug, Serialize)]
pub struct Judged {
    /// 1–60, row by row.
    pub number: usize,
    pub row: String,
    pub column: String,
    pub cell: String,
    pub rule: &'static str,
    pub verdict: Verdict,
    pub evidence: String,
    /// Each method's own verdict, for a column of several (R0); empty for R5 rows.
    pub methods: Vec<MethodVerdict>,
}

#[derive(Debug, Serialize)]
pub struct MethodVerdict {
    pub method: String,
    pub verdict: Verdict,
    pub evidence: String,
}

/// The fixture, checked: three cells per row, one per column, and every graded metric known.
pub fn comparison() -> Result<Comparison> {
    parse(COMPARISON)
}

fn parse(text: &str) -> Result<Comparison> {
    let table: Comparison =
        toml::from_str(text).map_err(|e| Error::State(format!("fixtures/claims/comparison.toml: {e}")))?;
    let invalid = |what: String| Error::State(format!("fixtures/claims/comparison.toml: {what}"));
    for row in &table.row {
        if row.cells.len() != table.column.len() {
            return Err(invalid(format!(
                "row {:?} has {} cells for {} columns",
                row.feature,
                row.cells.len(),
                table.column.len()
            )));
        }
        if let Rule::Graded { metrics, .. } = &row.rule {
            let empty = Measured::new(&[]);
            if let Some(unknown) = metrics.iter().find(|m| graded_value(&m.name, "", &empty).is_err()) {
                return Err(invalid(format!(
                    "row {:?}: unknown metric {:?}",
                    row.feature, unknown.name
                )));
            }
        }
    }
    Ok(table)
}

/// Judges every cell against `samples` (one run's, or several merged).
pub fn judge(table: &Comparison, samples: &[Sample]) -> Vec<Judged> {
    let measured = Measured::new(samples);
    let mut judged = Vec::new();
    for row in &table.row {
        for (column, cell) in table.column.iter().zip(&row.cells) {
            let (verdict, evidence, methods) = match &row.rule {
                Rule::NotMeasurable { reason, stand_in } => {
                    let facts: Vec<String> = stand_in
                        .iter()
                        .flat_map(|kind| column.methods.iter().map(|m| stand_in_facts(*kind, m, &measured)))
                        .collect();
                    let evidence = match facts.is_empty() {
                        true => reason.clone(),
                        false => format!("{reason}; stand-in, ungraded — {}", facts.join("; ")),
                    };
                    (Verdict::NotMeasurable, evidence, Vec::new())
                }
                rule => {
                    let methods: Vec<MethodVerdict> = column
                        .methods
                        .iter()
                        .map(|method| {
                            let (verdict, evidence) = judge_method(rule, cell, method, &measured, &table.graded);
                            MethodVerdict {
                                method: method.clone(),
                                verdict,
                                evidence,
                            }
                        })
                        .collect();
                    let verdict = combined(&methods.iter().map(|m| m.verdict).collect::<Vec<_>>());
                    let evidence = match methods.as_slice() {
                        [one] => one.evidence.clone(),
                        several => several
                            .iter()
                            .map(|m| format!("{}: {} — {}", m.method, m.verdict, m.evidence))
                            .collect::<Vec<_>>()
                            .join("; "),
                    };
                    (verdict, evidence, methods)
                }
            };
            let concerned = row.caveat_columns.as_ref().is_none_or(|c| c.contains(&column.name));
            let evidence = match &row.caveat {
                Some(caveat) if concerned => format!("{evidence} (fixture choice: {caveat})"),
                _ => evidence,
            };
            judged.push(Judged {
                number: judged.len() + 1,
                row: row.feature.clone(),
                column: column.name.clone(),
                cell: cell.clone(),
                rule: row.rule.id(),
                verdict,
                evidence,
                methods,
            });
        }
    }
    judged
}

/// R0: a column of several methods is confirmed (contradicted) when all of them are, partly
/// when they differ, and not measured when any is not.
pub fn combined(verdicts: &[Verdict]) -> Verdict {
    if verdicts.is_empty() || verdicts.contains(&Verdict::NotMeasured) {
        return Verdict::NotMeasured;
    }
    if verdicts.iter().all(|v| *v == verdicts[0]) {
        return verdicts[0];
    }
    Verdict::Partly
}

fn judge_method(rule: &Rule, cell: &str, method: &str, run: &Measured, graded: &Thresholds) -> (Verdict, String) {
    if !run.methods.contains(method) {
        return (Verdict::NotMeasured, format!("{method} was not run"));
    }
    match rule {
        Rule::Injection => injection(cell, method, run),
        Rule::Rotation => rotation(cell, method, run),
        Rule::Ecosystem => ecosystem(method, run),
        Rule::Graded { more_is, metrics } => graded_row(cell, *more_is, metrics, method, run, graded),
        Rule::Authentication => authentication(cell, method, run),
        Rule::Configuration => configuration(cell, method, run),
        Rule::UseCase => not_yet("the PKI dynamic-secret trial (dyn_gap_s, dyn_issues_per_pod, dyn_leases_left)"),
        Rule::Security => security(cell, method, run),
        Rule::Probes { probes } => not_yet(&format!("the probes {}", probes.join(", "))),
        Rule::NotMeasurable { reason, .. } => (Verdict::NotMeasurable, reason.clone()),
    }
}

fn not_yet(what: &str) -> (Verdict, String) {
    (Verdict::NotMeasured, format!("the harness does not measure {what} yet"))
}

/// The run's samples outside faults, by method.
struct Measured<'a> {
    samples: Vec<&'a Sample>,
    /// Methods with at least one delivery sample.
    methods: BTreeSet<String>,
}

impl<'a> Measured<'a> {
    fn new(samples: &'a [Sample]) -> Self {
        let samples: Vec<&Sample> = samples.iter().filter(|s| s.fault.is_none()).collect();
        let methods = samples
            .iter()
            .filter(|s| s.metric == Metric::DeliveryLatency)
            .map(|s| s.method.clone())
            .collect();
        Measured { samples, methods }
    }

    fn of(&self, method: &str, metric: Metric, profile: Option<&str>) -> Vec<&'a Sample> {
        self.samples
            .iter()
            .copied()
            .filter(|s| s.method == method && s.metric == metric && profile.is_none_or(|p| s.profile == p))
            .collect()
    }

    /// The first sample of `metric`, from the defaults profile when it has one.
    fn first(&self, method: &str, metric: Metric) -> Option<&'a Sample> {
        ["defaults", "tuned"]
            .iter()
            .find_map(|p| self.of(method, metric, Some(p)).first().copied())
    }
}

/// R4a, per profile: logins on a kubernetes auth mount, every secret read made with a token one
/// of them issued, and no root-token request from the app cluster.
fn authentication(cell: &str, method: &str, run: &Measured) -> (Verdict, String) {
    if cell != "Kubernetes" {
        return (Verdict::NotMeasured, format!("R4a has no reading for {cell:?}"));
    }
    let mut verdicts = Vec::new();
    let mut evidence = Vec::new();
    for profile in ["tuned", "defaults"] {
        let one = |metric| run.of(method, metric, Some(profile)).first().copied();
        let (Some(logins), Some(reads), Some(by_login), Some(root)) = (
            one(Metric::AuthLogins),
            one(Metric::AuthReads),
            one(Metric::AuthReadsWithLoginToken),
            one(Metric::RootRequestsFromApp),
        ) else {
            continue;
        };
        let mounts = logins.observed.as_deref().unwrap_or("");
        evidence.push(format!(
            "{profile}: {} logins at {}; {} of {} secret reads with a token those logins issued; {} root-token requests from the app cluster",
            logins.value,
            if mounts.is_empty() { "no mount" } else { mounts },
            by_login.value,
            reads.value,
            root.value
        ));
        verdicts.push(
            if root.value > 0.0 || reads.value == 0.0 || by_login.value < reads.value {
                Verdict::Contradicted
            } else if mounts.split(", ").any(|m| m.ends_with("(type not logged)")) {
                Verdict::NotMeasured
            } else if logins.value >= 1.0 && mounts.split(", ").all(|m| m.ends_with("(kubernetes)")) {
                Verdict::Confirmed
            } else {
                Verdict::Contradicted
            },
        );
    }
    if verdicts.is_empty() {
        return (Verdict::NotMeasured, "no auth_* samples from the audit log".into());
    }
    (combined(&verdicts), evidence.join("; "))
}

/// R4b: the class of what backs the app's secrets directory against the claim; a copy of
/// another class (a Kubernetes Secret beside a volume) makes it partly.
fn injection(cell: &str, method: &str, run: &Measured) -> (Verdict, String) {
    let claimed = match cell {
        "Shared Volume" => "shared_volume",
        "Volume" => "volume",
        "Kubernetes Secrets" => "kubernetes_secret",
        other => return (Verdict::NotMeasured, format!("R4b has no mount class for {other:?}")),
    };
    let Some(class) = run.first(method, Metric::SecretMount).and_then(|s| s.observed.clone()) else {
        return (Verdict::NotMeasured, "no secret_mount sample".into());
    };
    let fs = run
        .first(method, Metric::SecretMountTmpfs)
        .and_then(|s| s.observed.clone())
        .unwrap_or_else(|| "not measured".into());
    let in_secret = run
        .first(method, Metric::StoredAsKubernetesSecret)
        .map(|s| s.value > 0.0);
    let other_copy = class != "kubernetes_secret" && in_secret == Some(true);
    let evidence = format!(
        "the app container's /vault/secrets is a {class} (filesystem {fs}); a Kubernetes Secret holds the value: {}",
        match in_secret {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not measured",
        }
    );
    let verdict = match (class == claimed, other_copy) {
        (true, false) => Verdict::Confirmed,
        (true, true) => Verdict::Partly,
        (false, _) => Verdict::Contradicted,
    };
    (verdict, evidence)
}

/// Rotations of one profile: (reached the app, waits that ran out, text).
fn rotations(method: &str, profile: &str, run: &Measured) -> Option<(usize, usize, String)> {
    let samples = run.of(method, Metric::RotationLatency, Some(profile));
    if samples.is_empty() {
        return None;
    }
    let reached: Vec<f64> = samples
        .iter()
        .filter(|s| s.outcome == Outcome::Measured)
        .map(|s| s.value)
        .collect();
    let ran_out: Vec<f64> = samples
        .iter()
        .filter(|s| s.outcome == Outcome::NotWithin)
        .map(|s| s.value)
        .collect();
    let mut text = format!(
        "{profile}: {} of {} rotations reached the app container without a restart",
        reached.len(),
        samples.len()
    );
    if let Some(p50) = percentile(&reached, 50.0) {
        text.push_str(&format!(", p50 {:.1} s", p50 / 1000.0));
    }
    if let Some(bound) = ran_out.iter().copied().reduce(f64::max) {
        text.push_str(&format!("; {} not within {:.0} s", ran_out.len(), bound / 1000.0));
    }
    Some((reached.len(), ran_out.len(), text))
}

/// The facts `kind` stands in with for `method`.
fn stand_in_facts(kind: StandIn, method: &str, run: &Measured) -> String {
    let facts = match kind {
        StandIn::DocumentedStatements => documented_statements(method, run),
        StandIn::Licences => licences(method, run),
        StandIn::Vocabulary => vocabulary(method, run),
    };
    format!("{method}: {facts}")
}

/// The documented defaults (F3, F5, F6, F9 of the comparison note) a run checks for `method`.
fn documented_statements(method: &str, run: &Measured) -> String {
    let period = run.first(method, Metric::DefaultRefreshPeriod);
    let period_is = |statement: &str, expected: f64| match period {
        Some(p) if p.value == expected => {
            format!("{statement}: held (read live: {})", p.observed.as_deref().unwrap_or(""))
        }
        Some(p) => format!(
            "{statement}: failed (read live: {} s, {})",
            p.value,
            p.observed.as_deref().unwrap_or("")
        ),
        None => format!("{statement}: not checked in this run"),
    };
    let mut statements = Vec::new();
    if matches!(method, "agent_sidecar" | "injector") {
        let statement = "the agent re-renders static secrets every 5 min by default (F5)";
        let defaults = run.of(method, Metric::RotationLatency, Some("defaults"));
        let slowest = defaults.iter().map(|s| s.value / 1000.0).reduce(f64::max);
        statements.push(match slowest {
            None => format!("{statement}: not checked in this run (no defaults profile)"),
            Some(max) if max <= 310.0 && defaults.iter().all(|s| s.outcome == Outcome::Measured) => format!(
                "{statement}: held ({} defaults rotations, all within 5 min + 10 s, the slowest {max:.0} s)",
                defaults.len()
            ),
            Some(max) => format!("{statement}: failed (a defaults rotation took {max:.0} s or ran out)"),
        });
    }
    match method {
        "injector" => {
            let statement = "the injected agent requests 250m CPU and 64Mi memory (F3)";
            let cpu = run.first(method, Metric::RequestedCpuPerPod).map(|s| s.value);
            let memory = run.first(method, Metric::RequestedMemoryPerPod).map(|s| s.value);
            statements.push(match (cpu, memory) {
                (Some(250.0), Some(64.0)) => format!("{statement}: held (read from the admitted pod)"),
                (Some(cpu), Some(memory)) => {
                    format!("{statement}: failed (the admitted pod: {cpu} millicores, {memory} MiB)")
                }
                _ => format!("{statement}: not checked in this run"),
            });
        }
        "csi" => statements.push(period_is("rotation is off by default (F6)", 0.0)),
        "eso" => statements.push(period_is("refreshInterval defaults to 1h (F9)", 3600.0)),
        _ => {}
    }
    match statements.is_empty() {
        true => "no documented statement is checked for it".into(),
        false => statements.join(", "),
    }
}

fn licences(method: &str, run: &Measured) -> String {
    let lines: Vec<String> = run
        .of(method, Metric::SourceLicence, None)
        .iter()
        .filter_map(|s| s.observed.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    match lines.is_empty() {
        true => "no module of it built from source in this run".into(),
        false => lines.join(", "),
    }
}

fn vocabulary(method: &str, run: &Measured) -> String {
    let keys = run.first(method, Metric::UserKeysPerApp);
    let objects = run.first(method, Metric::UserObjectsPerApp);
    match (keys, objects) {
        (Some(keys), Some(objects)) => format!(
            "{:.0} method-specific keys per app in {}",
            keys.value,
            objects.observed.as_deref().unwrap_or("objects not named in this run")
        ),
        _ => "not counted in this run".into(),
    }
}

/// R4c: every per-app setting the user writes sits in the claimed channel (confirmed), some do
/// (partly), none do (contradicted). Settings not written per app are listed, not judged.
fn configuration(cell: &str, method: &str, run: &Measured) -> (Verdict, String) {
    let claimed = match cell {
        "Pod Annotations" => "pod annotation",
        "Volume" => "pod volume spec",
        "Custom Resource" => "custom resource",
        other => return (Verdict::NotMeasured, format!("R4c has no channel for {other:?}")),
    };
    let samples = run.of(method, Metric::ConfigChannel, None);
    let mut per_app = Vec::new();
    let mut elsewhere = Vec::new();
    let mut seen = BTreeSet::new();
    for sample in &samples {
        let Some(observed) = sample.observed.as_deref() else {
            continue;
        };
        let Some((setting, channels)) = crate::delivery::channels::Placed::channels_of(observed) else {
            continue;
        };
        if !seen.insert(setting) {
            continue;
        }
        match sample.value > 0.0 {
            true => per_app.push((setting, channels.contains(&claimed), channels.join(" + "))),
            false => elsewhere.push(setting),
        }
    }
    if per_app.is_empty() {
        return (Verdict::NotMeasured, "no config_channel samples".into());
    }
    let inside = per_app.iter().filter(|(_, inside, _)| *inside).count();
    let mut evidence = format!(
        "{inside} of {} per-app settings in a {claimed}: {}",
        per_app.len(),
        per_app
            .iter()
            .map(|(setting, _, channels)| format!("{setting} → {channels}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !elsewhere.is_empty() {
        evidence.push_str(&format!("; not written per app: {}", elsewhere.join(", ")));
    }
    if let Some(format) = run.first(method, Metric::DefaultFormatReadsBack) {
        evidence.push_str(&format!(
            "; the configured values needed a template setting: {}",
            format.observed.as_deref().unwrap_or("")
        ));
    }
    let verdict = match inside {
        0 => Verdict::Contradicted,
        n if n == per_app.len() => Verdict::Confirmed,
        _ => Verdict::Partly,
    };
    (verdict, evidence)
}

/// R4d. "Manual": contradicted by any rotation without restart. "Automatic": confirmed when the
/// upstream defaults rotate (observed, or a finite default period read live plus a tuned
/// rotation), partly when only the tuned options do (the defaults ran out, or the default read
/// live is off).
fn rotation(cell: &str, method: &str, run: &Measured) -> (Verdict, String) {
    let tuned = rotations(method, "tuned", run);
    let defaults = rotations(method, "defaults", run);
    let mut evidence: Vec<String> = [&tuned, &defaults]
        .into_iter()
        .flatten()
        .map(|(_, _, text)| text.clone())
        .collect();
    if evidence.is_empty() {
        return (Verdict::NotMeasured, "no rotation samples".into());
    }
    let rotated = |r: &Option<(usize, usize, String)>| r.as_ref().is_some_and(|(n, _, _)| *n > 0);
    let period = run.first(method, Metric::DefaultRefreshPeriod);
    if let Some(p) = period {
        let value = match p.value {
            0.0 => "off".to_string(),
            secs => format!("{secs:.0} s"),
        };
        evidence.push(format!(
            "default period read live: {value} ({})",
            p.observed.as_deref().unwrap_or("")
        ));
    }
    let off_by_default = period.is_some_and(|p| p.value == 0.0);
    for variant in run.of(method, Metric::EnvVarUpdatedInPlace, None) {
        evidence.push(format!(
            "env-var variant ({}, next to F13): {}",
            variant.profile,
            variant.observed.as_deref().unwrap_or("")
        ));
    }
    let verdict = match cell {
        "Manual" if rotated(&tuned) || rotated(&defaults) => Verdict::Contradicted,
        "Manual" => Verdict::Confirmed,
        "Automatic" if rotated(&defaults) => Verdict::Confirmed,
        "Automatic" if !rotated(&tuned) => Verdict::Contradicted,
        "Automatic" if period.is_some_and(|p| p.value.is_finite() && p.value > 0.0) => Verdict::Confirmed,
        "Automatic" if defaults.is_some() || off_by_default => Verdict::Partly,
        "Automatic" => {
            evidence.push("the defaults profile did not run and no default period was read live".into());
            Verdict::NotMeasured
        }
        other => return (Verdict::NotMeasured, format!("R4d has no reading for {other:?}")),
    };
    (verdict, evidence.join("; "))
}

/// R4f: the method delivered on the run's substrate.
fn ecosystem(method: &str, run: &Measured) -> (Verdict, String) {
    let deliveries = run.of(method, Metric::DeliveryLatency, None);
    let delivered = deliveries.iter().filter(|s| s.outcome == Outcome::Measured).count();
    let versions = deliveries.first().map(|s| &s.versions);
    let kubernetes = versions.and_then(|v| v.get("kubernetes")).map_or("", String::as_str);
    let substrate = match versions.and_then(|v| v.get("kind")) {
        Some(kind) => format!("kind {kind} clusters (Kubernetes {kubernetes})"),
        None => format!("an existing cluster (Kubernetes {kubernetes})"),
    };
    let evidence = format!(
        "{delivered} of {} pods got their secret on {substrate}",
        deliveries.len()
    );
    match delivered {
        0 => (Verdict::NotMeasured, evidence),
        _ => (Verdict::Confirmed, evidence),
    }
}

/// R3's exposures: how evidence names each, the sample it is read from, and whether a sample
/// shows it (S2's sample is 1 for tmpfs: exposed at 0).
const EXPOSURES: [(&str, Metric); 5] = [
    ("S1 etcd plaintext", Metric::SecretInEtcdPlaintext),
    ("S2 copy on node disk", Metric::SecretMountTmpfs),
    ("S3 privileged or hostPath", Metric::PrivilegedOrHostPath),
    ("S4 cluster-wide powers", Metric::ClusterWidePowers),
    ("S5 readable with get secrets", Metric::ReadableWithGetSecrets),
];

fn exposed(sample: &Sample) -> bool {
    match sample.metric {
        Metric::SecretMountTmpfs => sample.value == 0.0,
        _ => sample.value > 0.0,
    }
}

/// One method's reading of each exposure, in [`EXPOSURES`]' order; `None` where the run did not
/// measure it.
fn exposure_samples<'a>(method: &str, run: &Measured<'a>) -> [Option<&'a Sample>; 5] {
    EXPOSURES.map(|(_, metric)| run.first(method, metric))
}

/// E: the exposures a method shows, when the run measured all five.
fn exposure_count(method: &str, run: &Measured) -> Option<usize> {
    let samples = exposure_samples(method, run);
    samples
        .iter()
        .all(Option::is_some)
        .then(|| samples.iter().flatten().filter(|s| exposed(s)).count())
}

/// The fewest exposures of the run's methods that have all five measured, and those methods.
fn fewest_exposures<'r>(run: &'r Measured) -> Option<(usize, Vec<&'r str>)> {
    let counts: Vec<(&str, usize)> = run
        .methods
        .iter()
        .filter_map(|m| exposure_count(m, run).map(|e| (m.as_str(), e)))
        .collect();
    let fewest = counts.iter().map(|(_, e)| *e).min()?;
    Some((
        fewest,
        counts.iter().filter(|(_, e)| *e == fewest).map(|(m, _)| *m).collect(),
    ))
}

/// "S1 etcd plaintext: yes (what the sample observed)".
fn exposure_line(name: &str, sample: &Sample) -> String {
    let answer = if exposed(sample) { "yes" } else { "no" };
    match sample.observed.as_deref() {
        Some(observed) if !observed.is_empty() => format!("{name}: {answer} ({observed})"),
        _ => format!("{name}: {answer}"),
    }
}

/// R3: E exposures against the fewest of the run's methods, a root-token request from the app
/// cluster (any profile) making it grade 2; only "High" (grade 0) has a reading.
fn security(cell: &str, method: &str, run: &Measured) -> (Verdict, String) {
    const HIGH: u8 = 0;
    if cell != "High" {
        return (Verdict::NotMeasured, format!("R3 has no reading for {cell:?}"));
    }
    let samples = exposure_samples(method, run);
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for ((name, metric), sample) in EXPOSURES.iter().zip(samples) {
        match sample {
            Some(sample) => lines.push(exposure_line(name, sample)),
            None => missing.push(format!("{name} ({metric})")),
        }
    }
    let (Some(exposures), Some((fewest, fewest_methods))) = (exposure_count(method, run), fewest_exposures(run)) else {
        lines.push(format!("not measured: {}", missing.join(", ")));
        return (Verdict::NotMeasured, lines.join("; "));
    };
    let root_samples = run.of(method, Metric::RootRequestsFromApp, None);
    let root = root_samples.iter().any(|s| s.value > 0.0);
    let grade = security_grade(exposures, fewest, root);
    lines.push(format!(
        "E = {exposures}; fewest {fewest} ({})",
        fewest_methods.join(", ")
    ));
    lines.push(match (root_samples.is_empty(), root) {
        (true, _) => "root-token requests from the app cluster: not measured".into(),
        (false, true) => "a root token was used from the app cluster: grade 2".into(),
        (false, false) => "no root-token request from the app cluster".into(),
    });
    lines.push(format!("grade {grade}, claimed High = grade {HIGH}"));
    (verdict_from_distance(grade.abs_diff(HIGH)), lines.join("; "))
}

/// R3's grade: exposures against the run's fewest; a root token in the app cluster is grade 2.
pub fn security_grade(exposures: usize, fewest: usize, root_token: bool) -> u8 {
    match exposures.saturating_sub(fewest) {
        _ if root_token => 2,
        0 | 1 => 0,
        2 => 1,
        _ => 2,
    }
}

/// R2's grade: probes passed against the run's best score.
pub fn probe_grade(passed: usize, best: usize) -> u8 {
    match best.saturating_sub(passed) {
        0 | 1 => 0,
        2 => 1,
        _ => 2,
    }
}

/// R2 and R3: the verdict from the distance between measured and claimed grade.
pub fn verdict_from_distance(distance: u8) -> Verdict {
    match distance {
        0 => Verdict::Confirmed,
        1 => Verdict::Partly,
        _ => Verdict::Contradicted,
    }
}

/// The grade a claim word stands for: 0 best, 2 worst.
fn claimed_grade(cell: &str, more_is: MoreIs) -> Option<u8> {
    match (cell, more_is) {
        ("High", MoreIs::Better) | ("Low", MoreIs::Worse) => Some(0),
        ("Medium", _) => Some(1),
        ("Low", MoreIs::Better) | ("High", MoreIs::Worse) => Some(2),
        _ => None,
    }
}

/// One graded metric of one method: its value (lower is better), whether it is a lower bound
/// (a wait ran out), and the resolution of its measuring window where that is its ε.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Figure {
    value: f64,
    lower_bound: bool,
    resolution: Option<f64>,
}

impl Figure {
    fn of(value: f64) -> Figure {
        Figure {
            value,
            lower_bound: false,
            resolution: None,
        }
    }
}

/// A latency percentile in seconds; waits that ran out enter as their bound.
fn latency_percentile(samples: &[&Sample], p: f64) -> Option<Figure> {
    let values: Vec<f64> = samples.iter().map(|s| s.value / 1000.0).collect();
    let value = percentile(&values, p)?;
    let lower_bound = samples
        .iter()
        .any(|s| s.outcome == Outcome::NotWithin && s.value / 1000.0 <= value);
    Some(Figure {
        value,
        lower_bound,
        resolution: None,
    })
}

/// Pods the Cost row prices: per-pod figures count ten times, per-cluster components once.
const COST_PODS: f64 = 10.0;

/// The value of graded metric `name` for `method`, or `Ok(None)` when the run did not measure
/// it; `Err` for a name the harness does not know.
fn graded_value(name: &str, method: &str, run: &Measured) -> std::result::Result<Option<Figure>, ()> {
    let one = |metric| run.first(method, metric);
    let value = |metric| {
        one(metric).map(|s| {
            if s.outcome == Outcome::NotApplicable {
                0.0
            } else {
                s.value
            }
        })
    };
    let count = |metric| value(metric).map(Figure::of);
    let cost = |per_pod, per_cluster| Some(Figure::of(value(per_pod)? * COST_PODS + value(per_cluster)?));
    Ok(match name {
        "delivery_p50" => latency_percentile(&run.of(method, Metric::DeliveryLatency, None), 50.0),
        "delivery_p95" => latency_percentile(&run.of(method, Metric::DeliveryLatency, None), 95.0),
        "rotation_p50_tuned" => latency_percentile(&run.of(method, Metric::RotationLatency, Some("tuned")), 50.0),
        "rotation_p50_defaults" => latency_percentile(&run.of(method, Metric::RotationLatency, Some("defaults")), 50.0),
        "requested_cpu_10_pods" => cost(Metric::RequestedCpuPerPod, Metric::ComponentsRequestedCpu),
        "requested_memory_10_pods" => cost(Metric::RequestedMemoryPerPod, Metric::ComponentsRequestedMemory),
        "used_cpu_10_pods" => cost(Metric::PodOverheadCpu, Metric::ClusterComponentsCpu),
        "used_memory_10_pods" => cost(Metric::PodOverheadMemory, Metric::ClusterComponentsMemory),
        "vault_requests_per_pod_minute_defaults" => {
            let of = |metric| run.of(method, metric, Some("defaults")).first().map(|s| s.value);
            match (of(Metric::VaultRequestsPerPodMinute), of(Metric::VaultRequestsWindow)) {
                (Some(rate), Some(window)) if window > 0.0 => Some(Figure {
                    resolution: Some(1.0 / window),
                    ..Figure::of(rate)
                }),
                _ => None,
            }
        }
        "app_start_delay_added_p50" => {
            let p50 = |metric| latency_percentile(&run.of(method, metric, None), 50.0);
            match (p50(Metric::AppStart), p50(Metric::PlainAppStart)) {
                // Under the baseline counts as no delay: both are whole seconds.
                (Some(app), Some(plain)) => Some(Figure::of((app.value - plain.value).max(0.0))),
                _ => None,
            }
        }
        "user_lines_per_app" => count(Metric::UserLinesPerApp),
        "user_objects_per_app" => count(Metric::UserObjectsPerApp),
        "user_keys_per_app" => count(Metric::UserKeysPerApp),
        "cluster_rbac_pairs" => count(Metric::ClusterRbacPairs),
        "cluster_objects" => count(Metric::ClusterObjects),
        // Named by the fixture, measured by the harness once their trials exist.
        "scale_vault_rpm_slope"
        | "scale_memory_slope"
        | "scale_requested_cpu_per_replica"
        | "scale_delivery_p95_ratio"
        | "scale_out_while_vault_down"
        | "upgrade_objects_edited"
        | "upgrade_pods_recreated"
        | "component_down_new_consumers_lost"
        | "images_to_track"
        | "served_api_versions" => None,
        _ => return Err(()),
    })
}

/// R1's ratio of `x` to the run's best `min`, with ε.
pub fn ratio(x: f64, min: f64, epsilon: f64) -> f64 {
    match min + epsilon {
        d if d > 0.0 => (x + epsilon) / d,
        _ if x > 0.0 => f64::INFINITY,
        _ => 1.0,
    }
}

/// R1's grade of a ratio, and whether it sits within `borderline` of a threshold.
pub fn ratio_grade(r: f64, t: &Thresholds) -> (u8, bool) {
    let [low, high] = t.grade_ratios;
    let near = |edge: f64| (r - edge).abs() <= edge * t.borderline;
    let grade = match r {
        r if r <= low => 0,
        r if r <= high => 1,
        _ => 2,
    };
    (grade, near(low) || near(high))
}

/// R1's verdict from the distances |measured grade − claimed grade| of the measured metrics.
pub fn graded_verdict(distances: &[u8]) -> Verdict {
    let mut d = distances.to_vec();
    d.sort_unstable();
    let n = d.len();
    if n == 0 {
        return Verdict::NotMeasured;
    }
    let median = match n % 2 {
        1 => f64::from(d[n / 2]),
        _ => f64::from(d[n / 2 - 1] + d[n / 2]) / 2.0,
    };
    if median == 0.0 && d[n - 1] <= 1 {
        Verdict::Confirmed
    } else if median == 2.0 {
        Verdict::Contradicted
    } else {
        Verdict::Partly
    }
}

fn graded_row(
    cell: &str,
    more_is: MoreIs,
    metrics: &[GradedMetric],
    method: &str,
    run: &Measured,
    t: &Thresholds,
) -> (Verdict, String) {
    let Some(claimed) = claimed_grade(cell, more_is) else {
        return (Verdict::NotMeasured, format!("R1 has no grade for {cell:?}"));
    };
    let mut distances = Vec::new();
    let mut lines = vec![format!("claimed {cell} = grade {claimed}")];
    let mut missing = Vec::new();
    for metric in metrics {
        let figure = |m: &str| graded_value(&metric.name, m, run).ok().flatten();
        let Some(x) = figure(method) else {
            missing.push(metric.name.as_str());
            continue;
        };
        let Some((best_method, best)) = run
            .methods
            .iter()
            .filter_map(|m| figure(m).map(|f| (m, f)))
            .min_by(|a, b| a.1.value.total_cmp(&b.1.value))
        else {
            continue;
        };
        let epsilon = match metric.epsilon {
            Epsilon::Fixed(e) => e,
            Epsilon::Window(_) => x.resolution.unwrap_or(0.0).max(best.resolution.unwrap_or(0.0)),
        };
        let r = ratio(x.value, best.value, epsilon);
        let (grade, borderline) = ratio_grade(r, t);
        distances.push(grade.abs_diff(claimed));
        lines.push(format!(
            "{} {}{:.2} {} (r {:.2}{}, grade {grade}; best {best_method} {:.2})",
            metric.name,
            if x.lower_bound { "≥ " } else { "" },
            x.value,
            metric.unit,
            r,
            if borderline { ", borderline" } else { "" },
            best.value,
        ));
    }
    if !missing.is_empty() {
        lines.push(format!("not measured: {}", missing.join(", ")));
    }
    let verdict = match missing.len() > t.max_missing {
        true => Verdict::NotMeasured,
        false => graded_verdict(&distances),
    };
    (verdict, lines.join("; "))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ARTICLE_TABLE: &str = include_str!("../../../fixtures/claims/article-table.md");

    /// The rows of a Markdown table: its cells, trimmed, header and separator skipped.
    fn markdown_rows(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("|--"))
            .skip(1)
            .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect())
            .collect()
    }

    /// The table of the article's section "Compassion between Sidecar, CSI and ESO".
    fn article_section(article: &str) -> String {
        let start = article
            .find("### Compassion between Sidecar, CSI and ESO")
            .expect("the article's comparison section");
        let section = &article[start..];
        let table_start = section.find("| Feature").expect("its table");
        section[table_start..]
            .lines()
            .take_while(|l| l.starts_with('|'))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_fixture_quotes_all_60_cells_of_the_articles_table_verbatim() {
        let table = comparison().unwrap();
        let extract = markdown_rows(ARTICLE_TABLE);
        let header: Vec<&str> = ARTICLE_TABLE
            .lines()
            .find(|l| l.starts_with("| Feature"))
            .unwrap()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .skip(1)
            .collect();
        let columns: Vec<&str> = table.column.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, header);
        let fixture: Vec<Vec<String>> = table
            .row
            .iter()
            .map(|r| std::iter::once(r.feature.clone()).chain(r.cells.clone()).collect())
            .collect();
        assert_eq!(fixture, extract);
        assert_eq!(fixture.len() * columns.len(), 60);

        // Where the article itself is at hand, the extract is its table, byte for byte.
        let article = std::env::var_os("HARNESS_ARTICLE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| crate::fixtures::repo_root().join("../shared/seeds/000_fae53b9902ef38c2.txt"));
        match std::fs::read_to_string(&article) {
            Ok(text) => {
                let committed = ARTICLE_TABLE
                    .lines()
                    .skip_while(|l| !l.starts_with('|'))
                    .collect::<Vec<_>>()
                    .join("\n");
                assert_eq!(committed, article_section(&text), "{}", article.display());
            }
            Err(_) => println!(
                "{} not at hand: the fixture is checked against the extract only",
                article.display()
            ),
        }
    }

    #[test]
    fn a_row_with_a_cell_too_few_or_an_unknown_metric_is_refused() {
        let short = COMPARISON.replacen(
            "cells = [\"Kubernetes\", \"Kubernetes\", \"Kubernetes\"]",
            "cells = [\"Kubernetes\", \"Kubernetes\"]",
            1,
        );
        let err = parse(&short).unwrap_err().to_string();
        assert!(
            err.contains("row \"Authentication Method\" has 2 cells for 3 columns"),
            "{err}"
        );
        let unknown = COMPARISON.replacen("name = \"delivery_p50\"", "name = \"delivery_p51\"", 1);
        let err = parse(&unknown).unwrap_err().to_string();
        assert!(
            err.contains("row \"Performance\": unknown metric \"delivery_p51\""),
            "{err}"
        );
    }

    fn sample(method: &str, profile: &str, metric: Metric, value: f64) -> Sample {
        Sample::new(method, profile, metric, value, "x")
    }

    fn delivered(method: &str, seconds: &[f64]) -> Vec<Sample> {
        seconds
            .iter()
            .map(|s| Sample::millis(method, "tuned", Metric::DeliveryLatency, Duration::from_secs_f64(*s)))
            .collect()
    }

    fn rotated(method: &str, profile: &str, reached: usize, ran_out: usize) -> Vec<Sample> {
        let mut samples: Vec<Sample> = (0..reached)
            .map(|_| Sample::millis(method, profile, Metric::RotationLatency, Duration::from_secs(5)))
            .collect();
        samples.extend(
            (0..ran_out)
                .map(|_| Sample::not_within(method, profile, Metric::RotationLatency, Duration::from_secs(360))),
        );
        samples
    }

    fn judge_one(rule: &Rule, cell: &str, method: &str, samples: &[Sample]) -> Verdict {
        let table = comparison().unwrap();
        judge_method(rule, cell, method, &Measured::new(samples), &table.graded).0
    }

    #[test]
    fn r0_combines_the_sidecar_columns_two_methods() {
        use Verdict::*;
        assert_eq!(combined(&[Confirmed, Confirmed]), Confirmed);
        assert_eq!(combined(&[Contradicted, Contradicted]), Contradicted);
        assert_eq!(combined(&[Confirmed, Contradicted]), Partly);
        assert_eq!(combined(&[Partly, Confirmed]), Partly);
        assert_eq!(combined(&[Confirmed, NotMeasured]), NotMeasured);
    }

    #[test]
    fn r4d_gives_every_verdict_for_automatic_and_manual() {
        let m = "m";
        let with = |extra: Vec<Sample>| [delivered(m, &[1.0]), extra].concat();
        let automatic = |s: &[Sample]| judge_one(&Rule::Rotation, "Automatic", m, s);
        let manual = |s: &[Sample]| judge_one(&Rule::Rotation, "Manual", m, s);

        assert_eq!(automatic(&with(rotated(m, "defaults", 1, 0))), Verdict::Confirmed);
        let tuned_only = with(rotated(m, "tuned", 3, 0));
        assert_eq!(automatic(&tuned_only), Verdict::NotMeasured);
        let live = sample(m, "tuned", Metric::DefaultRefreshPeriod, 3600.0).observed("CRD default \"1h\"");
        assert_eq!(
            automatic(&[tuned_only.clone(), vec![live]].concat()),
            Verdict::Confirmed
        );
        let off = sample(m, "tuned", Metric::DefaultRefreshPeriod, 0.0).observed("rotation off");
        assert_eq!(
            automatic(&[tuned_only.clone(), vec![off]].concat()),
            Verdict::Partly,
            "off by default, on with a flag"
        );
        let env = sample(m, "tuned", Metric::EnvVarUpdatedInPlace, 0.0).observed("environment did not change");
        let graded = comparison().unwrap().graded;
        let (_, evidence) = judge_method(
            &Rule::Rotation,
            "Automatic",
            m,
            &Measured::new(&[tuned_only.clone(), vec![env]].concat()),
            &graded,
        );
        assert!(
            evidence.contains("; env-var variant (tuned, next to F13): environment did not change;"),
            "{evidence}"
        );
        let only_tuned_rotates = with([rotated(m, "tuned", 3, 0), rotated(m, "defaults", 0, 1)].concat());
        assert_eq!(automatic(&only_tuned_rotates), Verdict::Partly);
        assert_eq!(automatic(&with(rotated(m, "tuned", 0, 3))), Verdict::Contradicted);
        assert_eq!(automatic(&with(Vec::new())), Verdict::NotMeasured);

        assert_eq!(manual(&tuned_only), Verdict::Contradicted);
        assert_eq!(manual(&only_tuned_rotates), Verdict::Contradicted);
        let never = with([rotated(m, "tuned", 0, 3), rotated(m, "defaults", 0, 1)].concat());
        assert_eq!(manual(&never), Verdict::Confirmed);
        assert_eq!(manual(&delivered("other", &[1.0])), Verdict::NotMeasured);
    }

    #[test]
    fn r4c_wants_every_per_app_setting_in_the_claimed_channel_and_gives_every_verdict() {
        let placed = |method: &str, places: &[(&str, &str)]| -> Vec<Sample> {
            places
                .iter()
                .map(|(setting, channels)| {
                    let written = f64::from(u8::from(!channels.is_empty()));
                    let observed = match channels.is_empty() {
                        true => format!("{setting} → not per app"),
                        false => format!("{setting} → {channels} (X.y)"),
                    };
                    sample(method, "tuned", Metric::ConfigChannel, written).observed(observed)
                })
                .chain(delivered(method, &[1.0]))
                .collect()
        };
        let samples = [
            placed(
                "annotated",
                &[
                    ("role", "pod annotation"),
                    ("secret path", "pod annotation"),
                    ("Vault address", ""),
                ],
            ),
            placed(
                "mixed",
                &[
                    ("role", "pod annotation"),
                    ("secret path", "ConfigMap + pod annotation"),
                ],
            ),
            placed("resource", &[("role", "custom resource"), ("secret path", "ConfigMap")]),
            placed("unwritten", &[("role", "")]),
        ]
        .concat();
        let on = |method: &str, cell: &str| judge_one(&Rule::Configuration, cell, method, &samples);
        assert_eq!(on("annotated", "Pod Annotations"), Verdict::Confirmed);
        assert_eq!(
            on("mixed", "Pod Annotations"),
            Verdict::Confirmed,
            "a setting in two channels"
        );
        assert_eq!(on("resource", "Custom Resource"), Verdict::Partly);
        assert_eq!(on("resource", "Volume"), Verdict::Contradicted);
        assert_eq!(on("unwritten", "Volume"), Verdict::NotMeasured);
        assert_eq!(on("annotated", "Shared Volume"), Verdict::NotMeasured);
        let graded = comparison().unwrap().graded;
        let (_, evidence) = judge_method(
            &Rule::Configuration,
            "Pod Annotations",
            "annotated",
            &Measured::new(&samples),
            &graded,
        );
        assert_eq!(
            evidence,
            "2 of 2 per-app settings in a pod annotation: role → pod annotation, secret path → pod annotation; not written per app: Vault address"
        );
    }

    #[test]
    fn r4a_wants_kubernetes_logins_behind_every_read_and_no_root_token() {
        let m = "m";
        let audit = |logins: f64, mounts: &str, reads: f64, by_login: f64, root: f64| {
            [
                delivered(m, &[1.0]),
                vec![
                    sample(m, "tuned", Metric::AuthLogins, logins).observed(mounts),
                    sample(m, "tuned", Metric::AuthReads, reads),
                    sample(m, "tuned", Metric::AuthReadsWithLoginToken, by_login),
                    sample(m, "tuned", Metric::RootRequestsFromApp, root),
                ],
            ]
            .concat()
        };
        let on = |s: &[Sample]| judge_one(&Rule::Authentication, "Kubernetes", m, s);
        assert_eq!(
            on(&audit(4.0, "auth/kubernetes (kubernetes)", 9.0, 9.0, 0.0)),
            Verdict::Confirmed
        );
        assert_eq!(
            on(&audit(4.0, "auth/kubernetes (kubernetes)", 9.0, 7.0, 0.0)),
            Verdict::Contradicted
        );
        assert_eq!(
            on(&audit(4.0, "auth/kubernetes (kubernetes)", 9.0, 9.0, 1.0)),
            Verdict::Contradicted
        );
        assert_eq!(on(&audit(0.0, "", 0.0, 0.0, 0.0)), Verdict::Contradicted);
        assert_eq!(
            on(&audit(4.0, "auth/app (approle)", 9.0, 9.0, 0.0)),
            Verdict::Contradicted
        );
        assert_eq!(
            on(&audit(4.0, "auth/k (type not logged)", 9.0, 9.0, 0.0)),
            Verdict::NotMeasured
        );
        assert_eq!(on(&delivered(m, &[1.0])), Verdict::NotMeasured);
    }

    #[test]
    fn r4b_compares_the_mount_class_and_a_secret_copy_makes_it_partly() {
        let m = "m";
        let mount = |class: &str, in_secret: f64| {
            [
                delivered(m, &[1.0]),
                vec![
                    sample(m, "tuned", Metric::SecretMount, 1.0).observed(class),
                    sample(m, "tuned", Metric::SecretMountTmpfs, 1.0).observed("tmpfs"),
                    sample(m, "tuned", Metric::StoredAsKubernetesSecret, in_secret),
                ],
            ]
            .concat()
        };
        let volume = |s: &[Sample]| judge_one(&Rule::Injection, "Volume", m, s);
        assert_eq!(volume(&mount("volume", 0.0)), Verdict::Confirmed);
        assert_eq!(volume(&mount("volume", 1.0)), Verdict::Partly);
        assert_eq!(volume(&mount("shared_volume", 0.0)), Verdict::Contradicted);
        assert_eq!(volume(&delivered(m, &[1.0])), Verdict::NotMeasured);
        let secrets = judge_one(
            &Rule::Injection,
            "Kubernetes Secrets",
            m,
            &mount("kubernetes_secret", 1.0),
        );
        assert_eq!(secrets, Verdict::Confirmed);
    }

    #[test]
    fn r4f_confirms_a_method_that_delivered_and_names_the_substrate() {
        let versions = std::collections::BTreeMap::from([
            ("kind".to_string(), "v0.30.0".to_string()),
            ("kubernetes".to_string(), "v1.34.4".to_string()),
        ]);
        let samples: Vec<Sample> = delivered("m", &[1.0, 2.0])
            .into_iter()
            .map(|s| s.with_versions(&versions))
            .collect();
        let table = comparison().unwrap();
        let (verdict, evidence) = judge_method(
            &Rule::Ecosystem,
            "Kubernetes",
            "m",
            &Measured::new(&samples),
            &table.graded,
        );
        assert_eq!(verdict, Verdict::Confirmed);
        assert_eq!(
            evidence,
            "2 of 2 pods got their secret on kind v0.30.0 clusters (Kubernetes v1.34.4)"
        );
        let never = vec![Sample::not_within(
            "m",
            "tuned",
            Metric::DeliveryLatency,
            Duration::from_secs(90),
        )];
        assert_eq!(
            judge_one(&Rule::Ecosystem, "Kubernetes", "m", &never),
            Verdict::NotMeasured
        );
    }

    #[test]
    fn r1_grades_each_ratio_and_gives_every_verdict() {
        let t = comparison().unwrap().graded;
        assert_eq!(ratio_grade(1.5, &t), (0, true));
        assert_eq!(ratio_grade(1.2, &t), (0, false));
        assert_eq!(ratio_grade(2.0, &t), (1, false));
        assert_eq!(ratio_grade(4.1, &t), (2, true));
        assert_eq!(ratio_grade(9.0, &t), (2, false));
        assert_eq!(ratio(0.0, 0.0, 0.0), 1.0);
        assert_eq!(ratio(1.0, 0.0, 0.0), f64::INFINITY);
        assert!((ratio(3.0, 1.0, 0.5) - 3.5 / 1.5).abs() < 1e-12);
        assert_eq!(graded_verdict(&[0, 0, 1, 0, 0]), Verdict::Confirmed);
        assert_eq!(graded_verdict(&[0, 0, 2, 0]), Verdict::Partly);
        assert_eq!(graded_verdict(&[0, 1, 1, 1, 2]), Verdict::Partly);
        assert_eq!(graded_verdict(&[2, 2, 2, 0, 1]), Verdict::Contradicted);
        assert_eq!(graded_verdict(&[]), Verdict::NotMeasured);
    }

    /// Performance over two methods: `slow` takes 10× as long everywhere.
    fn performance(slow: f64) -> Vec<Sample> {
        let mut samples = [delivered("fast", &[1.0, 1.0]), delivered("slow", &[slow, slow])].concat();
        for (method, seconds) in [("fast", 1.0), ("slow", slow)] {
            let start = |metric, s: f64| Sample::millis(method, "tuned", metric, Duration::from_secs_f64(s));
            samples.push(start(Metric::AppStart, seconds + 1.0));
            samples.push(start(Metric::PlainAppStart, 1.0));
        }
        for (method, seconds) in [("fast", 1.0), ("slow", slow)] {
            for profile in ["tuned", "defaults"] {
                samples.push(Sample::millis(
                    method,
                    profile,
                    Metric::RotationLatency,
                    Duration::from_secs_f64(seconds),
                ));
            }
        }
        samples
    }

    #[test]
    fn r1_decides_performance_from_four_of_five_metrics_and_not_from_three_or_fewer() {
        let table = comparison().unwrap();
        let row = table.row.iter().find(|r| r.feature == "Performance").unwrap();
        let samples = performance(10.0);
        let on = |cell: &str, method: &str, samples: &[Sample]| judge_one(&row.rule, cell, method, samples);
        assert_eq!(on("High", "fast", &samples), Verdict::Confirmed);
        assert_eq!(on("Medium", "fast", &samples), Verdict::Partly);
        assert_eq!(on("High", "slow", &samples), Verdict::Contradicted);
        assert_eq!(on("Low", "slow", &samples), Verdict::Confirmed);
        let (_, evidence) = judge_method(&row.rule, "High", "slow", &Measured::new(&samples), &table.graded);
        assert!(
            evidence.contains("delivery_p50 10.00 s (r 7.00, grade 2; best fast 1.00)"),
            "{evidence}"
        );
        assert!(
            evidence.contains("app_start_delay_added_p50 10.00 s (r 7.00, grade 2; best fast 1.00)"),
            "{evidence}"
        );
        let tuned_only: Vec<Sample> = samples.iter().filter(|s| s.profile != "defaults").cloned().collect();
        assert_eq!(on("High", "fast", &tuned_only), Verdict::Confirmed);
        let no_baseline: Vec<Sample> = tuned_only
            .into_iter()
            .filter(|s| s.metric != Metric::PlainAppStart)
            .collect();
        assert_eq!(on("High", "fast", &no_baseline), Verdict::NotMeasured);
        let (_, evidence) = judge_method(&row.rule, "High", "fast", &Measured::new(&no_baseline), &table.graded);
        assert!(
            evidence.contains("not measured: app_start_delay_added_p50, rotation_p50_defaults"),
            "{evidence}"
        );
    }

    /// Complexity over two methods: `complex` writes 10× as much per app and holds RBAC pairs;
    /// `simple` has no components (its pairs do not apply: 0).
    fn complexity() -> Vec<Sample> {
        let mut samples = [delivered("simple", &[1.0]), delivered("complex", &[1.0])].concat();
        for (method, lines, objects, keys) in [("simple", 10.0, 1.0, 5.0), ("complex", 100.0, 10.0, 50.0)] {
            samples.push(sample(method, "tuned", Metric::UserLinesPerApp, lines));
            samples.push(sample(method, "tuned", Metric::UserObjectsPerApp, objects));
            samples.push(sample(method, "tuned", Metric::UserKeysPerApp, keys));
        }
        samples.push(Sample::not_applicable("simple", "tuned", Metric::ClusterRbacPairs));
        samples.push(sample("complex", "tuned", Metric::ClusterRbacPairs, 40.0));
        samples
    }

    #[test]
    fn r1_decides_complexity_from_four_of_five_metrics_and_not_from_three() {
        let table = comparison().unwrap();
        let row = table.row.iter().find(|r| r.feature == "Complexity").unwrap();
        let samples = complexity();
        let on = |cell: &str, method: &str, samples: &[Sample]| judge_one(&row.rule, cell, method, samples);
        assert_eq!(on("Low", "simple", &samples), Verdict::Confirmed);
        assert_eq!(on("Medium", "simple", &samples), Verdict::Partly);
        assert_eq!(on("Low", "complex", &samples), Verdict::Contradicted);
        assert_eq!(on("High", "complex", &samples), Verdict::Confirmed);
        let (_, evidence) = judge_method(&row.rule, "High", "complex", &Measured::new(&samples), &table.graded);
        for figure in [
            "user_lines_per_app 100.00 lines (r 7.00, grade 2; best simple 10.00)",
            "user_objects_per_app 10.00 objects (r 5.50, grade 2; best simple 1.00)",
            "user_keys_per_app 50.00 keys (r 8.50, grade 2; best simple 5.00)",
            "cluster_rbac_pairs 40.00 pairs (r 41.00, grade 2; best simple 0.00)",
            "not measured: cluster_objects",
        ] {
            assert!(evidence.contains(figure), "{figure} in {evidence}");
        }
        let all_five = [
            samples.clone(),
            vec![
                sample("simple", "tuned", Metric::ClusterObjects, 0.0),
                sample("complex", "tuned", Metric::ClusterObjects, 30.0),
            ],
        ]
        .concat();
        let (verdict, evidence) = judge_method(&row.rule, "High", "complex", &Measured::new(&all_five), &table.graded);
        assert_eq!(verdict, Verdict::Confirmed);
        assert!(
            evidence.contains("cluster_objects 30.00 objects (r 31.00, grade 2; best simple 0.00)"),
            "{evidence}"
        );
        let three: Vec<Sample> = samples
            .into_iter()
            .filter(|s| s.metric != Metric::ClusterRbacPairs)
            .collect();
        assert_eq!(on("Low", "simple", &three), Verdict::NotMeasured);
        let (_, evidence) = judge_method(&row.rule, "Low", "simple", &Measured::new(&three), &table.graded);
        assert!(
            evidence.contains("not measured: cluster_objects, cluster_rbac_pairs"),
            "{evidence}"
        );
    }

    #[test]
    fn r2_and_r3_grade_against_the_runs_best_and_give_every_verdict() {
        assert_eq!(probe_grade(5, 5), 0);
        assert_eq!(probe_grade(4, 5), 0);
        assert_eq!(probe_grade(3, 5), 1);
        assert_eq!(probe_grade(1, 5), 2);
        assert_eq!(security_grade(1, 0, false), 0);
        assert_eq!(security_grade(2, 0, false), 1);
        assert_eq!(security_grade(3, 0, false), 2);
        assert_eq!(security_grade(0, 0, true), 2);
        assert_eq!(verdict_from_distance(0), Verdict::Confirmed);
        assert_eq!(verdict_from_distance(1), Verdict::Partly);
        assert_eq!(verdict_from_distance(2), Verdict::Contradicted);
    }

    /// A method's five exposure samples (`exposed[i]` for S(i+1); S2 as its tmpfs reading) and
    /// its root-token requests, in the tuned profile.
    fn exposures(method: &str, exposed: [bool; 5], root_requests: f64) -> Vec<Sample> {
        let mut samples = delivered(method, &[1.0]);
        for (i, (_, metric)) in EXPOSURES.iter().enumerate() {
            let value = match (metric, exposed[i]) {
                (Metric::SecretMountTmpfs, true) => 0.0,
                (Metric::SecretMountTmpfs, false) => 1.0,
                (_, true) => 1.0,
                (_, false) => 0.0,
            };
            let observed = match (metric, exposed[i]) {
                (Metric::SecretMountTmpfs, true) => "ext4",
                (Metric::SecretMountTmpfs, false) => "tmpfs",
                (_, true) => "found",
                (_, false) => "none",
            };
            samples.push(sample(method, "tuned", *metric, value).observed(observed));
        }
        samples.push(sample(method, "defaults", Metric::RootRequestsFromApp, root_requests));
        samples
    }

    #[test]
    fn r3_grades_exposures_against_the_runs_fewest_and_a_root_token_is_grade_2() {
        let none = [false; 5];
        let samples = [
            exposures("clean", none, 0.0),
            exposures("one", [true, false, false, false, false], 0.0),
            exposures("two", [false, true, true, false, false], 0.0),
            exposures("three", [false, false, true, true, true], 0.0),
            exposures("root", none, 2.0),
            exposures("unread", none, 0.0)
                .into_iter()
                .filter(|s| !matches!(s.metric, Metric::ClusterWidePowers | Metric::SecretInEtcdPlaintext))
                .collect(),
        ]
        .concat();
        let high = |method: &str| judge_one(&Rule::Security, "High", method, &samples);
        assert_eq!(high("clean"), Verdict::Confirmed);
        assert_eq!(high("one"), Verdict::Confirmed, "within one of the fewest");
        assert_eq!(high("two"), Verdict::Partly);
        assert_eq!(high("three"), Verdict::Contradicted);
        assert_eq!(high("root"), Verdict::Contradicted, "no exposure, but a root token");
        assert_eq!(high("unread"), Verdict::NotMeasured);
        assert_eq!(
            judge_one(&Rule::Security, "Low", "clean", &samples),
            Verdict::NotMeasured
        );

        let table = comparison().unwrap();
        let evidence =
            |method: &str| judge_method(&Rule::Security, "High", method, &Measured::new(&samples), &table.graded).1;
        assert_eq!(
            evidence("two"),
            "S1 etcd plaintext: no (none); S2 copy on node disk: yes (ext4); \
             S3 privileged or hostPath: yes (found); S4 cluster-wide powers: no (none); \
             S5 readable with get secrets: no (none); E = 2; fewest 0 (clean, root); \
             no root-token request from the app cluster; grade 1, claimed High = grade 0"
        );
        assert!(
            evidence("root").contains("a root token was used from the app cluster: grade 2"),
            "{}",
            evidence("root")
        );
        assert_eq!(
            evidence("unread"),
            "S2 copy on node disk: no (tmpfs); S3 privileged or hostPath: no (none); \
             S5 readable with get secrets: no (none); not measured: S1 etcd plaintext \
             (secret_in_etcd_plaintext), S4 cluster-wide powers (cluster_wide_powers)"
        );
    }

    #[test]
    fn r5_rows_print_their_stand_ins_held_failed_or_not_checked() {
        let table = comparison().unwrap();
        let cell = |samples: &[Sample], row: &str, column: &str| {
            let judged = judge(&table, samples);
            let j = judged.iter().find(|j| j.row == row && j.column == column).unwrap();
            assert_eq!(j.verdict, Verdict::NotMeasurable);
            j.evidence.clone()
        };
        let rotation = |method: &str, ms: f64| sample(method, "defaults", Metric::RotationLatency, ms);
        let samples = vec![
            sample("eso", "tuned", Metric::DefaultRefreshPeriod, 3600.0).observed("CRD default 1h"),
            sample("csi", "tuned", Metric::DefaultRefreshPeriod, 120.0).observed("rotation on"),
            sample("injector", "tuned", Metric::RequestedCpuPerPod, 250.0),
            sample("injector", "tuned", Metric::RequestedMemoryPerPod, 64.0),
            rotation("agent_sidecar", 200_000.0),
            rotation("injector", 400_000.0),
            sample("eso", "tuned", Metric::SourceLicence, 1.0).observed("m v1: Apache-2.0, owner o"),
            sample("eso", "tuned", Metric::UserKeysPerApp, 26.0),
            sample("eso", "tuned", Metric::UserObjectsPerApp, 2.0).observed("ExternalSecret, SecretStore"),
        ];
        let docs = cell(&samples, "Documentation", "External Secrets Operator");
        assert!(
            docs.contains("eso: refreshInterval defaults to 1h (F9): held (read live: CRD default 1h)"),
            "{docs}"
        );
        let docs = cell(&samples, "Documentation", "CSI Driver");
        assert!(
            docs.contains("rotation is off by default (F6): failed (read live: 120 s"),
            "{docs}"
        );
        let docs = cell(&samples, "Documentation", "Sidecar Pattern");
        assert!(docs.contains("agent_sidecar: the agent re-renders static secrets every 5 min by default (F5): held (1 defaults rotations, all within 5 min + 10 s, the slowest 200 s)"), "{docs}");
        assert!(docs.contains("injector: the agent re-renders static secrets every 5 min by default (F5): failed (a defaults rotation took 400 s or ran out)"), "{docs}");
        assert!(
            docs.contains("the injected agent requests 250m CPU and 64Mi memory (F3): held"),
            "{docs}"
        );
        let docs = cell(&[], "Documentation", "CSI Driver");
        assert!(
            docs.ends_with("csi: rotation is off by default (F6): not checked in this run"),
            "{docs}"
        );
        let support = cell(&samples, "Support", "External Secrets Operator");
        assert!(
            support.contains("contract") && support.ends_with("eso: m v1: Apache-2.0, owner o"),
            "{support}"
        );
        assert!(
            cell(&samples, "Support", "CSI Driver").ends_with("csi: no module of it built from source in this run")
        );
        let learning = cell(&samples, "Learning Curve", "External Secrets Operator");
        assert!(
            learning.ends_with("eso: 26 method-specific keys per app in ExternalSecret, SecretStore"),
            "{learning}"
        );
        let community = cell(&samples, "Community Support", "External Secrets Operator");
        assert!(!community.contains("stand-in"), "nothing stands in: {community}");
    }

    #[test]
    fn every_cell_gets_a_verdict_and_not_measurable_rows_their_reason() {
        let table = comparison().unwrap();
        let judged = judge(&table, &performance(10.0));
        assert_eq!(judged.len(), 60);
        assert_eq!(
            judged.iter().map(|j| j.number).collect::<Vec<_>>(),
            (1..=60).collect::<Vec<_>>()
        );
        let support = judged.iter().filter(|j| j.row == "Support").collect::<Vec<_>>();
        assert!(
            support
                .iter()
                .all(|j| j.verdict == Verdict::NotMeasurable && j.evidence.contains("contract"))
        );
        // No method of the fixture's columns ran: every measurable cell says so.
        let unrun = judged
            .iter()
            .find(|j| j.row == "Performance" && j.column == "CSI Driver")
            .unwrap();
        assert_eq!(unrun.verdict, Verdict::NotMeasured);
        assert_eq!(unrun.evidence, "csi was not run");
        let sidecar = judged.iter().find(|j| j.number == 19).unwrap();
        assert_eq!(sidecar.methods.len(), 2, "R0 prints both sub-verdicts");
        let security = |n: usize| judged.iter().find(|j| j.number == n).unwrap().evidence.clone();
        assert!(
            security(22).contains("(fixture choice: the hand-written sidecar's"),
            "{}",
            security(22)
        );
        assert!(!security(23).contains("fixture choice"), "{}", security(23));
        assert_eq!(Verdict::NotMeasured.to_string(), "not measured in this run");
        assert_eq!(Verdict::NotMeasurable.to_string(), "not measurable here");
    }
}
