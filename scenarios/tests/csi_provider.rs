//! The harness's Vault provider for the Secrets Store CSI driver (tools/csi-plugins) replays the
//! golden vectors of vault-csi-provider 1.7.x: its Go conformance tests run here, through the
//! driver's v1alpha1 gRPC client against a stub Vault and a fake Kubernetes API. Every `Test…`
//! function in the provider's test files must be reported as passed, so a skipped or renamed
//! test fails this one.

use std::{process::Stdio, time::Duration};

/// A cold build of the test binary takes about a minute on 2 cores; anything past this is stuck.
const GO_TEST_TIMEOUT: Duration = Duration::from_secs(420);

fn declared_tests(dir: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with("_test.go") {
            let text = std::fs::read_to_string(&path).unwrap();
            names.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("func Test"))
                    .map(|rest| format!("Test{}", rest.split('(').next().unwrap())),
            );
        }
    }
    names.sort();
    names
}

#[tokio::test]
async fn the_harness_provider_replays_vault_csi_provider_golden_vectors() {
    let module = harness::fixtures::repo_root().join("tools/csi-plugins");
    let declared = declared_tests(&module.join("provider"));
    assert!(
        declared.iter().any(|n| n.starts_with("TestGoldenVectors")) && declared.len() >= 10,
        "the provider's conformance tests: {declared:?}"
    );
    let child = tokio::process::Command::new("go")
        .args(["test", "-count=1", "-v", "./provider/"])
        .current_dir(&module)
        .env("GOFLAGS", "-mod=readonly")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("`go` on PATH (the image build needs it too)");
    let finished = harness::wait::within("go test ./provider/", GO_TEST_TIMEOUT, async {
        child
            .wait_with_output()
            .await
            .map_err(|e| harness::Error::State(format!("go test ./provider/: {e}")))
    })
    .await
    .unwrap();
    let output = String::from_utf8_lossy(&finished.stdout);
    let failed: Vec<_> = output
        .lines()
        .filter(|l| l.trim_start().starts_with("--- FAIL"))
        .collect();
    assert!(
        finished.status.success() && failed.is_empty(),
        "go test failed: {failed:?}\n{output}"
    );
    for name in &declared {
        assert!(
            output
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("--- PASS: {name} "))),
            "{name} did not pass:\n{output}"
        );
    }
}
