//! The `harness` command as a user runs it: real OpenBao servers, the stock `bao` CLI, and the
//! promise that bad input gives one clear line, a non-zero exit and nothing half-created.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use harness::{config::Config, paths, vault::server::VaultServer};

/// A temporary working directory with its own state dir, so tests never share a server.
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn harness(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(self.dir.path())
            .env("HARNESS_STATE_DIR", self.state_dir())
            .env_remove("HARNESS_CONFIG")
            .args(args)
            .output()
            .unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Everything under the state dir, to prove a failed command left nothing behind.
    fn leftovers(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                found.push(entry.path());
                walk(&entry.path(), found);
            }
        }
        let mut found = Vec::new();
        walk(&self.state_dir(), &mut found);
        found
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails unless the command failed with one line on stderr, `error: ...` containing `expected`.
/// (Progress lines of steps that ran before the failure may precede it.)
#[track_caller]
fn assert_one_line_error(o: &Output, expected: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "must fail: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line on stderr, got:\n{err}");
    assert_eq!(
        err.trim_end().lines().last(),
        Some(errors[0]),
        "the error is the last line:\n{err}"
    );
    assert!(
        errors[0].contains(expected),
        "stderr should contain {expected:?}, got: {err}"
    );
}

/// Runs the pinned `bao` with the exports `harness vault env` printed.
fn stock_cli(exports: &str, args: &[&str]) -> Output {
    let mut command = Command::new(paths::server_binary(harness::config::Flavor::OpenBao, None).unwrap());
    for line in exports.lines() {
        let Some((key, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) else {
            continue;
        };
        let value = match value {
            v if v.contains("HARNESS_VAULT_TOKEN_FILE") => continue,
            v => v.trim_matches('"').to_string(),
        };
        command.env(key, value);
    }
    let token_file = exports
        .lines()
        .find_map(|l| l.strip_prefix("export HARNESS_VAULT_TOKEN_FILE="))
        .expect("vault env names the token file");
    command.env("VAULT_TOKEN", std::fs::read_to_string(token_file).unwrap());
    command.args(args).output().unwrap()
}

#[test]
fn vault_up_serves_the_articles_setup_to_the_stock_cli_and_down_removes_everything() {
    let work = Workdir::new();
    let up = work.harness(&["vault", "up", "--port", "0"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let again = work.harness(&["vault", "up", "--port", "0"]);
    assert!(
        stdout(&again).contains("already up"),
        "up is idempotent: {}",
        stdout(&again)
    );

    let env = work.harness(&["vault", "env"]);
    let exports = stdout(&env);
    assert!(exports.contains("export VAULT_ADDR=http://127.0.0.1:"), "{exports}");

    let status = stock_cli(&exports, &["status", "-format=json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        (
            &status["type"],
            &status["initialized"],
            &status["sealed"],
            &status["n"],
            &status["t"],
            &status["storage_type"]
        ),
        (
            &"shamir".into(),
            &true.into(),
            &false.into(),
            &5.into(),
            &3.into(),
            &"raft".into()
        )
    );
    let policies = stdout(&stock_cli(&exports, &["policy", "list"]));
    assert_eq!(policies.lines().collect::<Vec<_>>(), ["default", "read-policy", "root"]);
    let secret = stock_cli(&exports, &["kv", "get", "-format=json", "secret/mysecret"]);
    let secret: serde_json::Value = serde_json::from_slice(&secret.stdout).unwrap();
    let defaults = Config::default();
    for (key, value) in defaults.kv.data.iter() {
        use harness::secret::ExposeSecret;
        assert_eq!(secret["data"][key], value.expose_secret(), "kv get returns {key}");
    }

    let status = work.harness(&["vault", "status"]);
    assert!(stdout(&status).contains("Storage Type  raft"), "{}", stdout(&status));

    // Nothing the harness printed or wrote outside secrets.json and token holds a secret.
    let vault_dir = work.state_dir().join("vault");
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vault_dir.join("secrets.json")).unwrap()).unwrap();
    let mut secrets: Vec<String> = vec![keys["root_token"].as_str().unwrap().to_string()];
    secrets.extend(
        keys["unseal_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string()),
    );
    let mut seen = String::new();
    for o in [&up, &again, &env, &status] {
        seen.push_str(&stdout(o));
        seen.push_str(&stderr(o));
    }
    for file in ["state.json", "server.log", "config.hcl"] {
        seen.push_str(&std::fs::read_to_string(vault_dir.join(file)).unwrap());
    }
    assert!(
        secrets.iter().all(|s| !seen.contains(s.as_str())),
        "a root token or unseal key leaked"
    );
    for file in ["secrets.json", "token"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(vault_dir.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is owner-only");
    }

    let down = work.harness(&["vault", "down"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(!vault_dir.exists(), "down removes the state");
    assert!(
        harness::vault::server::find_by_config(&vault_dir.join("config.hcl")).is_empty(),
        "down stops the server"
    );
    assert!(work.harness(&["vault", "down"]).status.success(), "down is idempotent");
}

#[test]
fn harness_run_prints_a_passing_table_and_writes_the_results() {
    let work = Workdir::new();
    let run = work.harness(&["run", "--out", "results"]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let printed = stdout(&run);
    assert!(printed.contains("12/12 checks passed"), "{printed}");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.dir.path().join("results/vault-tier.json")).unwrap()).unwrap();
    assert_eq!(results["checks"].as_array().unwrap().len(), 12);
    assert!(
        results["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true)
    );
}

#[test]
fn an_unknown_flag_value_is_one_line_and_exit_2() {
    let work = Workdir::new();
    let o = work.harness(&["vault", "up", "--flavor", "consul"]);
    assert_one_line_error(&o, "invalid value 'consul' for '--flavor <FLAVOR>'");
    assert_eq!(o.status.code(), Some(2));
    assert!(work.leftovers().is_empty());
}

#[test]
fn an_invalid_config_file_is_one_line_naming_the_key_and_creates_nothing() {
    let work = Workdir::new();
    let config = work.write("bad.toml", "[vault]\nkey_threshold = 9\n");
    let o = work.harness(&["--config", config.to_str().unwrap(), "vault", "up", "--port", "0"]);
    assert_one_line_error(&o, "vault.key_threshold (9) must be between 1 and vault.key_shares (5)");
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}

#[test]
fn a_port_in_use_is_refused_and_nothing_is_left_behind() {
    let work = Workdir::new();
    let held = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let o = work.harness(&["vault", "up", "--port", &port]);
    assert_one_line_error(&o, &format!("port {port} on 127.0.0.1 is already in use"));
    assert!(!work.state_dir().join("vault").exists(), "{:?}", work.leftovers());
}

#[test]
fn a_missing_server_binary_names_the_install_command() {
    let work = Workdir::new();
    let config = work.write("missing.toml", "[vault]\nbinary = \"/nonexistent/bao\"\n");
    let o = work.harness(&["--config", config.to_str().unwrap(), "vault", "up", "--port", "0"]);
    assert_one_line_error(&o, "OpenBao binary /nonexistent/bao not found");
    assert!(!work.state_dir().join("vault").exists());

    let o = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(work.dir.path())
        .env("PATH", "/usr/bin:/bin")
        .env("HARNESS_CACHE", work.dir.path().join("empty-cache"))
        .args(["run", "--out", "r"])
        .output()
        .unwrap();
    assert_one_line_error(&o, "run scripts/install-bao.sh");
}

#[tokio::test]
async fn a_vault_initialised_by_someone_else_is_refused_by_harness_run() {
    let server = VaultServer::start_scratch(&Config::default().vault).await.unwrap();
    let _theirs = server.vault().unwrap().init(1, 1).await.unwrap();
    let work = Workdir::new();
    let o = work.harness(&["run", "--out", "r", "--vault-addr", &server.endpoint().addr]);
    assert_one_line_error(&o, "is already initialised by someone else");
}

#[test]
fn report_needs_a_directory_with_samples_and_says_so_in_one_line() {
    let work = Workdir::new();
    let o = work.harness(&["report"]);
    assert_one_line_error(&o, "--in <DIR>");
    assert_eq!(o.status.code(), Some(2));
    std::fs::create_dir(work.dir.path().join("empty")).unwrap();
    let o = work.harness(&["report", "--in", "empty"]);
    assert_one_line_error(&o, "no samples in");
    assert!(!work.dir.path().join("empty/report").exists(), "nothing half-written");
}

#[test]
fn report_renders_markdown_json_and_charts_from_samples() {
    let work = Workdir::new();
    let run = work.dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let lines: String = (1..=12)
        .map(|i| {
            format!(
                "{{\"method\":\"some_method\",\"profile\":\"tuned\",\"metric\":\"rotation_latency\",\"value\":{},\"unit\":\"ms\",\"outcome\":\"measured\",\"versions\":{{\"openbao\":\"2.7.2\"}}}}\n",
                i * 1000
            )
        })
        .collect();
    std::fs::write(run.join("samples.jsonl"), lines).unwrap();
    let o = work.harness(&["report", "--in", "run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(run.join("report/report.md")).unwrap();
    assert!(
        md.contains("| some_method | tuned | - / - (0) | 6.0 s / 12.0 s / 12.0 s (12) |"),
        "{md}"
    );
    assert!(md.contains("openbao 2.7.2"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report/report.json")).unwrap()).unwrap();
    assert_eq!(json["methods"][0]["rotation"]["samples"], 12);
    let svg = std::fs::read_to_string(run.join("report/rotation_latency.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 12);

    let o = work.harness(&["report", "--in", "run", "--out", "elsewhere"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let elsewhere = std::fs::read_to_string(work.dir.path().join("elsewhere/report.md")).unwrap();
    assert_eq!(elsewhere, md, "--out writes the same report elsewhere");
}

#[test]
fn report_refuses_samples_of_two_runs_in_one_line_and_labels_them_when_merged() {
    let work = Workdir::new();
    let runs = work.dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    for (file, run) in [("a.jsonl", "run-a"), ("b.jsonl", "run-b")] {
        let line = format!(
            "{{\"method\":\"some_method\",\"profile\":\"tuned\",\"metric\":\"delivery_latency\",\"value\":1500,\"unit\":\"ms\",\"outcome\":\"measured\",\"versions\":{{}},\"run\":{{\"id\":\"{run}\",\"commit\":\"abc\",\"host_cpus\":2}},\"started_at\":1796157890.5,\"concurrent\":[]}}\n"
        );
        std::fs::write(runs.join(file), line).unwrap();
    }
    let o = work.harness(&["report", "--in", "runs"]);
    assert_one_line_error(&o, "the samples come from 2 runs (run-a, run-b); pass --merge-runs");
    assert!(!runs.join("report").exists(), "nothing half-written");

    let o = work.harness(&["report", "--in", "runs", "--merge-runs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(runs.join("report/report.md")).unwrap();
    assert!(md.contains("Run run-a: harness commit abc, 2 host CPUs"), "{md}");
    assert!(md.contains("| run | method | profile |"), "{md}");
    assert!(md.contains("| run-a | some_method | tuned | 1.5 s |"), "{md}");
    assert!(md.contains("| run-b | some_method | tuned | 1.5 s |"), "{md}");
}

#[test]
fn an_unknown_delivery_method_is_one_line_and_exit_2() {
    let work = Workdir::new();
    let o = work.harness(&["run", "--methods", "sidecar,csi"]);
    assert_one_line_error(&o, "unknown delivery method \"sidecar\"");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn doctor_lists_a_missing_bao_with_its_install_command_and_fails() {
    let work = Workdir::new();
    let o = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(work.dir.path())
        .env("PATH", "/usr/bin:/bin")
        .env("HARNESS_CACHE", work.dir.path().join("empty-cache"))
        .arg("doctor")
        .output()
        .unwrap();
    let table = stdout(&o);
    assert!(
        table.contains("MISSING (required)") && table.contains("scripts/install-bao.sh"),
        "{table}"
    );
    assert_one_line_error(&o, "required prerequisite(s) missing");

    let o = work.harness(&["doctor"]);
    assert!(
        o.status.success(),
        "with the pinned bao installed doctor passes: {}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("ok: OpenBao v2.7.2"), "{}", stdout(&o));
}

#[test]
fn a_wrong_kube_context_is_one_line_and_creates_nothing() {
    let work = Workdir::new();
    let kubeconfig = work.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {}}]\ncontexts: [{name: only-this, context: {cluster: c, user: u}}]\n",
    );
    let config = work.write(
        "existing.toml",
        &format!(
            "[clusters]\nsubstrate = \"existing\"\nvault = \"only-this\"\napp = \"no-such-context\"\nkubeconfig = {:?}\n",
            kubeconfig.display().to_string()
        ),
    );
    let o = work.harness(&["--config", config.to_str().unwrap(), "up"]);
    assert_one_line_error(&o, "kube context `no-such-context` (clusters.app) is not in");
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}

impl Workdir {
    /// A directory holding only a `docker` that answers `docker version` with `exit_code` (the
    /// daemon is what is under test elsewhere; here it is what the harness checks first).
    fn path_with_docker_answering(&self, exit_code: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let docker = bin.join("docker");
        std::fs::write(&docker, format!("#!/bin/sh\nexit {exit_code}\n")).unwrap();
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    /// `harness <args>` with only `path` on PATH and an empty tool cache.
    fn harness_with_path(&self, path: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(self.dir.path())
            .env("HARNESS_STATE_DIR", self.state_dir())
            .env("HARNESS_CACHE", self.dir.path().join("empty-cache"))
            .env("PATH", path)
            .env_remove("HARNESS_CONFIG")
            .args(args)
            .output()
            .unwrap()
    }
}

#[test]
fn up_without_docker_names_the_install_command_and_creates_nothing() {
    let work = Workdir::new();
    let o = work.harness_with_path(Path::new("/nonexistent"), &["up"]);
    assert_one_line_error(&o, "docker not found: scripts/docker/up.sh");
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}

#[test]
fn up_with_a_docker_daemon_that_does_not_answer_says_so_and_creates_nothing() {
    let work = Workdir::new();
    let path = work.path_with_docker_answering(1);
    let o = work.harness_with_path(&path, &["up"]);
    assert_one_line_error(&o, "the Docker daemon does not answer");
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}

#[test]
fn up_without_kind_names_the_install_command_and_creates_nothing() {
    let work = Workdir::new();
    let path = work.path_with_docker_answering(0);
    let o = work.harness_with_path(&path, &["up"]);
    let kind = format!(
        "kind {} not found: run `harness images build`",
        harness::fixtures::version("KIND_VERSION")
    );
    assert_one_line_error(&o, &kind);
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}

#[test]
fn images_build_without_go_names_the_install_command() {
    let work = Workdir::new();
    let path = work.path_with_docker_answering(0);
    let o = work.harness_with_path(&path, &["images", "build"]);
    assert_one_line_error(&o, "go not found: install Go");
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}

#[test]
fn the_vault_flavor_in_offline_clusters_is_refused_before_anything_is_created() {
    let work = Workdir::new();
    let config = work.write("vault.toml", "[vault]\nflavor = \"vault\"\n");
    let o = work.harness(&["--config", config.to_str().unwrap(), "up", "--images", "offline"]);
    assert_one_line_error(&o, "use --images online");
    assert!(work.leftovers().is_empty(), "{:?}", work.leftovers());
}
