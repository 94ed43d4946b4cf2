//! The `harness` binary, as the scenarios that drive the CLI run it.

use std::{path::PathBuf, process::Stdio};

/// The `harness` binary the e2e setup script built (`cargo build --package harness`; the tests
/// are another package, so Cargo does not build it for them).
pub fn harness_binary() -> PathBuf {
    harness::fixtures::repo_root().join("target/debug/harness")
}

/// Starts `command` with its output discarded (runs whose output is not what is checked).
pub fn spawn_quiet(mut command: tokio::process::Command) -> tokio::process::Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.as_std().get_program()))
}
