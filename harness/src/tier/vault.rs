//! The Vault tier: the article's Vault steps against a real server, no cluster needed.
//!
//! [`Runbook`] performs the steps; [`expect`] turns what they returned into [`Check`]s against
//! the config. Scenarios call both one claim at a time; `harness run` calls [`run`].

use std::collections::BTreeSet;

use serde_json::json;

use crate::{
    Error, Result,
    check::Check,
    config::{Config, Storage},
    duration::Ttl,
    fixtures,
    secret::{ExposeSecret, InitKeys, SecretData, SecretString},
    step,
    vault::{Login, ServerStatus, Vault},
};

/// A Vault the harness initialised and unsealed, with its root token in hand.
pub struct Runbook<'c> {
    cfg: &'c Config,
    root: Vault,
    keys: InitKeys,
}

/// What a token holding only the read policy may and may not do.
#[derive(Debug)]
pub struct PolicyProbe {
    pub read: Result<SecretData>,
    pub list: Result<Vec<String>>,
    pub write: Result<()>,
    pub delete: Result<()>,
    pub outside_read: Result<SecretData>,
    pub outside_write: Result<()>,
}

impl<'c> Runbook<'c> {
    /// `operator init -key-shares=N -key-threshold=T`, then `operator unseal` with T keys.
    pub async fn init_and_unseal(server: Vault, cfg: &'c Config) -> Result<Runbook<'c>> {
        let (shares, threshold) = (cfg.vault.key_shares, cfg.vault.key_threshold);
        if server.status().await?.initialized {
            return Err(Error::AlreadyInitialised {
                addr: server.endpoint().addr.clone(),
            });
        }
        step!("operator init -key-shares={shares} -key-threshold={threshold}");
        let keys = server.init(shares, threshold).await?;
        step!("operator unseal, {threshold} of {shares} keys");
        let still_sealed = server.unseal(keys.unseal_keys.iter().take(threshold.into())).await?;
        if still_sealed {
            return Err(Error::State(format!(
                "Vault is still sealed after {threshold} unseal keys"
            )));
        }
        server.wait_active().await?;
        let root = server.with_token(&keys.root_token)?;
        Ok(Runbook { cfg, root, keys })
    }

    pub fn keys(&self) -> &InitKeys {
        &self.keys
    }

    pub fn root(&self) -> &Vault {
        &self.root
    }

    /// `status`.
    pub async fn status(&self) -> Result<ServerStatus> {
        step!("status");
        self.root.status().await
    }

    /// `secrets enable -path=secret kv`, then `kv put secret/mysecret username=... password=...`.
    pub async fn put_article_secret(&self) -> Result<()> {
        let kv = &self.cfg.kv;
        step!("secrets enable -path={} -version={} kv", kv.mount, kv.version);
        self.root.enable_kv(&kv.mount, kv.version).await?;
        step!("kv put {}/{} {}", kv.mount, kv.secret, field_names(&kv.data));
        self.root.kv(&kv.mount, kv.version).put(&kv.secret, &kv.data).await
    }

    /// `kv list secret`.
    pub async fn list_secrets(&self) -> Result<Vec<String>> {
        step!("kv list {}", self.cfg.kv.mount);
        self.root.kv(&self.cfg.kv.mount, self.cfg.kv.version).list().await
    }

    /// `kv get secret/mysecret`.
    pub async fn get_article_secret(&self) -> Result<SecretData> {
        step!("kv get {}/{}", self.cfg.kv.mount, self.cfg.kv.secret);
        self.root
            .kv(&self.cfg.kv.mount, self.cfg.kv.version)
            .get(&self.cfg.kv.secret)
            .await
    }

    /// `policy write read-policy -` with the article's rules.
    pub async fn write_read_policy(&self) -> Result<()> {
        step!(
            "policy write {} (path \"{}*\" read, list)",
            self.cfg.policy.name,
            self.cfg.kv.mount
        );
        self.root
            .write_policy(&self.cfg.policy.name, &fixtures::read_policy(&self.cfg.kv.mount))
            .await
    }

    /// `policy list`.
    pub async fn list_policies(&self) -> Result<Vec<String>> {
        step!("policy list");
        self.root.list_policies().await
    }

    /// Tries every operation of the policy check with a token that holds only the read policy.
    /// Needs the article's secret and policy in place.
    pub async fn probe_read_policy(&self) -> Result<PolicyProbe> {
        let kv = &self.cfg.kv;
        step!(
            "secrets enable -path={} kv; kv put {}/{} (root, outside the policy)",
            kv.outside_mount,
            kv.outside_mount,
            kv.secret
        );
        self.root.enable_kv(&kv.outside_mount, kv.version).await?;
        self.root
            .kv(&kv.outside_mount, kv.version)
            .put(&kv.secret, &kv.data)
            .await?;

        step!("token create -policy={} -no-default-policy", self.cfg.policy.name);
        let token = self.root.create_token(&[&self.cfg.policy.name]).await?;
        let reader = self.root.with_token(&token)?;
        Ok(probe(&reader, self.cfg).await)
    }

    /// Enables the TTL auth mount with the configured effective max and a user whose role asks
    /// for `role_ttl`, then logs in. Vault caps the TTL and says so in `warnings`.
    pub async fn login_over_max_ttl(&self) -> Result<Login> {
        let ttl = &self.cfg.ttl;
        step!(
            "auth enable -path={} -max-lease-ttl={} userpass",
            ttl.auth_mount,
            ttl.effective_max_ttl
        );
        self.root
            .enable_auth(&ttl.auth_mount, "userpass", ttl.effective_max_ttl)
            .await?;
        self.write_reader_and_login().await
    }

    /// `auth tune -max-lease-ttl=<raised>`, then the same login: no warning, the full TTL.
    /// Runs after [`Runbook::login_over_max_ttl`].
    pub async fn login_after_raising_max_ttl(&self) -> Result<(Ttl, Login)> {
        let ttl = &self.cfg.ttl;
        step!("auth tune -max-lease-ttl={} {}", ttl.raised_max_ttl, ttl.auth_mount);
        self.root.tune_auth_max_ttl(&ttl.auth_mount, ttl.raised_max_ttl).await?;
        let tuned = self.root.auth_max_ttl(&ttl.auth_mount).await?;
        Ok((tuned, self.write_reader_and_login().await?))
    }

    /// `write auth/<mount>/users/reader token_ttl=<role_ttl> ...` with a fresh random password,
    /// then `write auth/<mount>/login/reader`: the login whose warnings the TTL checks read.
    async fn write_reader_and_login(&self) -> Result<Login> {
        let ttl = &self.cfg.ttl;
        let password = SecretString::from(random_password());
        step!(
            "write auth/{}/users/reader token_ttl={} token_policies={}",
            ttl.auth_mount,
            ttl.role_ttl,
            self.cfg.policy.name
        );
        self.root
            .write_userpass_user(
                &ttl.auth_mount,
                "reader",
                &password,
                ttl.role_ttl,
                &[&self.cfg.policy.name],
            )
            .await?;
        step!("write auth/{}/login/reader password=…", ttl.auth_mount);
        let body = json!({ "password": password.expose_secret() });
        self.root.login(&format!("{}/login/reader", ttl.auth_mount), body).await
    }
}

/// Tries, as `reader`, what the read policy allows (kv get, kv list on the KV mount) and what it
/// must deny (kv put, kv delete there; kv get, kv put on the outside mount).
pub async fn probe(reader: &Vault, cfg: &Config) -> PolicyProbe {
    let kv = &cfg.kv;
    let inside = reader.kv(&kv.mount, kv.version);
    let outside = reader.kv(&kv.outside_mount, kv.version);
    step!(
        "as the reader: kv get, kv list, kv put, kv delete on {}; kv get, kv put on {}",
        kv.mount,
        kv.outside_mount
    );
    PolicyProbe {
        read: inside.get(&kv.secret).await,
        list: inside.list().await,
        write: inside.put(&kv.secret, &kv.data).await,
        delete: inside.delete(&kv.secret).await,
        outside_read: outside.get(&kv.secret).await,
        outside_write: outside.put(&kv.secret, &kv.data).await,
    }
}

/// The whole tier in the article's order, as `harness run` reports it.
pub async fn run(server: Vault, cfg: &Config) -> Result<Vec<Check>> {
    let runbook = Runbook::init_and_unseal(server, cfg).await?;
    let mut checks = vec![expect::status_after_unseal(&runbook.status().await?, cfg)];
    checks.extend(runbook.article_checks().await?);
    Ok(checks)
}

impl Runbook<'_> {
    /// Every step after init and unseal, in the article's order, each checked.
    pub async fn article_checks(&self) -> Result<Vec<Check>> {
        let cfg = self.cfg;
        self.put_article_secret().await?;
        let mut checks = vec![
            expect::secret_listed(&self.list_secrets().await?, cfg),
            expect::secret_fields(&self.get_article_secret().await?, cfg),
        ];
        self.write_read_policy().await?;
        checks.push(expect::policies_listed(&self.list_policies().await?, cfg));
        checks.extend(expect::read_policy_enforced(&self.probe_read_policy().await?, cfg));
        checks.push(expect::ttl_capped(&self.login_over_max_ttl().await?, cfg));
        let (tuned, login) = self.login_after_raising_max_ttl().await?;
        checks.push(expect::ttl_uncapped(tuned, &login, cfg));
        Ok(checks)
    }
}

fn field_names(data: &SecretData) -> String {
    data.keys().map(|k| format!("{k}=…")).collect::<Vec<_>>().join(" ")
}

fn random_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// The article's expectations, computed from the config, checked against what a step returned.
pub mod expect {
    use super::*;

    /// `TTL of "<requested>" exceeded the effective max_ttl of "<max>"; TTL value is capped accordingly`.
    pub fn ttl_cap_warning(requested: Ttl, max: Ttl) -> String {
        format!("TTL of \"{requested}\" exceeded the effective max_ttl of \"{max}\"; TTL value is capped accordingly")
    }

    pub fn status_after_unseal(status: &ServerStatus, cfg: &Config) -> Check {
        let storage = cfg.vault.storage();
        let expected = format!(
            "seal shamir, initialized, unsealed, {} shares, threshold {}, storage {}, HA {}",
            cfg.vault.key_shares,
            cfg.vault.key_threshold,
            storage.name(),
            enabled(storage.ha_enabled())
        );
        let observed = format!(
            "seal {}, {}, {}, {} shares, threshold {}, storage {}, HA {}",
            status.seal_type,
            if status.initialized {
                "initialized"
            } else {
                "not initialized"
            },
            if status.sealed { "sealed" } else { "unsealed" },
            status.total_shares,
            status.threshold,
            status.storage_type,
            status.ha_enabled.map_or("unknown", enabled)
        );
        let passed = expected == observed;
        let check = Check::new("status after init and unseal", expected, observed, passed);
        match storage {
            Storage::File => check,
            _ => check.with_note(format!(
                "the article shows Storage Type file, HA Enabled false; this run uses {} storage{}",
                storage.name(),
                if cfg.vault.flavor.supports(Storage::File) {
                    " (vault.storage)"
                } else {
                    " because OpenBao 2.x has no file backend"
                }
            )),
        }
    }

    pub fn secret_listed(listed: &[String], cfg: &Config) -> Check {
        let passed = listed.contains(&cfg.kv.secret);
        Check::new(
            format!("kv list {} shows {}", cfg.kv.mount, cfg.kv.secret),
            cfg.kv.secret.clone(),
            listed.join(", "),
            passed,
        )
    }

    pub fn secret_fields(data: &SecretData, cfg: &Config) -> Check {
        let mismatched = cfg.kv.data.mismatched_keys(data);
        let fields = cfg.kv.data.keys().collect::<Vec<_>>().join(", ");
        let observed = if mismatched.is_empty() {
            format!("{fields}: values match")
        } else {
            format!("differs or missing: {}", mismatched.join(", "))
        };
        Check::new(
            format!("kv get {}/{} returns {fields}", cfg.kv.mount, cfg.kv.secret),
            format!("{fields}: values as written"),
            observed,
            mismatched.is_empty(),
        )
    }

    pub fn policies_listed(listed: &[String], cfg: &Config) -> Check {
        let expected: BTreeSet<&str> = ["default", cfg.policy.name.as_str(), "root"].into();
        let observed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        Check::new(
            format!("policy list shows default, {}, root", cfg.policy.name),
            join(&expected),
            join(&observed),
            expected == observed,
        )
    }

    /// One check per operation: read and list allowed; write, delete and other paths denied with 403.
    pub fn read_policy_enforced(probe: &PolicyProbe, cfg: &Config) -> Vec<Check> {
        let (mount, secret, outside) = (&cfg.kv.mount, &cfg.kv.secret, &cfg.kv.outside_mount);
        let who = format!("token with only {}", cfg.policy.name);
        vec![
            allowed(format!("{who}: kv get {mount}/{secret}"), &probe.read),
            allowed(format!("{who}: kv list {mount}"), &probe.list),
            denied(format!("{who}: kv put {mount}/{secret}"), &probe.write),
            denied(format!("{who}: kv delete {mount}/{secret}"), &probe.delete),
            denied(format!("{who}: kv get {outside}/{secret}"), &probe.outside_read),
            denied(format!("{who}: kv put {outside}/{secret}"), &probe.outside_write),
        ]
    }

    pub fn ttl_capped(login: &Login, cfg: &Config) -> Check {
        let (requested, max) = (cfg.ttl.role_ttl, cfg.ttl.effective_max_ttl);
        let lease = requested.min(max);
        let warning = (requested > max).then(|| ttl_cap_warning(requested, max));
        login_check(
            format!("login with ttl={requested} under max {max}"),
            login,
            warning,
            lease,
        )
    }

    pub fn ttl_uncapped(tuned: Ttl, login: &Login, cfg: &Config) -> Check {
        let (requested, raised) = (cfg.ttl.role_ttl, cfg.ttl.raised_max_ttl);
        let mut check = login_check(
            format!("login with ttl={requested} after auth tune -max-lease-ttl={raised}"),
            login,
            None,
            requested,
        );
        if tuned != raised {
            check.passed = false;
            check.observed = format!("mount max is {tuned}, not {raised}; {}", check.observed);
        }
        check
    }

    fn login_check(claim: String, login: &Login, warning: Option<String>, lease: Ttl) -> Check {
        let expected = match &warning {
            Some(w) => format!("warning: {w}; lease {lease}"),
            None => format!("no warning; lease {lease}"),
        };
        let observed = match login.warnings.as_slice() {
            [] => format!("no warning; lease {}", login.lease_duration),
            ws => format!("warning: {}; lease {}", ws.join(" | "), login.lease_duration),
        };
        let warnings_match = match &warning {
            Some(w) => login.warnings.iter().any(|got| got == w),
            None => login.warnings.is_empty(),
        };
        Check::new(
            claim,
            expected,
            observed,
            warnings_match && login.lease_duration == lease,
        )
    }

    fn allowed<T>(claim: String, result: &Result<T>) -> Check {
        let observed = match result {
            Ok(_) => "allowed".to_string(),
            Err(e) => e.to_string(),
        };
        Check::new(claim, "allowed", observed, result.is_ok())
    }

    fn denied<T>(claim: String, result: &Result<T>) -> Check {
        let observed = match result {
            Ok(_) => "allowed".to_string(),
            Err(e) => match e.vault_status() {
                Some(status) => format!("denied, HTTP {status}"),
                None => e.to_string(),
            },
        };
        let passed = matches!(result, Err(e) if e.vault_status() == Some(403));
        Check::new(claim, "denied, HTTP 403", observed, passed)
    }

    fn enabled(on: bool) -> &'static str {
        if on { "enabled" } else { "disabled" }
    }

    fn join(set: &BTreeSet<&str>) -> String {
        set.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::{expect::*, *};

    fn login(warnings: &[&str], lease_hours: u64) -> Login {
        Login {
            token: "t".into(),
            policies: vec![],
            lease_duration: Ttl::from_secs(lease_hours * 3600),
            metadata: Default::default(),
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
        }
    }

    #[test]
    fn the_warning_text_follows_the_config() {
        let mut cfg = Config::default();
        assert_eq!(
            ttl_cap_warning(cfg.ttl.role_ttl, cfg.ttl.effective_max_ttl),
            "TTL of \"1440h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"
        );
        cfg.ttl.role_ttl = "2000h".parse().unwrap();
        let text = ttl_cap_warning(cfg.ttl.role_ttl, cfg.ttl.effective_max_ttl);
        ttl_capped(&login(&[&text], 768), &cfg).assert_passed();
        assert!(
            !ttl_capped(&login(&[&text], 2000), &cfg).passed,
            "the lease must be capped"
        );
        assert!(!ttl_capped(&login(&[], 768), &cfg).passed, "the warning must be there");
        let article = ttl_cap_warning("1440h".parse().unwrap(), cfg.ttl.effective_max_ttl);
        assert!(
            !ttl_capped(&login(&[&article], 768), &cfg).passed,
            "2000h config expects 2000h text"
        );
    }

    #[test]
    fn a_role_ttl_under_the_max_expects_no_warning() {
        let mut cfg = Config::default();
        cfg.ttl.role_ttl = "24h".parse().unwrap();
        ttl_capped(&login(&[], 24), &cfg).assert_passed();
    }

    #[test]
    fn the_raised_cap_must_have_been_applied() {
        let cfg = Config::default();
        ttl_uncapped(cfg.ttl.raised_max_ttl, &login(&[], 1440), &cfg).assert_passed();
        assert!(!ttl_uncapped(cfg.ttl.effective_max_ttl, &login(&[], 1440), &cfg).passed);
    }

    #[test]
    fn status_check_spells_out_every_field() {
        let cfg = Config::default();
        let mut status = ServerStatus {
            seal_type: "shamir".into(),
            initialized: true,
            sealed: false,
            total_shares: 5,
            threshold: 3,
            storage_type: "raft".into(),
            ha_enabled: Some(true),
            version: "2.7.2".into(),
        };
        status_after_unseal(&status, &cfg).assert_passed();
        status.threshold = 2;
        assert!(!status_after_unseal(&status, &cfg).passed);
    }

    #[test]
    fn denial_means_http_403_and_nothing_else() {
        let cfg = Config::default();
        fn refused<T>(status: u16) -> Result<T> {
            Err(Error::Vault {
                operation: "x".into(),
                status,
                message: String::new(),
            })
        }
        let probe = PolicyProbe {
            read: Ok(cfg.kv.data.clone()),
            list: Ok(vec!["mysecret".into()]),
            write: refused(403),
            delete: refused(404),
            outside_read: refused(403),
            outside_write: Ok(()),
        };
        let results: Vec<bool> = read_policy_enforced(&probe, &cfg).iter().map(|c| c.passed).collect();
        assert_eq!(results, [true, true, true, false, true, false]);
    }

    #[test]
    fn secret_check_never_prints_values() {
        let cfg = Config::default();
        let other = SecretData::new([("username".to_string(), SecretString::from("root"))]);
        let check = secret_fields(&other, &cfg);
        assert!(!check.passed);
        let shown = format!("{} {}", check.expected, check.observed);
        assert!(!shown.contains("admin123") && !shown.contains("root"), "{shown}");
    }
}
