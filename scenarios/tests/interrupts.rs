//! Ctrl-C at random phases and a panic in each phase of `harness up` (two more clusters, next
//! to the ones under test) and of `harness run`: each time nothing is left behind — no
//! cluster, no container, no Docker network, no cluster state, no server process, no
//! namespace. Each test takes every test thread: it needs the cores, and the delivery ones
//! must not see other scenarios' namespaces (nextest profile overrides). Panics come from
//! `HARNESS_FAILPOINT`.
//!
//! Run just these: `cargo nextest run -P e2e -E 'binary(interrupts)'`.

use std::{path::Path, time::Duration};

use harness::{
    cluster::{Role, kind::kind_binary},
    delivery::Method,
    paths, wait,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use rand::Rng;
use scenarios::cli::{harness_binary, spawn_quiet};
use tokio::process::Command;

const NAMES: [&str; 2] = ["sigint-vault", "sigint-app"];

async fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().await.unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn docker_networks() -> Vec<String> {
    let mut names: Vec<String> = output("docker", &["network", "ls", "--format", "{{.Name}}"])
        .await
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

/// What a `harness` run with this test's clusters can leave: containers and kind clusters
/// named after them, and Docker networks that were not there before the test.
struct Leftovers {
    networks_before: Vec<String>,
}

impl Leftovers {
    async fn baseline() -> Self {
        Leftovers {
            networks_before: docker_networks().await,
        }
    }

    async fn found(&self) -> Vec<String> {
        let mut found: Vec<String> = output("docker", &["ps", "-a", "--format", "{{.Names}}"])
            .await
            .lines()
            .filter(|n| NAMES.iter().any(|c| n.starts_with(c)))
            .map(|n| format!("container {n}"))
            .collect();
        let kind = kind_binary().unwrap();
        let clusters = output(kind.to_str().unwrap(), &["get", "clusters"]).await;
        found.extend(
            clusters
                .lines()
                .filter(|c| NAMES.contains(c))
                .map(|c| format!("kind cluster {c}")),
        );
        found.extend(
            docker_networks()
                .await
                .into_iter()
                .filter(|n| !self.networks_before.contains(n))
                .map(|n| format!("docker network {n}")),
        );
        found
    }
}

/// Server processes of the pinned OpenBao binary.
async fn bao_servers() -> usize {
    output("pgrep", &["-f", "bao-[0-9.]+ server"]).await.lines().count()
}

/// A scratch state dir and config for one `harness` invocation.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// With this test's cluster names, so the clusters under test are never touched.
    fn with_test_clusters() -> Self {
        Self::with_config(&format!(
            "[clusters]\nvault = \"{}\"\napp = \"{}\"\n",
            NAMES[0], NAMES[1]
        ))
    }

    fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("harness.toml"), config).unwrap();
        Scratch { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `harness <args>` (the binary the setup script built) on this state dir and config.
    fn harness(&self, args: &[&str]) -> Command {
        let mut command = Command::new(harness_binary());
        command
            .current_dir(self.path())
            .env("HARNESS_STATE_DIR", self.path().join("state"))
            .env("HARNESS_CONFIG", self.path().join("harness.toml"))
            .args(args);
        command
    }

    fn quiet(&self, args: &[&str]) -> tokio::process::Child {
        spawn_quiet(self.harness(args))
    }

    async fn down(&self) -> bool {
        self.harness(&["down"]).status().await.unwrap().success()
    }

    /// Cluster state files left in the state dir.
    fn cluster_state(&self) -> Vec<String> {
        std::fs::read_dir(self.path().join("state/clusters"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") || n.ends_with(".kubeconfig"))
            .collect()
    }

    /// Starts `harness <args>`, interrupts it after `after`, and returns its exit code.
    async fn interrupt(&self, args: &[&str], after: Duration) -> Option<i32> {
        interrupt(self.quiet(args), after).await
    }
}

/// Sends SIGINT to `child` after `after`; its exit code.
async fn interrupt(mut child: tokio::process::Child, after: Duration) -> Option<i32> {
    wait::pause(after).await;
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let status = wait::within("the interrupted harness to exit", Duration::from_secs(180), async {
        child
            .wait()
            .await
            .map_err(|e| harness::Error::State(format!("waiting for harness: {e}")))
    })
    .await
    .unwrap();
    status.code()
}

#[tokio::test]
async fn ctrl_c_at_ten_random_phases_of_up_leaves_no_cluster_container_network_or_state() {
    scenarios::init_tracing();
    let leftovers = Leftovers::baseline().await;
    assert_eq!(leftovers.found().await, Vec::<String>::new(), "clean before");
    for round in 0..10 {
        let scratch = Scratch::with_test_clusters();
        let after = Duration::from_secs_f64(rand::rng().random_range(0.5..30.0));
        let code = scratch.interrupt(&["up"], after).await;
        if code == Some(0) {
            // `up` finished before the signal: then `down` must leave the same nothing.
            assert!(scratch.down().await);
        } else {
            assert_eq!(code, Some(130), "round {round}: Ctrl-C after {after:?} exits 130");
        }
        let left = leftovers.found().await;
        println!(
            "round {round}: SIGINT after {:.1} s → exit {code:?}, left {left:?}",
            after.as_secs_f64()
        );
        assert_eq!(
            left,
            Vec::<String>::new(),
            "round {round}: nothing left after {after:?}"
        );
        assert_eq!(
            scratch.cluster_state(),
            Vec::<String>::new(),
            "round {round}: no cluster state after {after:?}"
        );
    }
}

/// A crashed `up` (SIGKILL: no cleanup at all) leaves clusters behind; `harness down` with
/// the same config finds them by name and removes them.
#[tokio::test]
async fn down_removes_what_a_killed_up_left_behind() {
    scenarios::init_tracing();
    let leftovers = Leftovers::baseline().await;
    for round in 0..3 {
        let scratch = Scratch::with_test_clusters();
        let after = Duration::from_secs_f64(rand::rng().random_range(3.0..25.0));
        let mut child = scratch.quiet(&["up"]);
        wait::pause(after).await;
        child.kill().await.unwrap();
        // kind itself is not the harness: a `kind create` it started runs to its end.
        wait::until(
            "the orphaned kind create to finish",
            Duration::from_secs(180),
            Duration::from_millis(500),
            || async {
                let running = output("pgrep", &["-f", "kind create cluster --name sigint-"]).await;
                Ok(running.trim().is_empty().then_some(()))
            },
        )
        .await
        .unwrap();
        let crashed = leftovers.found().await;
        assert!(scratch.down().await, "round {round}: down after a crash succeeds");
        println!(
            "round {round}: SIGKILL after {:.1} s left {crashed:?}; down removed them",
            after.as_secs_f64()
        );
        assert_eq!(
            leftovers.found().await,
            Vec::<String>::new(),
            "round {round}: down left something"
        );
    }
}

#[tokio::test]
async fn ctrl_c_at_ten_random_phases_of_run_leaves_no_server_process() {
    scenarios::init_tracing();
    let before = bao_servers().await;
    for round in 0..10 {
        let scratch = Scratch::with_config("");
        let after = Duration::from_secs_f64(rand::rng().random_range(0.1..3.0));
        let code = scratch
            .interrupt(&["run", "--no-delivery", "--out", "out"], after)
            .await;
        assert!(matches!(code, Some(0) | Some(130)), "round {round}: exit {code:?}");
        let servers = wait::until(
            "the scratch server to be gone",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async { Ok((bao_servers().await <= before).then_some(())) },
        )
        .await;
        println!(
            "round {round}: SIGINT after {:.1} s → exit {code:?}",
            after.as_secs_f64()
        );
        assert!(servers.is_ok(), "round {round}: a server process outlived harness run");
    }
}

#[tokio::test]
async fn a_panic_in_each_phase_of_up_leaves_no_cluster_container_network_or_state() {
    scenarios::init_tracing();
    let leftovers = Leftovers::baseline().await;
    for point in ["up-clusters-created", "up-vault-initialised"] {
        let scratch = Scratch::with_test_clusters();
        let stderr = panicked_at(scratch.harness(&["up"]), point).await;
        assert!(
            stderr.trim_end().ends_with("cleaned up what this command had created"),
            "{point}: {stderr}"
        );
        assert_eq!(leftovers.found().await, Vec::<String>::new(), "{point}: nothing left");
        assert_eq!(scratch.cluster_state(), Vec::<String>::new(), "{point}: no state");
    }
}

/// Runs `command` with a panic at `point`: it must exit 1 and report the panic. Its stderr.
async fn panicked_at(mut command: Command, point: &str) -> String {
    let out = command.env("HARNESS_FAILPOINT", point).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("panic at {point}: exit {:?}", out.status.code());
    assert_eq!(out.status.code(), Some(1), "{point}: {stderr}");
    assert!(
        stderr.contains(&format!("panicked: failpoint {point}")),
        "{point}: {stderr}"
    );
    stderr
}

/// `harness <args>` on the clusters under test (their state dir and config).
fn on_the_clusters_under_test(args: &[&str]) -> Command {
    let mut command = Command::new(harness_binary());
    command.env("HARNESS_STATE_DIR", paths::state_dir()).args(args);
    if let Some(config) = paths::config_file() {
        command.env("HARNESS_CONFIG", config);
    }
    command
}

/// Namespaces a delivery or fault run creates in the app cluster, once their deletion is
/// done (bounded: a consumer's pods take a few seconds to stop).
async fn run_namespaces_left() -> Vec<String> {
    let app = scenarios::env::cluster(Role::App);
    let namespaces = Api::<Namespace>::all(app.client().await.unwrap());
    let left = || async {
        let names: Vec<String> = namespaces
            .list(&Default::default())
            .await
            .map_err(|e| harness::Error::State(e.to_string()))?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .filter(|n| n.starts_with("delivery-") || n.starts_with("fault-"))
            .collect();
        Ok(names)
    };
    let gone = wait::until(
        "the run's namespaces to be deleted",
        Duration::from_secs(120),
        Duration::from_secs(1),
        || async { Ok(left().await?.is_empty().then_some(())) },
    )
    .await;
    match gone {
        Ok(()) => Vec::new(),
        Err(_) => left().await.unwrap(),
    }
}

#[tokio::test]
async fn a_panic_in_each_phase_of_run_leaves_no_server_process_or_namespace() {
    scenarios::init_tracing();
    let before = bao_servers().await;
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    // The first and the last registered method: one with and one without cluster components.
    let methods = Method::all();
    let two = format!("{},{}", methods[0], methods[methods.len() - 1]);
    for (point, args) in [
        ("run-scratch-server-started", vec!["run", "--no-delivery", "--out", out]),
        ("run-consumers-started", vec!["run", "--methods", &two, "--out", out]),
    ] {
        panicked_at(on_the_clusters_under_test(&args), point).await;
        assert!(
            bao_servers().await <= before,
            "{point}: a server process outlived harness run"
        );
        assert_eq!(run_namespaces_left().await, Vec::<String>::new(), "{point}");
    }
}

/// A panic while Vault is away (sealed, its pod just killed, scaled to zero) in each of the
/// three outages: Vault is brought back, the outage's namespaces go, the run fails.
#[tokio::test]
async fn a_panic_during_each_vault_outage_brings_vault_back_and_leaves_no_namespace() {
    scenarios::init_tracing();
    let out_dir = tempfile::tempdir().unwrap();
    let first = Method::all()[0].name();
    let args = ["run", "--methods", first, "--faults", "--out"];
    let mut command = on_the_clusters_under_test(&args);
    command.arg(out_dir.path());
    let stderr = panicked_at(command, "fault-vault-away").await;
    let panicked = stderr.matches("panicked: failpoint fault-vault-away").count();
    assert_eq!(panicked, 3, "each outage failed on the panic: {stderr}");
    let vault = scenarios::env::root_vault();
    let status = vault.status().await.expect("Vault answers");
    println!("after three panics with Vault away: sealed {}", status.sealed);
    assert!(!status.sealed, "Vault is back and unsealed");
    assert_eq!(run_namespaces_left().await, Vec::<String>::new());
}

#[tokio::test]
async fn ctrl_c_at_three_random_phases_of_delivery_leaves_no_namespace() {
    scenarios::init_tracing();
    for round in 0..3 {
        let out_dir = tempfile::tempdir().unwrap();
        // Every registered method (no --methods).
        let args = ["run", "--out"];
        let mut command = on_the_clusters_under_test(&args);
        command.arg(out_dir.path());
        let child = spawn_quiet(command);
        // The Vault tier takes ~3 s; delivery starts right after it.
        let after = Duration::from_secs_f64(rand::rng().random_range(5.0..40.0));
        let code = interrupt(child, after).await;
        let left = run_namespaces_left().await;
        println!(
            "round {round}: SIGINT after {:.1} s → exit {code:?}, left {left:?}",
            after.as_secs_f64()
        );
        assert_eq!(code, Some(130), "round {round}");
        assert_eq!(left, Vec::<String>::new(), "round {round}");
    }
}
