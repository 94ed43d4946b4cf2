//! The KV engine, version 1 or 2, behind one interface (`kv put/get/list/delete`).

use std::collections::HashMap;

use crate::{
    Result,
    secret::{SecretData, SecretString},
    vault::{Vault, api_error},
};

pub struct Kv<'a> {
    vault: &'a Vault,
    mount: &'a str,
    version: u8,
}

impl<'a> Kv<'a> {
    pub(super) fn new(vault: &'a Vault, mount: &'a str, version: u8) -> Self {
        Kv { vault, mount, version }
    }

    /// `kv put <mount>/<name> k=v ...`.
    pub async fn put(&self, name: &str, data: &SecretData) -> Result<()> {
        let body: HashMap<&str, &str> = data.to_request_body().into_iter().collect();
        let client = self.vault.api();
        let result = match self.version {
            1 => vaultrs::kv1::set(client, self.mount, name, &body).await,
            _ => vaultrs::kv2::set(client, self.mount, name, &body).await.map(drop),
        };
        result.map_err(|e| api_error(&format!("kv put {}/{name}", self.mount), e))
    }

    /// `kv get <mount>/<name>`.
    pub async fn get(&self, name: &str) -> Result<SecretData> {
        let client = self.vault.api();
        let result: Result<HashMap<String, String>, _> = match self.version {
            1 => vaultrs::kv1::get(client, self.mount, name).await,
            _ => vaultrs::kv2::read(client, self.mount, name).await,
        };
        let data = result.map_err(|e| api_error(&format!("kv get {}/{name}", self.mount), e))?;
        Ok(SecretData::new(
            data.into_iter().map(|(k, v)| (k, SecretString::from(v))),
        ))
    }

    /// `kv list <mount>`.
    pub async fn list(&self) -> Result<Vec<String>> {
        let client = self.vault.api();
        let result = match self.version {
            1 => vaultrs::kv1::list(client, self.mount, "").await.map(|r| r.data.keys),
            _ => vaultrs::kv2::list(client, self.mount, "").await,
        };
        result.map_err(|e| api_error(&format!("kv list {}", self.mount), e))
    }

    /// `kv delete <mount>/<name>`.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let client = self.vault.api();
        let result = match self.version {
            1 => vaultrs::kv1::delete(client, self.mount, name).await,
            _ => vaultrs::kv2::delete_latest(client, self.mount, name).await,
        };
        result.map_err(|e| api_error(&format!("kv delete {}/{name}", self.mount), e))
    }
}
