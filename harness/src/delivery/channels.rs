//! The Configuration row's measurement: where each per-app setting lives. The harness looks for
//! every value it rendered into one consumer's objects (Vault's address, its CA, the auth mount,
//! the role, the secret's path, the refresh interval, where the files go) and records the object
//! and field holding it, classed as a channel: pod annotation, pod volume spec, container spec,
//! ConfigMap, custom resource… A setting found nowhere in the consumer's objects is not written
//! per app (the method's per-cluster install carries it, or its default applies).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{APP, Consumer, Profile, SECRETS_DIR, Target};
use crate::{Result, apply};

/// Where a setting's value was found, as the Configuration row names channels.
pub const NOT_PER_APP: &str = "not per app";

/// A setting the harness renders, and the forms its value takes in manifests.
pub struct Setting {
    pub name: &'static str,
    needles: Vec<Needle>,
}

enum Needle {
    /// The value as a token of a string (bounded by characters no identifier has: quotes,
    /// spaces, line breaks).
    Token(String),
    /// The whole string.
    Whole(String),
    /// A directory, as a token or as the start of a path under it.
    Dir(String),
}

/// The per-app settings the harness renders for `consumer` in `profile`.
pub fn settings(target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Vec<Setting> {
    use Needle::{Dir, Token, Whole};
    let auth = &target.cfg.kubernetes_auth;
    let ca_first_line = target
        .ca_pem
        .lines()
        .find(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .unwrap_or_default();
    let mut settings = vec![
        Setting {
            name: "Vault address",
            needles: vec![Token(target.vault.endpoint.addr.clone())],
        },
        Setting {
            name: "CA certificate",
            needles: vec![Token(ca_first_line.to_string()), Whole(target.ca_pem_base64())],
        },
        Setting {
            name: "auth mount",
            needles: vec![Token(format!("auth/{}", auth.mount)), Whole(auth.mount.clone())],
        },
        Setting {
            name: "role",
            needles: vec![Token(auth.role.clone())],
        },
        Setting {
            name: "secret path",
            needles: vec![
                Token(target.secret_path(&consumer.secret_name)),
                Whole(consumer.secret_name.clone()),
            ],
        },
        Setting {
            name: "output files",
            needles: vec![Dir(SECRETS_DIR.to_string())],
        },
    ];
    if let Some(interval) = profile.interval() {
        settings.push(Setting {
            name: "refresh interval",
            needles: vec![Token(format!("{}s", interval.as_secs()))],
        });
    }
    settings
}

/// One setting's places in a consumer's objects: the channels (sorted, distinct) and the fields
/// (`Kind.path`), both empty when it is not written per app.
#[derive(Debug, PartialEq)]
pub struct Placed {
    pub setting: &'static str,
    pub channels: Vec<String>,
    pub fields: Vec<String>,
}

impl Placed {
    /// `role → pod annotation (Pod.metadata.annotations.vault.hashicorp.com/role)`, the form the
    /// samples' `observed` carries and the report reads back with [`Placed::channels_of`].
    pub fn observed(&self) -> String {
        match self.channels.is_empty() {
            true => format!("{} → {NOT_PER_APP}", self.setting),
            false => format!(
                "{} → {} ({})",
                self.setting,
                self.channels.join(" + "),
                self.fields.join(", ")
            ),
        }
    }

    /// The setting and its channels from an [`Placed::observed`] text.
    pub fn channels_of(observed: &str) -> Option<(&str, Vec<&str>)> {
        let (setting, rest) = observed.split_once(" → ")?;
        let channels = rest.split_once(" (").map_or(rest, |(channels, _)| channels);
        Some((setting, channels.split(" + ").collect()))
    }
}

/// Where each of `settings` sits in `manifests` (the consumer's objects): every string leaf
/// outside the application container and the objects' names is searched.
pub fn place(manifests: &str, settings: &[Setting]) -> Result<Vec<Placed>> {
    let mut leaves = Vec::new();
    for document in apply::documents(manifests)? {
        let kind = document["kind"].as_str().unwrap_or("(no kind)").to_string();
        let api_version = document["apiVersion"].as_str().unwrap_or_default().to_string();
        collect(&document, &mut vec![kind], &api_version, &mut leaves);
    }
    Ok(settings
        .iter()
        .map(|setting| {
            let hits: Vec<&Leaf> = leaves
                .iter()
                .filter(|leaf| setting.needles.iter().any(|n| n.found_in(&leaf.value)))
                .collect();
            let channels: BTreeSet<String> = hits.iter().map(|leaf| leaf.channel.clone()).collect();
            let fields: BTreeSet<String> = hits.iter().map(|leaf| leaf.path.join(".")).collect();
            Placed {
                setting: setting.name,
                channels: channels.into_iter().collect(),
                fields: fields.into_iter().collect(),
            }
        })
        .collect())
}

struct Leaf {
    path: Vec<String>,
    channel: String,
    value: String,
}

fn collect(value: &Value, path: &mut Vec<String>, api_version: &str, leaves: &mut Vec<Leaf>) {
    match value {
        Value::Object(fields) => {
            if fields.get("name").and_then(Value::as_str) == Some(APP) && is_container_list(path) {
                return;
            }
            for (key, child) in fields {
                if path.len() == 2 && path[1] == "metadata" && key != "annotations" {
                    continue;
                }
                path.push(key.clone());
                collect(child, path, api_version, leaves);
                path.pop();
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, path, api_version, leaves)),
        Value::String(text) => leaves.push(Leaf {
            path: path.clone(),
            channel: channel(path, api_version).to_string(),
            value: text.clone(),
        }),
        _ => {}
    }
}

fn is_container_list(path: &[String]) -> bool {
    path.last()
        .is_some_and(|last| last == "containers" || last == "initContainers")
}

/// The channel of a field at `path` (its first segment the object's kind).
fn channel(path: &[String], api_version: &str) -> &'static str {
    let kind = path[0].as_str();
    let pod_field = match kind {
        "Pod" => path.get(1..),
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => path.get(3..).filter(|_| path[1] == "spec"),
        _ => None,
    };
    if let Some(field) = pod_field {
        return match field.first().map(String::as_str) {
            Some("metadata") => "pod annotation",
            _ => match field.get(1).map(String::as_str) {
                Some("volumes") => "pod volume spec",
                Some("containers" | "initContainers") => "container spec",
                _ => "pod spec",
            },
        };
    }
    match kind {
        "ConfigMap" => "ConfigMap",
        "Secret" => "Secret",
        _ if api_version.contains('.') && api_version.contains('/') => "custom resource",
        _ => "other object",
    }
}

impl Needle {
    fn found_in(&self, text: &str) -> bool {
        match self {
            Needle::Whole(value) => text == value,
            Needle::Token(value) => bounded(text, value, |_| false),
            Needle::Dir(value) => bounded(text, value, |after| after == '/'),
        }
    }
}

/// `value` occurs in `text` with no identifier character just before it, and after it none
/// unless `may_follow` allows it.
fn bounded(text: &str, value: &str, may_follow: impl Fn(char) -> bool) -> bool {
    !value.is_empty()
        && text.match_indices(value).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + value.len()..].chars().next();
            !before.is_some_and(identifier) && after.is_none_or(|c| !identifier(c) || may_follow(c))
        })
}

fn identifier(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.:+=@/".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Method, tests_support};

    #[test]
    fn a_token_is_bounded_by_what_no_identifier_has() {
        let token = |v: &str| Needle::Token(v.into());
        assert!(token("vault-test").found_in("role = \"vault-test\""));
        assert!(!token("vault-test").found_in("vault-test2"));
        assert!(!token("kubernetes").found_in("auth/kubernetes"));
        assert!(token("auth/kubernetes").found_in("mount_path = \"auth/kubernetes\"\n"));
        assert!(!token("/vault/secrets").found_in("destination = \"/vault/secrets/secret\""));
        let dir = Needle::Dir("/vault/secrets".into());
        assert!(dir.found_in("/vault/secrets"));
        assert!(dir.found_in("destination = \"/vault/secrets/secret\""));
        assert!(!dir.found_in("/vault/secrets-old"));
        assert!(!Needle::Whole("s1".into()).found_in("ns1"));
        assert!(Needle::Whole("s1".into()).found_in("s1"));
    }

    #[test]
    fn every_methods_settings_are_placed_in_its_channels() {
        let mut placed = Vec::new();
        tests_support::target_with(2, |target| {
            for method in Method::all() {
                let consumer = tests_support::consumer();
                let manifests = method.manifests(target, &consumer, Profile::Tuned).unwrap();
                let found = place(&manifests, &settings(target, &consumer, Profile::Tuned)).unwrap();
                for p in found {
                    placed.push(format!("{method}: {} → {}", p.setting, p.channels.join(" + ")));
                }
            }
        });
        let text = placed.join("\n");
        for line in [
            "agent_sidecar: Vault address → ConfigMap",
            "agent_sidecar: CA certificate → ConfigMap",
            "agent_sidecar: role → ConfigMap",
            "agent_sidecar: refresh interval → ConfigMap",
            "injector: Vault address → ",
            "injector: output files → ",
            "agent_sidecar: output files → ConfigMap + container spec",
            "injector: role → pod annotation",
            "injector: secret path → pod annotation",
            "injector: auth mount → pod annotation",
            "injector: refresh interval → pod annotation",
            "eso: Vault address → custom resource",
            "eso: CA certificate → custom resource",
            "eso: secret path → custom resource",
            "eso: refresh interval → custom resource",
            "csi: role → custom resource",
            "csi: secret path → custom resource",
            "csi: Vault address → ",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn the_observed_text_round_trips_its_channels() {
        let p = Placed {
            setting: "output files",
            channels: vec!["ConfigMap".into(), "container spec".into()],
            fields: vec![
                "ConfigMap.data.agent.hcl".into(),
                "Pod.spec.containers.volumeMounts.mountPath".into(),
            ],
        };
        assert_eq!(
            p.observed(),
            "output files → ConfigMap + container spec (ConfigMap.data.agent.hcl, Pod.spec.containers.volumeMounts.mountPath)"
        );
        assert_eq!(
            Placed::channels_of(&p.observed()),
            Some(("output files", vec!["ConfigMap", "container spec"]))
        );
        let none = Placed {
            setting: "CA certificate",
            channels: vec![],
            fields: vec![],
        };
        assert_eq!(
            Placed::channels_of(&none.observed()),
            Some(("CA certificate", vec![NOT_PER_APP]))
        );
    }
}
