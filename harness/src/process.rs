//! External commands (`kind`, `docker`, build scripts): bounded, logged to a file, and a failure
//! names the command, its last line of output and where the whole log is.

use std::{fs::OpenOptions, io::Write, path::Path, process::Stdio, time::Duration};

use tokio::process::Command;

use crate::{Error, Result, wait};

/// Runs `command`, appends its command line and output to `log`, and returns its stdout.
pub async fn run_logged(what: &str, command: &mut Command, log: &Path, timeout: Duration) -> Result<String> {
    let finished = run(what, command, None, log, timeout).await?;
    match finished.code {
        Some(0) => Ok(finished.stdout),
        _ => Err(finished.failure(what, log)),
    }
}

/// Runs `command` with `input` on its stdin — never on its command line nor in `log`, so it may be
/// a secret — and returns its exit code and stdout when `accepted` takes the code (a `grep`
/// that found nothing exits 1). The command line and output go to `log`, as with [`run_logged`].
pub async fn run_fed(
    what: &str,
    command: &mut Command,
    input: &[u8],
    log: &Path,
    timeout: Duration,
    accepted: impl Fn(i32) -> bool,
) -> Result<(i32, String)> {
    let finished = run(what, command, Some(input), log, timeout).await?;
    match finished.code {
        Some(code) if accepted(code) => Ok((code, finished.stdout)),
        _ => Err(finished.failure(what, log)),
    }
}

/// How a command ended.
struct Finished {
    /// `None` when a signal ended it.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// The failure, named by the command's last line of output.
    fn failure(&self, what: &str, log: &Path) -> Error {
        let last_line = self
            .stderr
            .lines()
            .chain(self.stdout.lines())
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .to_string();
        Error::Command {
            what: what.to_string(),
            last_line,
            log: log.to_path_buf(),
        }
    }
}

async fn run(
    what: &str,
    command: &mut Command,
    input: Option<&[u8]>,
    log: &Path,
    timeout: Duration,
) -> Result<Finished> {
    use tokio::io::AsyncWriteExt;
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    }
    let shown = format!("{:?}", command.as_std());
    // Its own process group, killed whole when this future is dropped (timeout, Ctrl-C): `kind`
    // runs `docker` children that would otherwise go on creating containers after we gave up.
    command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(Error::io(format!("cannot run {what}")))?;
    let group = GroupGuard(child.id());
    let output = wait::within(what, timeout, async {
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            match stdin.write_all(input).await {
                // A command that exited without reading says why in its output and exit code.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Error::io(format!("cannot feed {what}"))(e));
                }
                _ => {}
            }
        } // dropped here: the command sees the end of its input
        child
            .wait_with_output()
            .await
            .map_err(Error::io(format!("{what} failed to run")))
    })
    .await?;
    std::mem::forget(group);
    let finished = Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(Error::io(format!("cannot write {}", log.display())))?;
    let _ = writeln!(
        file,
        "$ {shown}\n{}{}[exit: {}]",
        finished.stdout, finished.stderr, output.status
    );
    Ok(finished)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fed_input_reaches_the_command_but_neither_its_command_line_nor_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let haystack = dir.path().join("db");
        std::fs::write(&haystack, b"\x00\x01binary Zq9WkP2mXv7LrT4b more\x00").unwrap();
        let log = dir.path().join("logs/grep.log");
        let grep = |input: &'static str, file: std::path::PathBuf| {
            let log = log.clone();
            async move {
                let mut command = Command::new("grep");
                command.args(["-c", "-F", "-f", "-"]).arg(file);
                run_fed(
                    "grep",
                    &mut command,
                    input.as_bytes(),
                    &log,
                    Duration::from_secs(10),
                    |c| matches!(c, 0 | 1),
                )
                .await
            }
        };
        let (code, out) = grep("Zq9WkP2mXv7LrT4b", haystack.clone()).await.unwrap();
        assert_eq!((code, out.trim()), (0, "1"));
        let (code, _) = grep("NotInTheFile0000", haystack.clone()).await.unwrap();
        assert_eq!(code, 1);
        let err = grep("Zq9WkP2mXv7LrT4b", dir.path().join("missing")).await.unwrap_err();
        assert!(matches!(err, Error::Command { .. }), "{err}");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("[exit: exit status: 1]"), "{logged}");
        assert!(
            !logged.contains("Zq9WkP2mXv7LrT4b") && !logged.contains("NotInTheFile"),
            "{logged}"
        );
    }

    #[tokio::test]
    async fn a_failing_command_is_named_with_its_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sh.log");
        let mut ok = Command::new("sh");
        ok.args(["-c", "echo fine"]);
        assert_eq!(
            run_logged("sh ok", &mut ok, &log, Duration::from_secs(10))
                .await
                .unwrap(),
            "fine\n"
        );
        let mut failing = Command::new("sh");
        failing.args(["-c", "echo first >&2; echo 'the reason' >&2; exit 3"]);
        let err = run_logged("sh failing", &mut failing, &log, Duration::from_secs(10))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(err, format!("sh failing failed: the reason (log: {})", log.display()));
    }
}
