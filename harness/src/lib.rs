//! Conformance harness for Vault × Kubernetes secret delivery.
//!
//! Map of the crate:
//! - [`config`]: `harness.toml`, every value a scenario uses; defaults are the article's values.
//! - [`vault`]: a real OpenBao/Vault server as a process ([`vault::server`]) and the HTTP API
//!   ([`vault::Vault`]): vaultrs where it covers the call, raw requests where it does not.
//! - [`tier`]: the article's runbooks as steps plus the expectations they are checked against
//!   ([`check::Check`]). Scenarios and the `harness run` job share them.
//! - [`secret`]: root token, unseal keys and secret values; redacted in `Debug`, stored 0600.
//! - [`wait`]: the only place that sleeps; every wait is bounded and named.
//! - [`cli`]: the `harness` command.
//!
//! A scenario reads like the runbook it verifies:
//!
//! ```no_run
//! # async fn demo() -> harness::Result<()> {
//! use harness::{config::Config, step, tier::vault::{expect, Runbook}, vault::server::VaultServer};
//!
//! let cfg = Config::default();
//! let server = VaultServer::start_scratch(&cfg.vault).await?;
//! step!("operator init -key-shares={} -key-threshold={}", cfg.vault.key_shares, cfg.vault.key_threshold);
//! let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;
//! step!("status");
//! expect::status_after_unseal(&runbook.status().await?, &cfg).assert_passed();
//! # Ok(()) }
//! ```

pub mod apply;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod duration;
mod error;
pub mod evidence;
pub mod fixtures;
pub mod interrupt;
pub mod measure;
pub mod paths;
pub mod pods;
pub mod prerequisite;
pub mod process;
pub mod report;
pub mod secret;
pub mod tier;
pub mod vault;
pub mod wait;

pub use error::{Error, Result};

/// Logs one operator-facing step of a runbook, in the order an operator would type it.
#[macro_export]
macro_rules! step {
    ($($arg:tt)*) => { ::tracing::info!(target: "step", $($arg)*) };
}
