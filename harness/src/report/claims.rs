//! Verdicts on the comparison table's claims (`fixtures/claims/comparison.toml`), each computed
//! from the samples and pointing at its evidence.

use serde::{Deserialize, Serialize};

use super::MethodFigures;
use crate::{Error, Result};

const COMPARISON: &str = include_str!("../../../fixtures/claims/comparison.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub row: String,
    pub column: String,
    pub cell: String,
    pub methods: Vec<String>,
    pub check: Check,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    RotationAutomatic,
    RotationManual,
    NotMeasurable,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Confirmed,
    Contradicted,
    NotMeasurable,
    /// Measurable, but this run has no samples of the methods involved.
    NotMeasured,
}

#[derive(Debug, Serialize)]
pub struct Judged {
    pub row: String,
    pub column: String,
    pub cell: String,
    pub verdict: Verdict,
    pub evidence: String,
}

#[derive(Deserialize)]
struct File {
    claim: Vec<Claim>,
}

/// The comparison table's claims, as data.
pub fn comparison() -> Result<Vec<Claim>> {
    toml::from_str::<File>(COMPARISON)
        .map(|f| f.claim)
        .map_err(|e| Error::State(format!("fixtures/claims/comparison.toml: {e}")))
}

/// Judges every claim against the figures of this run.
pub fn judge(claims: &[Claim], figures: &[MethodFigures]) -> Vec<Judged> {
    claims
        .iter()
        .map(|claim| {
            let (verdict, evidence) = verdict(claim, figures);
            Judged {
                row: claim.row.clone(),
                column: claim.column.clone(),
                cell: claim.cell.clone(),
                verdict,
                evidence,
            }
        })
        .collect()
}

fn verdict(claim: &Claim, figures: &[MethodFigures]) -> (Verdict, String) {
    if claim.check == Check::NotMeasurable {
        return (Verdict::NotMeasurable, claim.reason.clone().unwrap_or_default());
    }
    let relevant: Vec<&MethodFigures> = figures
        .iter()
        .filter(|f| claim.methods.contains(&f.method) && f.rotation.samples + f.rotation.not_within > 0)
        .collect();
    if relevant.is_empty() {
        return (
            Verdict::NotMeasured,
            format!("no rotation samples of {} in this run", claim.methods.join(", ")),
        );
    }
    let evidence: Vec<String> = relevant
        .iter()
        .map(|f| {
            let mut text = format!(
                "{} ({}): {} of {} rotations reached the app container without a restart",
                f.method,
                f.profile,
                f.rotation.samples,
                f.rotation.samples + f.rotation.not_within
            );
            if let Some(ms) = f.rotation.p50_ms {
                text.push_str(&format!(", p50 {:.1} s", ms / 1000.0));
            }
            if let Some(bound) = f.rotation.bound_ms.filter(|_| f.rotation.not_within > 0) {
                text.push_str(&format!(
                    "; {} not within {:.0} s",
                    f.rotation.not_within,
                    bound / 1000.0
                ));
            }
            text
        })
        .collect();
    let any_rotated = relevant.iter().any(|f| f.rotation.samples > 0);
    let verdict = match (claim.check, any_rotated) {
        (Check::RotationAutomatic, true) | (Check::RotationManual, false) => Verdict::Confirmed,
        (Check::RotationAutomatic, false) | (Check::RotationManual, true) => Verdict::Contradicted,
        (Check::NotMeasurable, _) => Verdict::NotMeasurable,
    };
    (verdict, evidence.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Latency, build,
        tests::{column_method, samples},
    };

    #[test]
    fn the_fixture_parses_and_every_claim_names_methods() {
        let claims = comparison().unwrap();
        assert!(claims.len() >= 6);
        assert!(claims.iter().all(|c| !c.methods.is_empty()));
        assert!(
            claims
                .iter()
                .filter(|c| c.check == Check::NotMeasurable)
                .all(|c| c.reason.is_some())
        );
    }

    #[test]
    fn measured_rotations_contradict_manual_and_confirm_automatic() {
        let figures = build(&samples()).methods;
        let judged = judge(&comparison().unwrap(), &figures);
        let by = |row: &str, column: &str| judged.iter().find(|j| j.row == row && j.column == column).unwrap();
        let sidecar = by("Secret Rotation", "Sidecar");
        assert_eq!(sidecar.verdict, Verdict::Contradicted);
        let expected = format!("{} (tuned): 20 of 20 rotations", column_method("Sidecar"));
        assert!(sidecar.evidence.contains(&expected), "{}", sidecar.evidence);
        let operator_method = by("Secret Rotation", "ESO");
        assert_eq!(operator_method.verdict, Verdict::Confirmed);
        let expected = format!("{} (defaults): 0 of 1 rotations", column_method("ESO"));
        assert!(
            operator_method.evidence.contains(&expected),
            "{}",
            operator_method.evidence
        );
        assert!(
            operator_method.evidence.contains("1 not within 360 s"),
            "{}",
            operator_method.evidence
        );
        assert_eq!(by("Secret Rotation", "CSI").verdict, Verdict::NotMeasured);
        assert_eq!(by("Performance", "ESO").verdict, Verdict::NotMeasurable);
    }

    #[test]
    fn only_waits_that_ran_out_confirm_manual() {
        let claim = Claim {
            row: "Secret Rotation".into(),
            column: "Sidecar".into(),
            cell: "Manual".into(),
            methods: vec!["any_method".into()],
            check: Check::RotationManual,
            reason: None,
        };
        let mut figures = build(&samples()).methods;
        figures.truncate(1);
        figures[0].method = "any_method".into();
        figures[0].rotation = Latency {
            not_within: 3,
            bound_ms: Some(360_000.0),
            ..Latency::default()
        };
        assert_eq!(verdict(&claim, &figures).0, Verdict::Confirmed);
    }
}
