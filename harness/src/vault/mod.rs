//! The Vault HTTP API as the harness uses it.
//!
//! [`Vault`] speaks to one server with one token. Typed happy paths go through vaultrs; the calls
//! vaultrs does not cover, or where it drops what an assertion needs (login `warnings`, mount
//! tune, seal status, audit devices), are raw requests here.

pub mod in_cluster;
pub mod kv;
pub mod server;
pub mod tls;

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    time::Duration,
};

use reqwest::Method;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use vaultrs::{
    api::{
        sys::requests::{EnableAuthRequest, EnableEngineRequest},
        token::requests::CreateTokenRequest,
    },
    client::{VaultClient, VaultClientSettingsBuilder},
    error::ClientError,
};

use crate::{
    Error, Result,
    duration::Ttl,
    secret::{ExposeSecret, InitKeys, SecretString},
};

/// Every single API call is bounded by this; a hung server fails the step instead of the run.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// A single raft node elects itself within about a second with `performance_multiplier = 1`.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a Vault listens and which CA vouches for it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    pub addr: String,
    pub ca_cert: Option<PathBuf>,
}

/// A connection to one Vault server holding one token (or none).
pub struct Vault {
    endpoint: Endpoint,
    http: reqwest::Client,
    api: VaultClient,
    token: Option<SecretString>,
}

/// What `status` shows: the seal status plus whether HA is enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    pub seal_type: String,
    pub initialized: bool,
    pub sealed: bool,
    pub total_shares: u8,
    pub threshold: u8,
    pub storage_type: String,
    /// Only a sealed Vault's HA state is unknown (`sys/leader` answers 503 then).
    pub ha_enabled: Option<bool>,
    pub version: String,
}

/// A login's full answer, warnings included (vaultrs' `login()` drops them).
#[derive(Debug)]
pub struct Login {
    pub token: SecretString,
    pub policies: Vec<String>,
    pub lease_duration: Ttl,
    pub metadata: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Vault {
    pub fn connect(endpoint: &Endpoint, token: Option<&SecretString>) -> Result<Vault> {
        // No idle connections kept: the fault scenarios kill and restart the server, and a pooled
        // connection to the killed process failed the next call (seen: the first kv put after a
        // killed-pod outage, "cannot reach Vault"). The harness's call rate makes a handshake per
        // call cheap.
        let mut http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .pool_max_idle_per_host(0);
        let mut settings = VaultClientSettingsBuilder::default();
        settings
            .address(&endpoint.addr)
            .timeout(Some(CALL_TIMEOUT))
            .token(token.map(|t| t.expose_secret().to_string()).unwrap_or_default());
        if let Some(ca) = &endpoint.ca_cert {
            let pem = std::fs::read(ca).map_err(Error::io(format!("cannot read CA {}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| Error::State(format!("CA {} is not a PEM certificate: {e}", ca.display())))?;
            http = http.add_root_certificate(cert);
            settings.ca_certs(vec![ca.display().to_string()]);
        }
        let settings = settings
            .build()
            .map_err(|e| Error::State(format!("invalid Vault client settings for {}: {e}", endpoint.addr)))?;
        let http = http
            .build()
            .map_err(|e| Error::State(format!("cannot build HTTP client: {e}")))?;
        let mut api = VaultClient::new(settings).map_err(|e| api_error("client setup", e))?;
        // vaultrs' calls go through the same client, so they share its connection policy.
        api.http.http = http.clone();
        Ok(Vault {
            endpoint: endpoint.clone(),
            http,
            api,
            token: token.cloned(),
        })
    }

    /// The same server, another token.
    pub fn with_token(&self, token: &SecretString) -> Result<Vault> {
        Vault::connect(&self.endpoint, Some(token))
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `status`: seal status and HA state, readable without a token.
    pub async fn status(&self) -> Result<ServerStatus> {
        #[derive(Deserialize)]
        struct SealStatus {
            #[serde(rename = "type")]
            seal_type: String,
            initialized: bool,
            sealed: bool,
            t: u8,
            n: u8,
            #[serde(default)]
            storage_type: String,
            version: String,
        }
        #[derive(Deserialize)]
        struct Leader {
            ha_enabled: bool,
        }
        let seal: SealStatus = self.raw(Method::GET, "sys/seal-status", None).await?.body()?;
        let ha_enabled = if seal.sealed {
            None
        } else {
            let leader: Leader = self.raw(Method::GET, "sys/leader", None).await?.body()?;
            Some(leader.ha_enabled)
        };
        Ok(ServerStatus {
            seal_type: seal.seal_type,
            initialized: seal.initialized,
            sealed: seal.sealed,
            total_shares: seal.n,
            threshold: seal.t,
            storage_type: seal.storage_type,
            ha_enabled,
            version: seal.version,
        })
    }

    /// `operator init`. Refuses a Vault that someone already initialised.
    pub async fn init(&self, shares: u8, threshold: u8) -> Result<InitKeys> {
        if self.status().await?.initialized {
            return Err(Error::AlreadyInitialised {
                addr: self.endpoint.addr.clone(),
            });
        }
        let response = vaultrs::sys::start_initialization(&self.api, shares.into(), threshold.into(), None)
            .await
            .map_err(|e| api_error("operator init", e))?;
        // The response's Debug prints the keys: move them into redacting types at once.
        Ok(InitKeys {
            root_token: response.root_token.into(),
            unseal_keys: response.keys_base64.into_iter().map(SecretString::from).collect(),
        })
    }

    /// `operator unseal`, once per key; returns whether Vault is still sealed afterwards.
    pub async fn unseal<'k>(&self, keys: impl IntoIterator<Item = &'k SecretString>) -> Result<bool> {
        let mut sealed = true;
        for key in keys {
            let response = vaultrs::sys::unseal(&self.api, Some(key.expose_secret().to_string()), None, None)
                .await
                .map_err(|e| api_error("operator unseal", e))?;
            sealed = response.sealed;
        }
        Ok(sealed)
    }

    /// Waits until this server is the active node: after an unseal, raft elects itself leader
    /// first, and writes before that fail with "local node not active".
    pub async fn wait_active(&self) -> Result<()> {
        let what = format!("Vault at {} to become active after unseal", self.endpoint.addr);
        crate::wait::until(&what, ACTIVE_TIMEOUT, Duration::from_millis(100), || async {
            // sys/health answers 200 only for an initialised, unsealed, active node.
            Ok(self.raw(Method::GET, "sys/health", None).await.ok().map(drop))
        })
        .await
    }

    /// `secrets enable -path=<mount> kv` (with `-version=2` for KV v2).
    pub async fn enable_kv(&self, mount: &str, version: u8) -> Result<()> {
        let options = HashMap::from([("version".to_string(), version.to_string())]);
        let mut request = EnableEngineRequest::builder();
        request.options(options);
        vaultrs::sys::mount::enable(&self.api, mount, "kv", Some(&mut request))
            .await
            .map_err(|e| api_error(&format!("secrets enable -path={mount} kv"), e))?;
        if version == 2 {
            // A new KV v2 mount first "upgrades" its storage and refuses writes with HTTP 400
            // until done; its config endpoint answers once it is ready.
            let what = format!("KV v2 at {mount}/ to finish its storage upgrade");
            crate::wait::until(&what, ACTIVE_TIMEOUT, Duration::from_millis(50), || async {
                Ok(self
                    .raw(Method::GET, &format!("{mount}/config"), None)
                    .await
                    .ok()
                    .map(drop))
            })
            .await?;
        }
        Ok(())
    }

    pub fn kv<'a>(&'a self, mount: &'a str, version: u8) -> kv::Kv<'a> {
        kv::Kv::new(self, mount, version)
    }

    /// `policy write <name> <rules>`.
    pub async fn write_policy(&self, name: &str, rules: &str) -> Result<()> {
        vaultrs::sys::policy::set(&self.api, name, rules)
            .await
            .map_err(|e| api_error(&format!("policy write {name}"), e))
    }

    /// `policy list`.
    pub async fn list_policies(&self) -> Result<Vec<String>> {
        let listed = vaultrs::sys::policy::list(&self.api)
            .await
            .map_err(|e| api_error("policy list", e))?;
        Ok(listed.policies)
    }

    /// `token create -policy=<p>... -no-default-policy`: a token holding exactly `policies`.
    pub async fn create_token(&self, policies: &[&str]) -> Result<SecretString> {
        let mut request = CreateTokenRequest::builder();
        request
            .policies(policies.iter().map(|p| p.to_string()).collect::<Vec<_>>())
            .no_default_policy(true);
        let auth = vaultrs::token::new(&self.api, Some(&mut request))
            .await
            .map_err(|e| api_error("token create", e))?;
        Ok(auth.client_token.into())
    }

    /// `auth enable -path=<path> -max-lease-ttl=<max> <kind>`.
    pub async fn enable_auth(&self, path: &str, kind: &str, max_lease_ttl: Ttl) -> Result<()> {
        let config = vaultrs::api::sys::requests::EnableAuthDataConfigBuilder::default()
            .max_lease_ttl(max_lease_ttl.to_string())
            .build()
            .map_err(|e| Error::State(format!("auth mount config: {e}")))?;
        vaultrs::sys::auth::enable(&self.api, path, kind, Some(EnableAuthRequest::builder().config(config)))
            .await
            .map_err(|e| api_error(&format!("auth enable -path={path} {kind}"), e))
    }

    /// `auth tune -max-lease-ttl=<max> <path>` (not in vaultrs).
    pub async fn tune_auth_max_ttl(&self, path: &str, max_lease_ttl: Ttl) -> Result<()> {
        let body = json!({ "max_lease_ttl": max_lease_ttl.to_string() });
        self.raw(Method::POST, &format!("sys/auth/{path}/tune"), Some(body))
            .await
            .map(drop)
    }

    /// The mount's max lease TTL as Vault reports it after tuning.
    pub async fn auth_max_ttl(&self, path: &str) -> Result<Ttl> {
        #[derive(Deserialize)]
        struct Tune {
            max_lease_ttl: u64,
        }
        let tune: Tune = self
            .raw(Method::GET, &format!("sys/auth/{path}/tune"), None)
            .await?
            .data()?;
        Ok(Ttl::from_secs(tune.max_lease_ttl))
    }

    /// `write auth/<mount>/users/<name> password=... token_ttl=... token_policies=...`.
    pub async fn write_userpass_user(
        &self,
        mount: &str,
        username: &str,
        password: &SecretString,
        token_ttl: Ttl,
        policies: &[&str],
    ) -> Result<()> {
        let mut request = vaultrs::api::auth::userpass::requests::CreateUserRequest::builder();
        request
            .token_ttl(token_ttl.to_string())
            .token_policies(policies.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        vaultrs::auth::userpass::user::set(&self.api, mount, username, password.expose_secret(), Some(&mut request))
            .await
            .map_err(|e| api_error(&format!("write auth/{mount}/users/{username}"), e))
    }

    /// `write auth/<path>` as a login, keeping the response's `warnings`.
    pub async fn login(&self, path: &str, body: Value) -> Result<Login> {
        #[derive(Deserialize)]
        struct Auth {
            client_token: String,
            #[serde(default)]
            policies: Vec<String>,
            lease_duration: u64,
            #[serde(default)]
            metadata: Option<BTreeMap<String, String>>,
        }
        let response = self.raw(Method::POST, &format!("auth/{path}"), Some(body)).await?;
        let warnings = response.warnings.clone();
        let auth: Auth = serde_json::from_value(response.envelope.get("auth").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::State(format!("login at auth/{path} returned no auth block: {e}")))?;
        Ok(Login {
            token: auth.client_token.into(),
            policies: auth.policies,
            lease_duration: Ttl::from_secs(auth.lease_duration),
            metadata: auth.metadata.unwrap_or_default(),
            warnings,
        })
    }

    pub(crate) fn api(&self) -> &VaultClient {
        &self.api
    }

    /// One raw API call; non-2xx answers become [`Error::Vault`] with Vault's own message.
    pub async fn raw(&self, method: Method, path: &str, body: Option<Value>) -> Result<RawResponse> {
        let operation = format!("{method} /v1/{path}");
        let mut request = self.http.request(method, format!("{}/v1/{path}", self.endpoint.addr));
        if let Some(token) = &self.token {
            request = request.header("X-Vault-Token", token.expose_secret());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| Error::Transport {
            operation: operation.clone(),
            message: error_chain(&e),
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let envelope: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        if !(200..300).contains(&status) {
            let errors: Vec<String> = envelope
                .get("errors")
                .and_then(|e| serde_json::from_value(e.clone()).ok())
                .unwrap_or_default();
            return Err(Error::Vault {
                operation,
                status,
                message: errors.join("; "),
            });
        }
        let warnings = envelope
            .get("warnings")
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default();
        Ok(RawResponse {
            operation,
            envelope,
            warnings,
        })
    }
}

/// A raw response: the whole JSON envelope plus its `warnings`.
pub struct RawResponse {
    operation: String,
    envelope: Value,
    pub warnings: Vec<String>,
}

impl RawResponse {
    /// The whole body as `T` (for `sys/*` endpoints that answer without an envelope).
    pub fn body<T: DeserializeOwned>(self) -> Result<T> {
        serde_json::from_value(self.envelope)
            .map_err(|e| Error::State(format!("unexpected answer to {}: {e}", self.operation)))
    }

    /// The envelope's `data` as `T`.
    pub fn data<T: DeserializeOwned>(self) -> Result<T> {
        let data = self.envelope.get("data").cloned().unwrap_or(Value::Null);
        serde_json::from_value(data).map_err(|e| Error::State(format!("unexpected data from {}: {e}", self.operation)))
    }
}

/// Maps a vaultrs error to the harness's: Vault refusals keep their HTTP status.
pub(crate) fn api_error(operation: &str, error: ClientError) -> Error {
    match error {
        ClientError::APIError { code, errors } => Error::Vault {
            operation: operation.to_string(),
            status: code,
            message: errors.join("; "),
        },
        other => Error::Transport {
            operation: operation.to_string(),
            message: error_chain(&other),
        },
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
