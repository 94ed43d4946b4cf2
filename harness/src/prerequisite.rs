//! What a command checks before it creates anything: the programs it shells out to are there and,
//! for Docker, answering. Each failure is one line naming the fix.

use std::{path::PathBuf, time::Duration};

use crate::{Error, Result, paths, wait};

pub const GO_HINT: &str = "install Go 1.24 or newer (images are built from Go modules)";
pub const DOCKER_HINT: &str = "scripts/docker/up.sh installs Debian's docker.io and starts it";

/// `name` on PATH, or the error that says how to get it.
pub fn program(name: &str, hint: &str) -> Result<PathBuf> {
    paths::on_path(name).ok_or_else(|| Error::MissingBinary {
        what: name.into(),
        hint: hint.into(),
    })
}

/// Docker's CLI is on PATH and its daemon answers.
pub async fn docker() -> Result<()> {
    program("docker", DOCKER_HINT)?;
    let version = tokio::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .kill_on_drop(true)
        .output();
    let output = wait::within("the Docker daemon to answer", Duration::from_secs(10), async {
        version.await.map_err(Error::io("cannot run docker"))
    })
    .await?;
    if !output.status.success() {
        return Err(Error::State(format!(
            "the Docker daemon does not answer ({DOCKER_HINT})"
        )));
    }
    Ok(())
}
