//! The per-method summary `harness run` prints: computed from the run's samples only.

use super::run::MethodRun;
use crate::measure::{Outcome, percentile};

/// One line per method run: delivery and rotation latency (p50/p95/max, sample counts, waits that
/// ran out), the containers and resources it adds, and its Vault request rate.
pub fn table(runs: &[MethodRun]) -> String {
    let mut rows = vec![[
        "method".to_string(),
        "profile".into(),
        "delivery p50/p95 (n)".into(),
        "rotation p50/p95/max (n)".into(),
        "+containers/pod".into(),
        "per pod cpu/mem".into(),
        "cluster components cpu/mem".into(),
        "vault req/pod/min".into(),
        "secret in etcd".into(),
    ]];
    for run in runs {
        let one = |metric: &str| run.values(metric).first().copied().unwrap_or(f64::NAN);
        rows.push([
            run.method.to_string(),
            run.profile.name().into(),
            latency(
                &run.values("delivery_latency"),
                false,
                run.not_within("delivery_latency"),
            ),
            latency(
                &run.values("rotation_latency"),
                true,
                run.not_within("rotation_latency"),
            ),
            format!("{:.0}", one("added_containers_per_pod")),
            format!(
                "{:.1}m / {:.1} MiB",
                one("pod_overhead_cpu"),
                one("pod_overhead_memory")
            ),
            format!(
                "{:.0} containers, {:.1}m / {:.1} MiB",
                one("cluster_components"),
                one("cluster_components_cpu"),
                one("cluster_components_memory")
            ),
            format!("{:.2}", one("vault_requests_per_pod_minute")),
            match run.values("secret_in_etcd").first() {
                Some(v) if *v > 0.0 => "yes".into(),
                Some(_) => "no".into(),
                None => "-".into(),
            },
        ]);
    }
    render(&rows)
}

fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line per method under a fault: pod running during the outage, application holding a
/// complete value, container restarts, and recovery time once Vault was back.
pub fn fault_table(fault: super::fault::Fault, runs: &[MethodRun]) -> String {
    let name = fault.name();
    let mut rows = vec![[
        "method".to_string(),
        format!("{name}: pod running"),
        "app has value".into(),
        "restarts".into(),
        "recovery after Vault is back".into(),
    ]];
    for run in runs {
        let one = |metric: &str| {
            run.samples
                .iter()
                .find(|s| s.metric == format!("{name}_{metric}"))
                .map(|s| (s.value, s.outcome))
        };
        let yes_no = |metric: &str| match one(metric) {
            Some((v, _)) if v > 0.0 => "yes".to_string(),
            Some(_) => "no".to_string(),
            None => "-".to_string(),
        };
        let recovery = match one("recovery_latency") {
            Some((v, Outcome::Measured)) => format!("{:.1}s", v / 1000.0),
            Some((v, Outcome::NotWithin)) => format!("not within {:.0}s", v / 1000.0),
            None => "-".into(),
        };
        rows.push([
            run.method.to_string(),
            yes_no("pod_running"),
            yes_no("app_has_value"),
            one("restarts").map_or("-".into(), |(v, _)| format!("{v:.0}")),
            recovery,
        ]);
    }
    render(&rows)
}

/// `p50 / p95 [/ max] (n)` in seconds, and how many waits ran out.
fn latency(ms: &[f64], with_max: bool, not_within: usize) -> String {
    let s = |p: f64| percentile(ms, p).map_or("-".to_string(), |v| format!("{:.1}s", v / 1000.0));
    let mut text = format!("{} / {}", s(50.0), s(95.0));
    if with_max {
        text.push_str(&format!(" / {}", s(100.0)));
    }
    text.push_str(&format!(" ({})", ms.len()));
    if not_within > 0 {
        text.push_str(&format!(" + {not_within} not within bound"));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        delivery::{Method, Profile},
        measure::Sample,
    };

    fn run() -> MethodRun {
        let mut samples: Vec<Sample> = (1..=20)
            .map(|s| Sample::millis("eso", "tuned", "rotation_latency", Duration::from_secs(s)))
            .collect();
        samples.push(Sample::millis(
            "eso",
            "tuned",
            "delivery_latency",
            Duration::from_millis(1500),
        ));
        samples.push(Sample::not_within(
            "eso",
            "tuned",
            "rotation_latency",
            Duration::from_secs(360),
        ));
        samples.push(Sample::new("eso", "tuned", "added_containers_per_pod", 0.0, "count"));
        samples.push(Sample::new("eso", "tuned", "vault_requests_per_pod_minute", 6.0, "r"));
        MethodRun {
            method: Method::Eso,
            profile: Profile::Tuned,
            samples,
        }
    }

    #[test]
    fn the_table_shows_percentiles_counts_and_waits_that_ran_out() {
        let text = table(&[run()]);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("method"), "{text}");
        assert!(lines[1].contains("eso"), "{text}");
        assert!(lines[1].contains("1.5s / 1.5s (1)"), "{text}");
        assert!(
            lines[1].contains("10.0s / 19.0s / 20.0s (20) + 1 not within bound"),
            "{text}"
        );
        assert!(lines[1].contains("6.00"), "{text}");
    }

    #[test]
    fn the_fault_table_says_yes_no_and_bounds() {
        use crate::delivery::fault::Fault;
        let samples = vec![
            Sample::new("injector", "tuned", "vault_sealed_pod_running", 1.0, "bool"),
            Sample::new("injector", "tuned", "vault_sealed_app_has_value", 0.0, "bool"),
            Sample::new("injector", "tuned", "vault_sealed_restarts", 2.0, "count"),
            Sample::not_within(
                "injector",
                "tuned",
                "vault_sealed_recovery_latency",
                Duration::from_secs(360),
            ),
        ];
        let run = MethodRun {
            method: Method::Injector,
            profile: Profile::Tuned,
            samples,
        };
        let text = table_line(&fault_table(Fault::Sealed, &[run]));
        assert_eq!(text, ["injector", "yes", "no", "2", "not", "within", "360s"]);
    }

    fn table_line(text: &str) -> Vec<String> {
        text.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    #[test]
    fn a_metric_without_samples_shows_a_dash_not_a_number() {
        let empty = MethodRun {
            method: Method::Injector,
            profile: Profile::Defaults,
            samples: vec![],
        };
        assert!(table(&[empty]).contains("- / - (0)"));
    }
}
