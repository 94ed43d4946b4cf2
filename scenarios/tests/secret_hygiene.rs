//! Secrets never reach logs or reports: the whole Vault tier runs with every log line captured
//! at TRACE level (the harness, vaultrs, rustify, reqwest), then the capture, the server's own
//! log and the rendered checks are searched for the root token, every unseal key and every
//! secret value (random per run, so a hit cannot be a coincidence).

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use harness::{
    check,
    config::Config,
    secret::{ExposeSecret, SecretData, SecretString},
    tier::vault::Runbook,
    vault::server::VaultServer,
};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn random_value(label: &str) -> SecretString {
    use rand::distr::{Alphanumeric, SampleString};
    format!("{label}-{}", Alphanumeric.sample_string(&mut rand::rng(), 20)).into()
}

#[tokio::test]
async fn no_root_token_unseal_key_or_secret_value_appears_in_logs_or_checks() -> harness::Result<()> {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut cfg = Config::default();
    cfg.kv.data = SecretData::new([
        ("username".into(), random_value("user")),
        ("password".into(), random_value("pass")),
    ]);
    let server = VaultServer::start_scratch(&cfg.vault).await?;

    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;
    let checks = runbook.article_checks().await?;

    let secrets: Vec<&str> = runbook
        .keys()
        .all()
        .chain(cfg.kv.data.iter().map(|(_, v)| v))
        .map(|s| s.expose_secret())
        .collect();
    assert_eq!(secrets.len(), 1 + usize::from(cfg.vault.key_shares) + cfg.kv.data.len());
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("operator init"),
        "the capture saw the run: {} bytes",
        logs.len()
    );
    let server_log = std::fs::read_to_string(server.log_path()).unwrap();
    let rendered = format!(
        "{}\n{}\n{:?}\n{:?}",
        check::table(&checks),
        serde_json::to_string(&checks).unwrap(),
        runbook.keys(),
        cfg
    );
    for (name, text) in [
        ("harness and library logs", &logs),
        ("server log", &server_log),
        ("checks and Debug output", &rendered),
    ] {
        let leaked = secrets.iter().filter(|s| text.contains(**s)).count();
        assert_eq!(leaked, 0, "{leaked} secret(s) found in the {name}");
    }
    Ok(())
}
