//! Typed access to `fixtures/`: data files compiled into the binary, so the `harness` command
//! works from any directory.

use std::collections::BTreeMap;

/// The kind cluster config both clusters are created from.
pub const KIND_CLUSTER: &str = include_str!("../../fixtures/kind/cluster.yaml");

const READ_POLICY: &str = include_str!("../../fixtures/vault/policies/read-policy.hcl");
const VERSIONS: &str = include_str!("../../fixtures/versions.env");

/// The checkout this binary was built from (scripts live there).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The article's read policy for a KV engine mounted at `kv_mount`.
pub fn read_policy(kv_mount: &str) -> String {
    READ_POLICY.replace("{mount}", kv_mount)
}

/// A pinned version from `fixtures/versions.env`.
///
/// # Panics
/// When `key` is not in the file: a programming error caught by the unit tests.
pub fn version(key: &str) -> &'static str {
    pins()
        .get(key)
        .copied()
        .unwrap_or_else(|| panic!("fixtures/versions.env has no {key}"))
}

fn pins() -> BTreeMap<&'static str, &'static str> {
    VERSIONS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_policy_is_the_articles_rule_for_the_mount() {
        let policy = read_policy("secret");
        assert!(policy.contains("path \"secret*\" {"), "{policy}");
        assert!(policy.contains("capabilities = [\"read\", \"list\"]"), "{policy}");
        assert!(!policy.contains("{mount}"));
    }

    #[test]
    fn pins_are_exact_versions() {
        assert_eq!(version("OPENBAO_VERSION"), "2.7.2");
        for (key, value) in pins() {
            assert!(!value.is_empty() && value != "latest", "{key} must be pinned");
        }
    }
}
