//! Where things live: the cache outside the clone (pinned binaries, image builds), the state
//! directory of a running environment, and how server binaries are found.
//!
//! This module and the CLI are the only readers of environment variables.

use std::{
    env,
    path::{Path, PathBuf},
};

use crate::{Error, Result, config::Flavor, fixtures};

/// `$HARNESS_CACHE`, else `$XDG_CACHE_HOME/vault-k8s-harness`, else `~/.cache/vault-k8s-harness`.
/// Kept outside the clone so CI and later runs on the same machine reuse it.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os("HARNESS_CACHE") {
        return PathBuf::from(dir);
    }
    let base = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("vault-k8s-harness")
}

/// The state dir scenarios read: `$HARNESS_STATE_DIR` (the e2e setup script exports it), else
/// `.harness` at the root of the checkout, where `harness up` run from the checkout writes.
pub fn state_dir() -> PathBuf {
    env::var_os("HARNESS_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| fixtures::repo_root().join(".harness"))
}

/// The config scenarios read: `$HARNESS_CONFIG`, else `harness.toml` at the root of the checkout
/// when present (the file `harness up` run from the checkout read), else the defaults.
pub fn config_file() -> Option<PathBuf> {
    env::var_os("HARNESS_CONFIG")
        .map(PathBuf::from)
        .or_else(|| Some(fixtures::repo_root().join(crate::config::DEFAULT_FILE)).filter(|p| p.exists()))
}

/// The user's kubeconfig: the first file of `$KUBECONFIG`, else `~/.kube/config`.
pub fn kubeconfig() -> PathBuf {
    env::var_os("KUBECONFIG")
        .and_then(|v| env::split_paths(&v).next())
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config")))
        .unwrap_or_else(|| PathBuf::from(".kube/config"))
}

/// The pinned OpenBao binary that `scripts/install-bao.sh` puts in the cache.
pub fn pinned_bao() -> PathBuf {
    cache_dir()
        .join("bin")
        .join(format!("bao-{}", fixtures::version("OPENBAO_VERSION")))
}

/// Finds the server binary: the configured path, then the pinned cache (OpenBao), then PATH.
pub fn server_binary(flavor: Flavor, configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = configured {
        return is_executable(path)
            .then(|| path.to_path_buf())
            .ok_or_else(|| Error::MissingBinary {
                what: format!("{flavor} binary {}", path.display()),
                hint: "vault.binary in harness.toml must name an executable file".into(),
            });
    }
    if flavor == Flavor::OpenBao && is_executable(&pinned_bao()) {
        return Ok(pinned_bao());
    }
    if let Some(found) = on_path(flavor.binary_name()) {
        return Ok(found);
    }
    Err(Error::MissingBinary {
        what: format!("{flavor} binary `{}`", flavor.binary_name()),
        hint: match flavor {
            Flavor::OpenBao => format!("run scripts/install-bao.sh (installs {})", pinned_bao().display()),
            Flavor::Vault => "install HashiCorp Vault so `vault` is on PATH, or set vault.binary".into(),
        },
    })
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
