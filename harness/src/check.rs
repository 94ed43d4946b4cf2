//! A check compares what the article says with what the harness observed in this run.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
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
    /// Where this run departs from the article on purpose, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Check {
    pub fn new(
        claim: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
        passed: bool,
    ) -> Self {
        Check {
            claim: claim.into(),
            expected: expected.into(),
            observed: observed.into(),
            passed,
            note: None,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
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

/// The pass/fail table `harness run` prints, with the notes under it.
pub fn table(checks: &[Check]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(150)
        .set_header(["result", "check", "expected", "observed"]);
    let mut notes = Vec::new();
    for c in checks {
        let mut claim = c.claim.clone();
        if let Some(note) = &c.note {
            notes.push(note.as_str());
            claim.push_str(&format!(" [{}]", notes.len()));
        }
        table.add_row([if c.passed { "pass" } else { "FAIL" }, &claim, &c.expected, &c.observed]);
    }
    let mut rendered = table.to_string();
    for (i, note) in notes.iter().enumerate() {
        rendered.push_str(&format!("\n[{}] {note}", i + 1));
    }
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_marks_each_result() {
        let rendered = table(&[
            Check::new("a holds", "1", "1", true),
            Check::new("b holds", "2", "3", false).with_note("on purpose"),
        ]);
        assert!(
            rendered.contains("b holds [1]") && rendered.ends_with("[1] on purpose"),
            "{rendered}"
        );
        assert!(rendered.contains("pass") && rendered.contains("FAIL"), "{rendered}");
        assert!(rendered.contains("b holds"));
    }

    #[test]
    #[should_panic(expected = "expected: 2")]
    fn a_failed_check_fails_the_scenario() {
        Check::new("b holds", "2", "3", false).assert_passed();
    }
}
