//! External commands (`kind`, `docker`, build scripts): bounded, logged to a file, and a failure
//! names the command, its last line of output and where the whole log is.

use std::{fs::OpenOptions, io::Write, path::Path, process::Stdio, time::Duration};

use tokio::process::Command;

use crate::{Error, Result, wait};

/// Runs `command`, appends its command line and output to `log`, and returns its stdout.
pub async fn run_logged(what: &str, command: &mut Command, log: &Path, timeout: Duration) -> Result<String> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    }
    let shown = format!("{:?}", command.as_std());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(Error::io(format!("cannot run {what}")))?;
    let output = wait::within(what, timeout, async {
        child
            .wait_with_output()
            .await
            .map_err(Error::io(format!("{what} failed to run")))
    })
    .await?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(Error::io(format!("cannot write {}", log.display())))?;
    let _ = writeln!(file, "$ {shown}\n{stdout}{stderr}[exit: {}]", output.status);
    if !output.status.success() {
        let last_line = stderr
            .lines()
            .chain(stdout.lines())
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .to_string();
        return Err(Error::Command {
            what: what.to_string(),
            last_line,
            log: log.to_path_buf(),
        });
    }
    Ok(stdout)
}
