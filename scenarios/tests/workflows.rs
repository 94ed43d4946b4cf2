//! The GitHub workflows pass actionlint (pinned, built from its Go module by
//! scripts/install-actionlint.sh, which the nextest setup script runs), including its
//! shellcheck pass over every `run:` block.

use std::process::Command;

#[test]
fn every_workflow_passes_actionlint() {
    let root = harness::fixtures::repo_root();
    let binary = harness::paths::cache_dir().join("bin").join(format!(
        "actionlint-{}",
        harness::fixtures::version("ACTIONLINT_VERSION")
    ));
    let workflows: Vec<_> = std::fs::read_dir(root.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    assert!(workflows.len() >= 2, "ci and nightly: {workflows:?}");
    let out = Command::new(&binary)
        .arg("-no-color")
        .args(&workflows)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/install-actionlint.sh)", binary.display()));
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_nightly_matrix_covers_three_kubernetes_minors_and_both_flavors() {
    let text = std::fs::read_to_string(harness::fixtures::repo_root().join(".github/workflows/nightly.yml")).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let job = &doc["jobs"]["e2e"];
    let minors: std::collections::BTreeSet<String> = job["strategy"]["matrix"]["kubernetes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().rsplit_once('.').unwrap().0.to_string())
        .collect();
    assert_eq!(minors.len(), 3, "{minors:?}");
    assert_eq!(
        job["strategy"]["matrix"]["flavor"],
        serde_json::json!(["openbao", "vault"])
    );
    assert_eq!(job["strategy"]["fail-fast"], false);
    for step in job["steps"].as_array().unwrap() {
        if let Some(uses) = step["uses"].as_str() {
            let (_, reference) = uses.split_once('@').unwrap();
            assert_eq!(reference.len(), 40, "{uses} is pinned by commit");
        }
    }
}
