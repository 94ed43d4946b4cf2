//! A check compares what the article says with what the harness observed in this run.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// The claim, phrased as the article's runbook step ("policy list shows default, read-policy, root").
    pub claim: String,
    /// What passing looks like, from the config.
    pub expected: String,
    /// What this run saw. Never contains secret values.
    pub observed: String,
    pub passed: bool,
}

impl Check {
    pub fn new(claim: impl Into<String>, expected: impl Into<String>, observed: impl Into<String>, passed: bool) -> Self {
        Check { claim: claim.into(), expected: expected.into(), observed: observed.into(), passed }
    }

    /// Panics with expected and observed when the check failed; for scenarios.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            self.passed,
            "{}\n  expected: {}\n  observed: {}",
            self.claim, self.expected, self.observed
        );
    }
}

/// The pass/fail table `harness run` prints.
pub fn table(checks: &[Check]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["result", "check", "expected", "observed"]);
    for c in checks {
        table.add_row([if c.passed { "pass" } else { "FAIL" }, &c.claim, &c.expected, &c.observed]);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_marks_each_result() {
        let rendered = table(&[
            Check::new("a holds", "1", "1", true),
            Check::new("b holds", "2", "3", false),
        ]);
        assert!(rendered.contains("pass") && rendered.contains("FAIL"), "{rendered}");
        assert!(rendered.contains("b holds"));
    }

    #[test]
    #[should_panic(expected = "expected: 2")]
    fn a_failed_check_fails_the_scenario() {
        Check::new("b holds", "2", "3", false).assert_passed();
    }
}
