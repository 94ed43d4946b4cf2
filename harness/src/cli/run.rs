//! `harness run`: the main job. For now the Vault tier against a fresh server; the cluster tiers
//! join it as they are built.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use super::{FlavorArg, interrupted};
use crate::{
    Error, Result,
    check::{self, Check},
    config::Config,
    tier,
    vault::{Endpoint, Vault, server::VaultServer},
};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Where to write the results (default: <state-dir>/runs/<unix time>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    flavor: FlavorArg,
    /// Run the Vault tier against this existing, uninitialised server instead of starting one.
    #[arg(long, value_name = "URL")]
    vault_addr: Option<String>,
    /// CA certificate for --vault-addr over TLS.
    #[arg(long, value_name = "FILE", requires = "vault_addr")]
    vault_ca: Option<PathBuf>,
}

#[derive(Serialize)]
struct TierResult<'a> {
    tier: &'a str,
    vault: &'a str,
    version: String,
    checks: &'a [Check],
}

pub async fn run(args: RunArgs, mut cfg: Config, state_dir: &Path) -> Result<ExitCode> {
    args.flavor.apply(&mut cfg);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| state_dir.join("runs").join(unix_time().to_string()));
    std::fs::create_dir_all(&out).map_err(Error::io(format!("cannot create {}", out.display())))?;

    // The scratch server lives until the end of this function, and dies with the process.
    let (server, vault) = match &args.vault_addr {
        Some(addr) => (
            None,
            Vault::connect(
                &Endpoint {
                    addr: addr.clone(),
                    ca_cert: args.vault_ca.clone(),
                },
                None,
            )?,
        ),
        None => {
            let server = VaultServer::start_scratch(&cfg.vault).await?;
            let vault = server.vault()?;
            (Some(server), vault)
        }
    };
    let version = vault.status().await?.version;
    let checks = tokio::select! {
        checks = tier::vault::run(vault, &cfg) => checks?,
        error = interrupted() => return Err(error),
    };
    drop(server);

    println!("Vault tier ({} {version})", cfg.vault.flavor);
    println!("{}", check::table(&checks));
    let passed = checks.iter().filter(|c| c.passed).count();
    println!("{passed}/{} checks passed; results in {}", checks.len(), out.display());
    let flavor = cfg.vault.flavor.to_string();
    let result = TierResult {
        tier: "vault",
        vault: &flavor,
        version,
        checks: &checks,
    };
    let json = serde_json::to_vec_pretty(&result).map_err(|e| Error::State(format!("cannot encode results: {e}")))?;
    let file = out.join("vault-tier.json");
    std::fs::write(&file, json).map_err(Error::io(format!("cannot write {}", file.display())))?;
    Ok(if passed == checks.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
