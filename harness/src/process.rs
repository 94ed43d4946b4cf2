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
    // Its own process group, killed whole when this future is dropped (timeout, Ctrl-C): `kind`
    // runs `docker` children that would otherwise go on creating containers after we gave up.
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command.spawn().map_err(Error::io(format!("cannot run {what}")))?;
    let group = GroupGuard(child.id());
    let output = wait::within(what, timeout, async {
        child
            .wait_with_output()
            .await
            .map_err(Error::io(format!("{what} failed to run")))
    })
    .await?;
    std::mem::forget(group);
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

/// Kills a child's whole process group when dropped before the child was reaped.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
