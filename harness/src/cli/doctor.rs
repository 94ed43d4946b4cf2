//! `harness doctor`: every prerequisite, whether it is there, and the command that installs it.

use std::process::{Command, ExitCode};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::{config::Flavor, fixtures, paths};

struct Prerequisite {
    name: &'static str,
    needed_for: &'static str,
    required: bool,
    found: Option<String>,
    install: String,
}

pub fn run() -> ExitCode {
    let prerequisites = [
        Prerequisite {
            name: "bao (OpenBao)",
            needed_for: "the default Vault flavor",
            required: true,
            found: paths::server_binary(Flavor::OpenBao, None)
                .ok()
                .and_then(|p| version_of(&p.display().to_string(), &["version"])),
            install: format!(
                "scripts/install-bao.sh  (OpenBao {})",
                fixtures::version("OPENBAO_VERSION")
            ),
        },
        Prerequisite {
            name: "vault (HashiCorp)",
            needed_for: "--flavor vault",
            required: false,
            found: paths::on_path("vault").and_then(|p| version_of(&p.display().to_string(), &["version"])),
            install: "install HashiCorp Vault so `vault` is on PATH".into(),
        },
        Prerequisite {
            name: "setpriv",
            needed_for: "servers die with the harness even on SIGKILL",
            required: false,
            found: paths::on_path("setpriv").map(|p| p.display().to_string()),
            install: "apt-get install util-linux".into(),
        },
        Prerequisite {
            name: "cargo-nextest",
            needed_for: "the test suite",
            required: false,
            found: version_of("cargo", &["nextest", "--version"]),
            install: format!(
                "scripts/install-nextest.sh  (cargo-nextest {})",
                fixtures::version("NEXTEST_VERSION")
            ),
        },
        Prerequisite {
            name: "docker engine",
            needed_for: "images and clusters (`harness images build`, `harness up`)",
            required: false,
            found: version_of("docker", &["info", "--format", "{{.ServerVersion}}"]),
            install: "scripts/docker/up.sh  (also registers the runc wrapper where CAP_SYS_RESOURCE is missing)".into(),
        },
        Prerequisite {
            name: "kind",
            needed_for: "`harness up` with the kind substrate",
            required: false,
            found: crate::cluster::kind::kind_binary()
                .ok()
                .and_then(|p| version_of(&p.display().to_string(), &["version"])),
            install: format!(
                "harness images build  (builds kind {} from its Go module)",
                fixtures::version("KIND_VERSION")
            ),
        },
        Prerequisite {
            name: "kind node image",
            needed_for: "offline clusters (nothing pulled)",
            required: false,
            found: version_of(
                "docker",
                &["image", "inspect", "--format", "{{.Id}}", &built_node_image()],
            )
            .map(|id| format!("{} ({})", built_node_image(), id.chars().take(19).collect::<String>())),
            install: "harness images build".into(),
        },
        Prerequisite {
            name: "go",
            needed_for: "building kind and cluster images from source",
            required: false,
            found: version_of("go", &["version"]),
            install: crate::prerequisite::GO_HINT.into(),
        },
    ];

    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["prerequisite", "needed for", "status", "install with"]);
    let mut missing_required = 0;
    for p in &prerequisites {
        let status = match (&p.found, p.required) {
            (Some(found), _) => format!("ok: {found}"),
            (None, true) => {
                missing_required += 1;
                "MISSING (required)".to_string()
            }
            (None, false) => "missing".to_string(),
        };
        let install = if p.found.is_some() {
            String::new()
        } else {
            p.install.clone()
        };
        table.add_row([p.name, p.needed_for, &status, &install]);
    }
    println!("{table}");
    if missing_required > 0 {
        eprintln!("error: {missing_required} required prerequisite(s) missing; run the commands above");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn built_node_image() -> String {
    crate::cluster::kind::ImageSource::Offline.node_image()
}

/// The first line a command prints about itself, or `None` when it is absent or fails.
fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}
