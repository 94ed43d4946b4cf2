//! What else is going on while a figure is measured, and the one phase that must run alone.
//!
//! Delivery latency is CPU-sensitive: a pod start measured while another method's pods start, or
//! while clusters are created, measures the neighbour too. Every measured phase (and every
//! cluster scenario, through the scenarios' wrapper) declares itself as an [`Activity`]: a small
//! file in `<state-dir>/activity/` holding a label, removed when the phase ends. A sample records
//! the labels of the other activities it saw start and end. The CPU-bound phases — installing a
//! method and starting consumer pods — also take the [`Gate`], an exclusive `flock` on a file in
//! the same directory, so that across methods, processes and test binaries only one such phase
//! runs at a time; timer-bound phases (rotations, overhead, outages) overlap freely and are
//! recorded.

use std::{
    collections::BTreeSet,
    fs::File,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use nix::fcntl::{Flock, FlockArg};

use crate::{Error, Result, wait};

/// How long a phase waits for the gate: every other method's install and pod starts, each
/// bounded by its own waits (3 rounds × 180 s in the quick plan), with room to spare.
const GATE_WAIT: Duration = Duration::from_secs(30 * 60);
const LOCK_FILE: &str = "pod-starts.lock";

/// The activity directory of a state dir.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("activity")
}

/// A running phase, declared until dropped.
#[derive(Debug)]
pub struct Activity {
    dir: PathBuf,
    file: PathBuf,
    pub label: String,
}

impl Activity {
    /// Declares `label` as running in `dir`.
    pub fn begin(dir: &Path, label: &str) -> Result<Activity> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
        let file = dir.join(format!(
            "{}-{}.activity",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&file, label).map_err(Error::io(format!("cannot write {}", file.display())))?;
        Ok(Activity {
            dir: dir.to_path_buf(),
            file,
            label: label.to_string(),
        })
    }

    /// Labels of the other activities running now (those of dead processes are removed).
    pub fn others(&self) -> Vec<String> {
        running(&self.dir)
            .into_iter()
            .filter(|(file, _)| *file != self.file)
            .map(|(_, label)| label)
            .collect()
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Every declared activity in `dir` whose process still runs, as (file, label).
fn running(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let Some(pid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.ends_with(".activity"))
            .and_then(|n| n.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if let Ok(label) = std::fs::read_to_string(&path) {
            found.push((path, label));
        }
    }
    found.sort();
    found
}

/// The labels seen by one sample: those running when it started and when it ended.
#[derive(Debug, Default, Clone)]
pub struct Seen(BTreeSet<String>);

impl Seen {
    pub fn look(&mut self, activity: &Activity) {
        self.0.extend(activity.others());
    }

    pub fn labels(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

/// The exclusive right to start pods: held by one CPU-bound phase at a time.
pub struct Gate {
    _lock: Flock<File>,
}

impl Gate {
    /// Waits (bounded) until no other phase holds the gate in `dir`, then holds it until dropped.
    pub async fn acquire(dir: &Path, label: &str) -> Result<Gate> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
        let path = dir.join(LOCK_FILE);
        let what = format!("the pod-start gate in {} for {label}", dir.display());
        wait::until(&what, GATE_WAIT, Duration::from_millis(250), || async {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(Error::io(format!("cannot open {}", path.display())))?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => Ok(Some(Gate { _lock: lock })),
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
                Err((_, e)) => Err(Error::State(format!("cannot lock {}: {e}", path.display()))),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activity_sees_the_others_until_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let a = Activity::begin(dir.path(), "a: pod starts").unwrap();
        let b = Activity::begin(dir.path(), "b: rotations").unwrap();
        assert_eq!(a.others(), ["b: rotations"]);
        let mut seen = Seen::default();
        seen.look(&a);
        drop(b);
        assert!(a.others().is_empty());
        seen.look(&a);
        assert_eq!(seen.labels(), ["b: rotations"]);
    }

    #[test]
    fn an_activity_of_a_dead_process_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        // No process has pid 0 in /proc.
        std::fs::write(dir.path().join("0-0.activity"), "left by a killed run").unwrap();
        let a = Activity::begin(dir.path(), "a").unwrap();
        assert!(a.others().is_empty());
        assert!(!dir.path().join("0-0.activity").exists());
    }

    #[tokio::test]
    async fn the_gate_admits_one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = Gate::acquire(dir.path(), "first").await.unwrap();
        let second = tokio::time::timeout(Duration::from_millis(600), Gate::acquire(dir.path(), "second")).await;
        assert!(second.is_err(), "a second holder waits while the first holds the gate");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), Gate::acquire(dir.path(), "second")).await;
        assert!(
            second.is_ok_and(|g| g.is_ok()),
            "the gate is free once the first holder drops it"
        );
    }
}
