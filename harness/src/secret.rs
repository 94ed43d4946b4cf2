//! Secrets the harness handles: the root token, unseal keys and secret values.
//!
//! All of them wrap [`SecretString`], so `Debug` prints `[REDACTED]` and nothing reaches a log,
//! a panic or a report by accident. On disk they live only in files created with mode 0600.

use std::{
    collections::BTreeMap,
    fmt,
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

pub use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What `operator init` hands out: the only copy of the unseal keys and the root token.
#[derive(Deserialize, Serialize)]
pub struct InitKeys {
    #[serde(with = "exposed")]
    pub root_token: SecretString,
    #[serde(with = "exposed_list")]
    pub unseal_keys: Vec<SecretString>,
}

impl fmt::Debug for InitKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "InitKeys {{ root_token: [REDACTED], unseal_keys: {} × [REDACTED] }}",
            self.unseal_keys.len()
        )
    }
}

impl InitKeys {
    /// Every secret string in here, for hygiene checks that grep output for them.
    pub fn all(&self) -> impl Iterator<Item = &SecretString> {
        std::iter::once(&self.root_token).chain(self.unseal_keys.iter())
    }
}

/// Key/value data of a KV secret. `Debug` shows the keys only.
#[derive(Clone, Default, Deserialize)]
pub struct SecretData(BTreeMap<String, SecretString>);

impl SecretData {
    pub fn new(pairs: impl IntoIterator<Item = (String, SecretString)>) -> Self {
        SecretData(pairs.into_iter().collect())
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.0.get(key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The data as the JSON object Vault's KV engines take. Only for request bodies.
    pub fn to_request_body(&self) -> BTreeMap<&str, &str> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect()
    }

    /// Keys whose values differ between `self` (expected) and `actual`, plus keys missing from `actual`.
    /// Values are compared but never returned.
    pub fn mismatched_keys(&self, actual: &SecretData) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| actual.get(k).map(ExposeSecret::expose_secret) != Some(v.expose_secret()))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, "[REDACTED]"))).finish()
    }
}

/// Writes `contents` to a new file readable by its owner only (0600), replacing any old one.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let context = format!("cannot write {}", path.display());
    if path.exists() {
        fs::remove_file(path).map_err(Error::io(&context))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(&context))?;
    file.write_all(contents).map_err(Error::io(&context))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(Error::io(context))
}

/// A one-way fingerprint of a secret value (SHA-256, hex). The harness records fingerprints of
/// the values it writes to Vault, never the values, so a later check can find any of them in
/// outputs: it fingerprints every word of the outputs and compares.
pub fn fingerprint(value: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where fingerprints of the secret values written in this checkout's runs are collected.
pub fn fingerprints_file() -> std::path::PathBuf {
    crate::fixtures::repo_root().join("target/harness/secret-fingerprints")
}

/// Appends the fingerprints of `data`'s values to [`fingerprints_file`] (created 0600).
pub fn record_fingerprints(data: &SecretData) -> Result<()> {
    let file = fingerprints_file();
    let context = format!("cannot write {}", file.display());
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(Error::io(&context))?;
    }
    let mut out = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&file)
        .map_err(Error::io(&context))?;
    let lines: String = data
        .iter()
        .map(|(_, v)| fingerprint(v.expose_secret()) + "\n")
        .collect();
    out.write_all(lines.as_bytes()).map_err(Error::io(context))
}

/// The words of `text` worth fingerprinting: maximal runs of characters a secret value is made
/// of (letters, digits, `-`, `_`, `.`), at least `min_len` long.
pub fn words(text: &str, min_len: usize) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .filter(move |w| w.len() >= min_len)
}

mod exposed {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

mod exposed_list {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(secrets: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(secrets.len()))?;
        for secret in secrets {
            seq.serialize_element(secret.expose_secret())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
        Vec::<String>::deserialize(d).map(|v| v.into_iter().map(SecretString::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_find_a_value_among_the_words_of_an_output() {
        let value = "Zq9WkP2mXv7LrT4bNc8HdY1s";
        let known = [fingerprint(value)];
        let output = format!("changed 1764363000.1\npassword:{value} ok");
        let hits: Vec<_> = words(&output, 8).filter(|w| known.contains(&fingerprint(w))).collect();
        assert_eq!(hits, [value]);
        assert_eq!(fingerprint("a").len(), 64);
    }

    fn keys() -> InitKeys {
        InitKeys {
            root_token: "s.rootTOKENvalue".into(),
            unseal_keys: vec!["unsealKEY1".into(), "unsealKEY2".into()],
        }
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let data = SecretData::new([("password".to_string(), SecretString::from("admin123"))]);
        let printed = format!("{:?} {:#?} {:?}", keys(), keys(), data);
        for secret in ["s.rootTOKENvalue", "unsealKEY1", "unsealKEY2", "admin123"] {
            assert!(
                !printed.contains(secret),
                "{secret} leaked into Debug output: {printed}"
            );
        }
        assert!(printed.contains("password"), "keys stay visible: {printed}");
    }

    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        write_private_file(&path, b"{}").unwrap();
        write_private_file(&path, b"{\"again\":1}").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"again\":1}");
    }

    #[test]
    fn mismatch_names_keys_not_values() {
        let expected = SecretData::new([
            ("username".to_string(), SecretString::from("admin")),
            ("password".to_string(), SecretString::from("admin123")),
        ]);
        let actual = SecretData::new([("username".to_string(), SecretString::from("admin"))]);
        assert_eq!(expected.mismatched_keys(&actual), vec!["password".to_string()]);
        assert!(expected.mismatched_keys(&expected.clone()).is_empty());
    }
}
