//! A real OpenBao or Vault server, started as a process in server mode (never dev mode).
//!
//! Layout of a server directory: `config.hcl`, `data/` (storage), `tls/` (when TLS is on),
//! `server.log`. An attached server dies with the harness process (also on SIGKILL, through
//! `setpriv --pdeathsig`); a detached one (`harness vault up`) outlives it and is stopped by pid.

use std::{
    fs::{self, File},
    net::TcpListener,
    os::unix::{fs::DirBuilderExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::Method;

use crate::{
    Error, Result,
    config::{Flavor, Storage, VaultConfig},
    paths,
    vault::{Endpoint, Vault, tls},
    wait,
};

/// How long a fresh server may take to answer its API (OpenBao 2.7.2 answers in about 0.3 s).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Free ports are picked, released, then bound by the server: another process can win the race.
const PORT_ATTEMPTS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Killed when the handle drops or the harness process dies.
    Attached,
    /// Keeps running after the harness exits; stopped with [`stop_detached`].
    Detached,
}

/// A running server and where to reach it.
pub struct VaultServer {
    child: Option<Child>,
    pid: u32,
    endpoint: Endpoint,
    flavor: Flavor,
    dir: PathBuf,
    _scratch: Option<tempfile::TempDir>,
}

impl VaultServer {
    /// A throwaway server in a temporary directory on a free port, removed when dropped.
    /// What tests and `harness run` use; any number run side by side.
    pub async fn start_scratch(cfg: &VaultConfig) -> Result<VaultServer> {
        let scratch = tempfile::Builder::new()
            .prefix("harness-vault-")
            .tempdir()
            .map_err(Error::io("cannot create a temporary directory"))?;
        let mut server = VaultServer::start(cfg, scratch.path(), None, Lifetime::Attached).await?;
        server._scratch = Some(scratch);
        Ok(server)
    }

    /// Starts a server whose files live in `dir`, on `port` (or a free one when `None`).
    pub async fn start(cfg: &VaultConfig, dir: &Path, port: Option<u16>, lifetime: Lifetime) -> Result<VaultServer> {
        let binary = paths::server_binary(cfg.flavor, cfg.binary.as_deref())?;
        let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
        let mut last_error = None;
        for _ in 0..attempts {
            let ports = match port {
                Some(p) => fixed_ports(p)?,
                None => (free_port()?, free_port()?),
            };
            match launch(cfg, &binary, dir, ports, lifetime).await {
                Err(Error::PortInUse { .. }) if port.is_none() => last_error = Some(Error::PortInUse { port: ports.0 }),
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| Error::State("no free port found".into())))
    }

    /// An unauthenticated connection to this server.
    pub fn vault(&self) -> Result<Vault> {
        Vault::connect(&self.endpoint, None)
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.hcl")
    }
}

impl Drop for VaultServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn launch(
    cfg: &VaultConfig,
    binary: &Path,
    dir: &Path,
    (api_port, cluster_port): (u16, u16),
    lifetime: Lifetime,
) -> Result<VaultServer> {
    let data = dir.join("data");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data)
        .map_err(Error::io(format!("cannot create {}", data.display())))?;
    let tls = if cfg.tls { Some(tls_files(dir)?) } else { None };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = Listener {
        bind: "127.0.0.1",
        advertise: "127.0.0.1",
        api_port,
        cluster_port,
        tls: tls.as_ref().map(|t| (t.server_cert.as_path(), t.server_key.as_path())),
    };
    let hcl = server_hcl(cfg.flavor, cfg.storage(), &data, &listener);
    let config = dir.join("config.hcl");
    fs::write(&config, hcl).map_err(Error::io(format!("cannot write {}", config.display())))?;

    let log_path = dir.join("server.log");
    let log = File::create(&log_path).map_err(Error::io(format!("cannot create {}", log_path.display())))?;
    let log_err = log.try_clone().map_err(Error::io("cannot duplicate the log handle"))?;
    let server_args = [
        binary.as_os_str().to_owned(),
        "server".into(),
        format!("-config={}", config.display()).into(),
    ];
    let mut command = match (lifetime, paths::on_path("setpriv")) {
        (Lifetime::Attached, Some(setpriv)) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).args(&server_args);
            c
        }
        _ => {
            let mut c = Command::new(&server_args[0]);
            c.args(&server_args[1..]);
            c
        }
    };
    // A clean environment: no VAULT_*/BAO_* from the caller's shell leaks into the server.
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own process group: a Ctrl-C in the terminal reaches the harness, which stops it.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(Error::io(format!("cannot start {}", binary.display())))?;

    let endpoint = Endpoint {
        addr: format!("{scheme}://127.0.0.1:{api_port}"),
        ca_cert: tls.map(|t| t.ca_cert),
    };
    let probe = Vault::connect(&endpoint, None)?;
    let what = format!("{} on {} to answer", cfg.flavor, endpoint.addr);
    let ready = wait::until(&what, START_TIMEOUT, Duration::from_millis(100), || {
        let exited = child.try_wait().ok().flatten().is_some();
        let probe = &probe;
        let log_path = &log_path;
        async move {
            if exited {
                return Err(exit_error(cfg.flavor, log_path, api_port));
            }
            Ok(probe.raw(Method::GET, "sys/seal-status", None).await.ok().map(drop))
        }
    })
    .await;
    if let Err(error) = ready {
        let _ = child.kill();
        let _ = child.wait();
        return Err(error);
    }
    let pid = child.id();
    Ok(VaultServer {
        child: (lifetime == Lifetime::Attached).then_some(child),
        pid,
        endpoint,
        flavor: cfg.flavor,
        dir: dir.to_path_buf(),
        _scratch: None,
    })
}

fn tls_files(dir: &Path) -> Result<tls::TlsFiles> {
    let tls_dir = dir.join("tls");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&tls_dir)
        .map_err(Error::io(format!("cannot create {}", tls_dir.display())))?;
    tls::generate(&tls_dir, &["127.0.0.1", "localhost"])
}

/// Where a server listens and what it announces.
pub struct Listener<'a> {
    /// Address the listener binds: `127.0.0.1` for a local process, `0.0.0.0` in a pod.
    pub bind: &'a str,
    /// Host in `api_addr`.
    pub advertise: &'a str,
    pub api_port: u16,
    pub cluster_port: u16,
    /// Certificate and key files, or `None` for plain HTTP.
    pub tls: Option<(&'a Path, &'a Path)>,
}

/// The server's configuration: server mode, the configured storage, one TCP listener.
pub fn server_hcl(flavor: Flavor, storage: Storage, data: &Path, listener: &Listener) -> String {
    let Listener {
        bind,
        advertise,
        api_port,
        cluster_port,
        tls,
    } = listener;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let storage_block = match storage {
        // performance_multiplier = 1: the tightest raft timing, meant for one local node;
        // `operator init` then takes ~2.4 s instead of ~8.9 s with the default (measured on OpenBao 2.7.2).
        Storage::Raft => format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"harness\"\n  performance_multiplier = 1\n}}",
            data.display()
        ),
        Storage::File => format!("storage \"file\" {{\n  path = \"{}\"\n}}", data.display()),
        Storage::Inmem => "storage \"inmem\" {}".to_string(),
    };
    let tls_lines = match tls {
        Some((cert, key)) => {
            format!(
                "  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"",
                cert.display(),
                key.display()
            )
        }
        None => "  tls_disable = true".to_string(),
    };
    // mlock is a Vault setting OpenBao dropped; without it Vault needs IPC_LOCK.
    let mlock = if flavor == Flavor::Vault {
        "disable_mlock = true\n"
    } else {
        ""
    };
    format!(
        "ui = false\n{mlock}api_addr = \"{scheme}://{advertise}:{api_port}\"\n\
         cluster_addr = \"https://127.0.0.1:{cluster_port}\"\n\n{storage_block}\n\n\
         listener \"tcp\" {{\n  address = \"{bind}:{api_port}\"\n  \
         cluster_address = \"{bind}:{cluster_port}\"\n{tls_lines}\n}}\n"
    )
}

fn exit_error(flavor: Flavor, log: &Path, port: u16) -> Error {
    let text = fs::read_to_string(log).unwrap_or_default();
    if text.contains("address already in use") {
        return Error::PortInUse { port };
    }
    let last_line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string();
    Error::ServerExited {
        flavor: flavor.to_string(),
        last_line,
        log: log.to_path_buf(),
    }
}

fn fixed_ports(port: u16) -> Result<(u16, u16)> {
    let cluster = port.checked_add(1).ok_or(Error::PortInUse { port })?;
    for p in [port, cluster] {
        TcpListener::bind(("127.0.0.1", p)).map_err(|_| Error::PortInUse { port: p })?;
    }
    Ok((port, cluster))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::io("cannot find a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(Error::io("cannot find a free port"))?
        .port())
}

/// Whether `pid` is a live server started from `config` (guards against a recycled pid).
pub fn is_running(pid: u32, config: &Path) -> bool {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(&cmdline).contains(&format!("-config={}", config.display()))
}

/// Pids of every live server started from `config`, found in /proc (also those a crashed run left).
pub fn find_by_config(config: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_running(*pid, config))
        .collect()
}

/// Stops a detached server: SIGTERM, a bounded wait, then SIGKILL.
pub async fn stop_detached(pid: u32, config: &Path) -> Result<()> {
    use nix::{sys::signal, unistd::Pid};
    if !is_running(pid, config) {
        return Ok(());
    }
    let target = Pid::from_raw(pid as i32);
    let _ = signal::kill(target, signal::Signal::SIGTERM);
    let stopped = wait::until(
        &format!("server pid {pid} to exit"),
        STOP_TIMEOUT,
        Duration::from_millis(100),
        || {
            let running = is_running(pid, config);
            async move { Ok((!running).then_some(())) }
        },
    )
    .await;
    if stopped.is_err() {
        let _ = signal::kill(target, signal::Signal::SIGKILL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(tls: Option<(&'static Path, &'static Path)>) -> Listener<'static> {
        Listener {
            bind: "127.0.0.1",
            advertise: "127.0.0.1",
            api_port: 8200,
            cluster_port: 8201,
            tls,
        }
    }

    #[test]
    fn openbao_config_is_server_mode_on_raft_with_tls_off() {
        let hcl = server_hcl(Flavor::OpenBao, Storage::Raft, Path::new("/d"), &local(None));
        assert!(hcl.contains("storage \"raft\""), "{hcl}");
        assert!(hcl.contains("address = \"127.0.0.1:8200\""), "{hcl}");
        assert!(hcl.contains("tls_disable = true"), "{hcl}");
        assert!(!hcl.contains("dev"), "never dev mode: {hcl}");
        assert!(!hcl.contains("disable_mlock"), "OpenBao rejects it: {hcl}");
    }

    #[test]
    fn vault_config_uses_the_articles_file_storage() {
        let hcl = server_hcl(Flavor::Vault, Storage::File, Path::new("/d"), &local(None));
        assert!(hcl.contains("storage \"file\" {\n  path = \"/d\"\n}"), "{hcl}");
        assert!(hcl.contains("disable_mlock = true"), "{hcl}");
    }

    #[test]
    fn fixed_port_in_use_is_named() {
        let held = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let err = fixed_ports(port).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("port {port} on 127.0.0.1 is already in use; free it or pick another with --port")
        );
    }
}
