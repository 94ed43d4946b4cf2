//! The report's tables as cells, rendered either as Markdown (report.md, the job summary) or as
//! aligned text (what `harness run` prints): one place decides what each cell says.

use super::{ClusterComponents, FaultFigures, Latency, MethodFigures, claims};

/// A header and rows of cells.
#[derive(Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut text = line(&self.header);
        text.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            text.push_str(&line(row));
        }
        text
    }

    /// Columns padded to their widest cell, two spaces apart.
    pub fn aligned(&self) -> String {
        let all: Vec<&Vec<String>> = std::iter::once(&self.header).chain(&self.rows).collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        all.iter()
            .map(|row| {
                let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
                cells.join("  ").trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Puts a `run` column first, for reports that merge runs.
    fn with_runs(mut self, runs: Vec<Option<String>>) -> Self {
        if runs.iter().any(Option::is_some) {
            self.header.insert(0, "run".into());
            for (row, run) in self.rows.iter_mut().zip(runs) {
                row.insert(0, run.unwrap_or_default());
            }
        }
        self
    }
}

pub fn methods(figures: &[MethodFigures]) -> Table {
    let mut table = Table::new(&[
        "method",
        "profile",
        "delivery p50 / p95 (n)",
        "rotation p50 / p95 / max (n)",
        "added containers per pod",
        "per-pod CPU / memory",
        "cluster components (containers, CPU, memory)",
        "Vault requests per pod per minute",
        "stored as a Kubernetes Secret",
    ]);
    for m in figures {
        table.rows.push(vec![
            m.method.clone(),
            m.profile.clone(),
            latency(&m.delivery, false),
            latency(&m.rotation, true),
            number(m.added_containers_per_pod, 0, ""),
            format!(
                "{} / {}",
                number(m.pod_overhead_cpu_millicores, 1, "m"),
                number(m.pod_overhead_memory_mib, 1, " MiB")
            ),
            components(&m.cluster_components),
            number(m.vault_requests_per_pod_minute, 2, ""),
            yes_no(m.stored_as_kubernetes_secret).into(),
        ]);
    }
    table.with_runs(figures.iter().map(|m| m.run.clone()).collect())
}

fn components(c: &ClusterComponents) -> String {
    match c {
        ClusterComponents::NotMeasured => "-".into(),
        ClusterComponents::NotApplicable => "not applicable (none)".into(),
        ClusterComponents::Measured {
            containers,
            cpu_millicores,
            memory_mib,
        } => format!("{containers:.0}, {cpu_millicores:.1}m / {memory_mib:.1} MiB"),
    }
}

pub fn faults(figures: &[FaultFigures]) -> Table {
    let mut table = Table::new(&[
        "fault",
        "method",
        "pod running during the outage",
        "app has a complete value",
        "restarts",
        "recovery after Vault is back",
    ]);
    for f in figures {
        table.rows.push(vec![
            f.fault.to_string(),
            f.method.clone(),
            yes_no(f.pod_running).into(),
            yes_no(f.app_has_value).into(),
            number(f.restarts, 0, ""),
            latency(&f.recovery, false),
        ]);
    }
    table.with_runs(figures.iter().map(|f| f.run.clone()).collect())
}

/// A verdict as a cell: the ones that disagree with the article stand out.
fn verdict(v: claims::Verdict) -> String {
    match v {
        claims::Verdict::Contradicted => format!("**{v}**"),
        v => v.to_string(),
    }
}

/// The article's table itself: each cell its claim and verdict.
pub fn comparison(judged: &[claims::Judged]) -> Table {
    let mut columns: Vec<&str> = Vec::new();
    for j in judged {
        if !columns.contains(&j.column.as_str()) {
            columns.push(&j.column);
        }
    }
    let mut table = Table::new(&[&["Feature"], columns.as_slice()].concat());
    for row in judged.chunks(columns.len().max(1)) {
        let mut cells = vec![row[0].row.clone()];
        cells.extend(row.iter().map(|j| format!("{}: {}", j.cell, verdict(j.verdict))));
        table.rows.push(cells);
    }
    table
}

/// Every cell with its rule and evidence.
pub fn claims(judged: &[claims::Judged]) -> Table {
    let mut table = Table::new(&["#", "feature", "column", "claim", "rule", "verdict", "evidence"]);
    for c in judged {
        table.rows.push(vec![
            c.number.to_string(),
            c.row.clone(),
            c.column.clone(),
            c.cell.clone(),
            c.rule.into(),
            verdict(c.verdict),
            c.evidence.clone(),
        ]);
    }
    table
}

/// `p50 / p95 [/ max] (n)`, and how many waits ran out at which bound; one sample is one figure.
fn latency(l: &Latency, with_max: bool) -> String {
    let s = |v: Option<f64>| v.map_or("-".to_string(), |ms| format!("{:.1} s", ms / 1000.0));
    if l.samples == 1 && l.not_within == 0 {
        return s(l.p50_ms);
    }
    let mut text = format!("{} / {}", s(l.p50_ms), s(l.p95_ms));
    if with_max {
        text.push_str(&format!(" / {}", s(l.max_ms)));
    }
    text.push_str(&format!(" ({})", l.samples));
    if l.not_within > 0 {
        text.push_str(&format!(" + {} not within {}", l.not_within, s(l.bound_ms)));
    }
    text
}

fn number(value: Option<f64>, decimals: usize, unit: &str) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.decimals$}{unit}"))
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            header: vec!["method".into(), "p50".into()],
            rows: vec![
                vec!["method_one".into(), "3.0 s".into()],
                vec!["two".into(), "-".into()],
            ],
        }
    }

    #[test]
    fn markdown_has_a_separator_row_per_column() {
        assert_eq!(
            table().markdown(),
            "| method | p50 |\n|---|---|\n| method_one | 3.0 s |\n| two | - |\n"
        );
    }

    #[test]
    fn aligned_pads_every_column_to_its_widest_cell() {
        assert_eq!(table().aligned(), "method      p50\nmethod_one  3.0 s\ntwo         -");
    }

    #[test]
    fn a_latency_with_waits_that_ran_out_says_how_many_and_the_bound() {
        let l = Latency {
            samples: 2,
            not_within: 1,
            bound_ms: Some(360_000.0),
            p50_ms: Some(1000.0),
            p95_ms: Some(2000.0),
            max_ms: Some(2000.0),
        };
        assert_eq!(latency(&l, true), "1.0 s / 2.0 s / 2.0 s (2) + 1 not within 360.0 s");
        assert_eq!(latency(&Latency::default(), false), "- / - (0)");
    }
}
