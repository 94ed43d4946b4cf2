//! `harness vault up|env|status|down`: a local server with the article's setup that the stock
//! `bao`/`vault` CLI can be pointed at, the way `kind get kubeconfig` serves kubectl.

use std::{
    fs,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde::{Deserialize, Serialize};

use super::FlavorArg;
use crate::interrupt::interrupted;
use crate::{
    Error, Result,
    config::{Config, Flavor},
    secret::{ExposeSecret, InitKeys, write_private_file},
    tier::vault::Runbook,
    vault::{
        Endpoint, Vault, in_cluster,
        server::{self, Lifetime, VaultServer},
    },
};

#[derive(Debug, clap::Subcommand)]
pub enum VaultCommand {
    /// Start a server (server mode, not dev mode), init, unseal, and apply the article's setup.
    Up {
        #[command(flatten)]
        flavor: FlavorArg,
        /// Listener port (default: vault.port from the config, 8200).
        #[arg(long)]
        port: Option<u16>,
        /// Serve TLS with a CA the harness generates.
        #[arg(long)]
        tls: bool,
    },
    /// Print shell exports for the stock CLI: eval "$(harness vault env)". Points at the local
    /// server when it runs, else at the Vault `harness up` runs in the vault cluster.
    Env,
    /// Show the server's status.
    Status,
    /// Stop the server and remove everything `vault up` created.
    Down,
}

/// What `vault up` leaves in `<state-dir>/vault/state.json` (no secrets: those are in `secrets.json`, 0600).
#[derive(Debug, Deserialize, Serialize)]
struct VaultState {
    flavor: Flavor,
    pid: u32,
    endpoint: Endpoint,
    port: u16,
}

struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(state_dir: &Path) -> Self {
        Layout {
            dir: state_dir.join("vault"),
        }
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    fn secrets(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }
    fn token(&self) -> PathBuf {
        self.dir.join("token")
    }
    fn config(&self) -> PathBuf {
        self.dir.join("config.hcl")
    }

    fn load(&self) -> Result<Option<VaultState>> {
        let text = match fs::read_to_string(self.state()) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", self.state().display()))(e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::State(format!(
                "{} is damaged ({e}); run `harness vault down`",
                self.state().display()
            ))
        })
    }

    fn load_running(&self) -> Result<VaultState> {
        match self.load()? {
            Some(state) if server::is_running(state.pid, &self.config()) => Ok(state),
            Some(_) => Err(Error::State(format!(
                "the Vault in {} is not running; run `harness vault up` again",
                self.dir.display()
            ))),
            None => Err(Error::State(format!(
                "no Vault is up in {}; run `harness vault up`",
                self.dir.display()
            ))),
        }
    }
}

pub async fn run(command: VaultCommand, mut cfg: Config, state_dir: &Path) -> Result<ExitCode> {
    let layout = Layout::new(state_dir);
    match command {
        VaultCommand::Up { flavor, port, tls } => {
            flavor.apply(&mut cfg);
            cfg.vault.tls |= tls;
            up(&layout, &cfg, port.unwrap_or(cfg.vault.port)).await
        }
        VaultCommand::Env => env(&layout, state_dir),
        VaultCommand::Status => status(&layout).await,
        VaultCommand::Down => down(&layout).await,
    }
}

async fn up(layout: &Layout, cfg: &Config, port: u16) -> Result<ExitCode> {
    if let Some(state) = layout.load()? {
        if server::is_running(state.pid, &layout.config()) {
            println!(
                "{} is already up at {} (pid {})",
                state.flavor, state.endpoint.addr, state.pid
            );
            return Ok(ExitCode::SUCCESS);
        }
        return restart(layout, cfg, state).await;
    }
    if layout.dir.exists() {
        return Err(Error::State(format!(
            "{} exists but holds no harness state; run `harness vault down` to clear it",
            layout.dir.display()
        )));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&layout.dir)
        .map_err(Error::io(format!("cannot create {}", layout.dir.display())))?;
    let port = (port != 0).then_some(port);
    let result = tokio::select! {
        result = provision(layout, cfg, port) => result,
        error = interrupted() => Err(error),
    };
    match result {
        Ok(state) => {
            println!(
                "{} is up at {} (pid {}); point the stock CLI at it with: eval \"$(harness vault env)\"",
                state.flavor, state.endpoint.addr, state.pid
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // Nothing half-created stays behind: stop what started, remove what was written.
            remove_everything(layout).await?;
            Err(error)
        }
    }
}

async fn provision(layout: &Layout, cfg: &Config, port: Option<u16>) -> Result<VaultState> {
    let server = VaultServer::start(&cfg.vault, &layout.dir, port, Lifetime::Detached).await?;
    let state = VaultState {
        flavor: server.flavor(),
        pid: server.pid(),
        endpoint: server.endpoint().clone(),
        port: server
            .endpoint()
            .addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default(),
    };
    let runbook = Runbook::init_and_unseal(server.vault()?, cfg).await?;
    save_keys(layout, runbook.keys())?;
    runbook.put_article_secret().await?;
    runbook.write_read_policy().await?;
    save_state(layout, &state)?;
    Ok(state)
}

/// The server stopped (a reboot, `kill`): start it on its data again and unseal with the stored keys.
async fn restart(layout: &Layout, cfg: &Config, old: VaultState) -> Result<ExitCode> {
    let keys: InitKeys = serde_json::from_slice(
        &fs::read(layout.secrets()).map_err(Error::io(format!("cannot read {}", layout.secrets().display())))?,
    )
    .map_err(|e| Error::State(format!("{} is damaged: {e}", layout.secrets().display())))?;
    let mut vault_cfg = cfg.vault.clone();
    vault_cfg.flavor = old.flavor;
    vault_cfg.tls = old.endpoint.ca_cert.is_some();
    let server = VaultServer::start(&vault_cfg, &layout.dir, Some(old.port), Lifetime::Detached).await?;
    let unsealed = server
        .vault()?
        .unseal(keys.unseal_keys.iter().take(cfg.vault.key_threshold.into()))
        .await;
    let state = VaultState {
        pid: server.pid(),
        ..old
    };
    save_state(layout, &state)?;
    if unsealed? {
        return Err(Error::State("restarted, but Vault is still sealed".into()));
    }
    server.vault()?.wait_active().await?;
    println!(
        "{} restarted and unsealed at {} (pid {})",
        state.flavor, state.endpoint.addr, state.pid
    );
    Ok(ExitCode::SUCCESS)
}

fn save_keys(layout: &Layout, keys: &InitKeys) -> Result<()> {
    let json = serde_json::to_vec_pretty(keys).map_err(|e| Error::State(format!("cannot encode keys: {e}")))?;
    write_private_file(&layout.secrets(), &json)?;
    write_private_file(&layout.token(), keys.root_token.expose_secret().as_bytes())
}

fn save_state(layout: &Layout, state: &VaultState) -> Result<()> {
    let json = serde_json::to_vec_pretty(state).map_err(|e| Error::State(format!("cannot encode state: {e}")))?;
    fs::write(layout.state(), json).map_err(Error::io(format!("cannot write {}", layout.state().display())))
}

/// Exports for the local server when it runs, else for the Vault `harness up` put in the vault cluster.
fn env(layout: &Layout, state_dir: &Path) -> Result<ExitCode> {
    let (endpoint, token) = match layout.load_running() {
        Ok(state) => (state.endpoint, layout.token()),
        Err(local) => match in_cluster::load(state_dir) {
            Ok(cluster) => (cluster.endpoint, in_cluster::dir(state_dir).join("token")),
            Err(_) => return Err(local),
        },
    };
    println!("export VAULT_ADDR={}", endpoint.addr);
    if let Some(ca) = &endpoint.ca_cert {
        println!("export VAULT_CACERT={}", absolute(ca).display());
    }
    println!("export HARNESS_VAULT_TOKEN_FILE={}", absolute(&token).display());
    println!("export VAULT_TOKEN=\"$(cat \"$HARNESS_VAULT_TOKEN_FILE\")\"");
    Ok(ExitCode::SUCCESS)
}

async fn status(layout: &Layout) -> Result<ExitCode> {
    let state = layout.load_running()?;
    let status = Vault::connect(&state.endpoint, None)?.status().await?;
    let rows = [
        ("Address", state.endpoint.addr.clone()),
        ("Flavor", format!("{} {}", state.flavor, status.version)),
        ("Pid", state.pid.to_string()),
        ("Seal Type", status.seal_type),
        ("Initialized", status.initialized.to_string()),
        ("Sealed", status.sealed.to_string()),
        ("Total Shares", status.total_shares.to_string()),
        ("Threshold", status.threshold.to_string()),
        ("Storage Type", status.storage_type),
        (
            "HA Enabled",
            status.ha_enabled.map_or("unknown (sealed)".into(), |on| on.to_string()),
        ),
    ];
    for (key, value) in rows {
        println!("{key:<14}{value}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn down(layout: &Layout) -> Result<ExitCode> {
    if !layout.dir.exists() {
        println!("nothing to remove in {}", layout.dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    remove_everything(layout).await?;
    println!("stopped the server and removed {}", layout.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Stops every server started from this directory's config (also those of a crashed `up`), then
/// removes the directory.
async fn remove_everything(layout: &Layout) -> Result<()> {
    for pid in server::find_by_config(&layout.config()) {
        server::stop_detached(pid, &layout.config()).await?;
    }
    fs::remove_dir_all(&layout.dir).map_err(Error::io(format!("cannot remove {}", layout.dir.display())))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
