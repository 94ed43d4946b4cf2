//! The Complexity row's figures: what a user writes for one application beyond the plain pod (the
//! application container alone), counted from a consumer's rendered manifests, and how much RBAC
//! a method's per-cluster components hold cluster-wide, read from the live cluster.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde_json::Value;

use super::APP;
use crate::{Error, Result, apply};

/// Non-blank, non-comment lines of `consumer` beyond those of `plain`; never below 0.
pub fn user_lines_per_app(consumer: &str, plain: &str) -> usize {
    written_lines(consumer).saturating_sub(written_lines(plain))
}

/// Objects (and containers besides the app's) of `consumer` beyond those of `plain`.
pub fn user_objects_per_app(consumer: &str, plain: &str) -> Result<usize> {
    Ok(written_objects(consumer)?.saturating_sub(written_objects(plain)?))
}

/// What a user writes per app, by kind: `ConfigMap ×2, Pod (+ containers vault-agent)`; the
/// plain pod's Pod is not counted unless the consumer has more of them.
pub fn written_kinds(consumer: &str, plain: &str) -> Result<String> {
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut containers = Vec::new();
    for document in apply::documents(consumer)? {
        *kinds
            .entry(document["kind"].as_str().unwrap_or("(no kind)").to_string())
            .or_default() += 1;
        for field in ["initContainers", "containers"] {
            for container in pod_spec(&document)[field].as_array().into_iter().flatten() {
                if container["name"] != APP {
                    containers.push(container["name"].as_str().unwrap_or("(unnamed)").to_string());
                }
            }
        }
    }
    for document in apply::documents(plain)? {
        let kind = document["kind"].as_str().unwrap_or("(no kind)");
        if let Some(n) = kinds.get_mut(kind) {
            *n -= 1;
        }
    }
    let mut text: Vec<String> = kinds
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| match n {
            1 => kind,
            n => format!("{kind} ×{n}"),
        })
        .collect();
    if !containers.is_empty() {
        text.push(format!("containers {}", containers.join(", ")));
    }
    Ok(match text.is_empty() {
        true => "nothing beyond the app's pod".into(),
        false => text.join(", "),
    })
}

/// Distinct key paths of `consumer` that `plain` does not have.
pub fn user_keys_per_app(consumer: &str, plain: &str) -> Result<usize> {
    Ok(new_key_paths(consumer, plain)?.len())
}

/// Non-blank lines that are no comment; a PEM block (from its `-----BEGIN` line to its `-----END`
/// line) is one line: a pasted CA is one thing a user writes, however long.
fn written_lines(yaml: &str) -> usize {
    let mut lines = 0;
    let mut in_pem = false;
    for line in yaml.lines().map(str::trim) {
        if in_pem {
            in_pem = !line.starts_with("-----END ");
        } else if !line.is_empty() && !line.starts_with('#') {
            in_pem = line.starts_with("-----BEGIN ");
            lines += 1;
        }
    }
    lines
}

/// The documents, plus the containers and init containers written into a pod spec besides the
/// application container.
fn written_objects(yaml: &str) -> Result<usize> {
    let documents = apply::documents(yaml)?;
    let containers: usize = documents.iter().map(added_containers).sum();
    Ok(documents.len() + containers)
}

fn added_containers(document: &Value) -> usize {
    let spec = pod_spec(document);
    ["initContainers", "containers"]
        .iter()
        .filter_map(|field| spec[field].as_array())
        .flatten()
        .filter(|container| container["name"] != APP)
        .count()
}

/// A pod's spec, or the pod template's of a workload (null when there is none).
fn pod_spec(document: &Value) -> &Value {
    match document["kind"].as_str() {
        Some("Pod") => &document["spec"],
        _ => &document["spec"]["template"]["spec"],
    }
}

/// The key paths of `consumer` that `plain` does not have, dotted (`Pod.metadata.name`), sorted.
pub fn new_key_paths(consumer: &str, plain: &str) -> Result<Vec<String>> {
    let known = key_paths(plain)?;
    Ok(key_paths(consumer)?
        .difference(&known)
        .map(|path| path.join("."))
        .collect())
}

/// The paths of every document's leaves: its kind, then the mapping keys down to the leaf, each
/// key one segment however many dots it holds (`vault.hashicorp.com/role`); sequence indices are
/// dropped, so a key counts once however many items repeat it. Leaves are scalars (a string is
/// not looked into: a ConfigMap's `data` counts one per key) and empty mappings or sequences,
/// which a user writes as keys too (`emptyDir: {}`).
fn key_paths(yaml: &str) -> Result<BTreeSet<Vec<String>>> {
    let mut paths = BTreeSet::new();
    for document in apply::documents(yaml)? {
        let kind = document["kind"].as_str().ok_or_else(|| {
            let name = document["metadata"]["name"].as_str().unwrap_or("(unnamed)");
            Error::State(format!("manifest object {name} has no kind"))
        })?;
        collect_leaves(&document, &[kind.to_string()], &mut paths);
    }
    Ok(paths)
}

fn collect_leaves(value: &Value, path: &[String], leaves: &mut BTreeSet<Vec<String>>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, child) in fields {
                collect_leaves(child, &[path, std::slice::from_ref(key)].concat(), leaves);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                collect_leaves(item, path, leaves);
            }
        }
        _ => {
            leaves.insert(path.to_vec());
        }
    }
}

/// Distinct (verb, resource) pairs granted by the ClusterRoles that ClusterRoleBindings bind to a
/// service account of `namespace`, read from the live cluster.
pub async fn cluster_rbac_pairs(client: &kube::Client, namespace: &str) -> Result<usize> {
    let bindings = kube::Api::<ClusterRoleBinding>::all(client.clone())
        .list(&Default::default())
        .await
        .map_err(|e| Error::State(format!("listing ClusterRoleBindings: {e}")))?;
    let roles = kube::Api::<ClusterRole>::all(client.clone())
        .list(&Default::default())
        .await
        .map_err(|e| Error::State(format!("listing ClusterRoles: {e}")))?;
    rbac_pairs(&bindings.items, &roles.items, namespace)
}

/// The pairs of [`cluster_rbac_pairs`] from listed objects: API groups and resource names are
/// ignored, `*` is one verb or one resource like any other, non-resource URLs grant no pair. A
/// binding of the namespace naming a ClusterRole that does not exist is an error.
pub fn rbac_pairs(bindings: &[ClusterRoleBinding], roles: &[ClusterRole], namespace: &str) -> Result<usize> {
    let mut pairs = BTreeSet::new();
    for binding in bindings.iter().filter(|b| binds_service_account_of(b, namespace)) {
        let name = &binding.role_ref.name;
        let role = roles
            .iter()
            .find(|r| r.metadata.name.as_ref() == Some(name))
            .ok_or_else(|| {
                Error::State(format!(
                    "ClusterRoleBinding {} names ClusterRole {name}, which does not exist",
                    binding.metadata.name.as_deref().unwrap_or("(unnamed)")
                ))
            })?;
        pairs.extend(verb_resource_pairs(role));
    }
    Ok(pairs.len())
}

fn binds_service_account_of(binding: &ClusterRoleBinding, namespace: &str) -> bool {
    binding
        .subjects
        .iter()
        .flatten()
        .any(|s| s.kind == "ServiceAccount" && s.namespace.as_deref() == Some(namespace))
}

fn verb_resource_pairs(role: &ClusterRole) -> impl Iterator<Item = (&str, &str)> {
    role.rules.iter().flatten().flat_map(|rule| {
        rule.resources
            .iter()
            .flatten()
            .flat_map(|resource| rule.verbs.iter().map(move |verb| (verb.as_str(), resource.as_str())))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PLAIN: &str = "\
# The application container alone.
apiVersion: v1
kind: Pod
metadata:
  name: plain-0
  namespace: ns
spec:
  containers:
    - name: app
      image: app:1
      volumeMounts: []
";

    const CONSUMER: &str = "\
# A CA and an agent's config, and a pod with the agent beside the app.
apiVersion: v1
kind: ConfigMap
metadata:
  name: consumer-0-agent
  namespace: ns
data:
  ca.pem: |
    -----BEGIN CERTIFICATE-----
    MIIBszCCAVmgAwIBAgIUXc2VjcmV0cyBhcmUgbm90
    c2VjcmV0cyBhcmUgbm90IGhlcmUK
    -----END CERTIFICATE-----
  agent.hcl: |
    # a comment in the config is a comment too
    vault { address = \"https://vault:8200\" }

---
apiVersion: v1
kind: Pod
metadata:
  name: consumer-0
  namespace: ns
  annotations:
    vault.hashicorp.com/agent-inject: \"true\"
    vault.hashicorp.com/role: app
spec:
  initContainers:
    - name: agent-init
      image: agent:1
  containers:
    - name: app
      image: app:1
      volumeMounts: [{name: secrets, mountPath: /vault/secrets}]
    - name: agent
      image: agent:1
      args: [\"agent\", \"-config=/vault/config/agent.hcl\"]
  volumes:
    - name: secrets
      emptyDir: {}
";

    #[test]
    fn lines_skip_blanks_and_comments_and_count_a_pem_block_once() {
        assert_eq!(written_lines(PLAIN), 10);
        assert_eq!(written_lines(CONSUMER), 33, "the separator counts, the PEM block once");
        assert_eq!(user_lines_per_app(CONSUMER, PLAIN), 23);
        assert_eq!(user_lines_per_app(PLAIN, CONSUMER), 0, "never below 0");
        assert_eq!(
            written_lines("ca: |\n  -----BEGIN CERTIFICATE-----\n  x\n"),
            2,
            "unterminated"
        );
    }

    #[test]
    fn objects_count_documents_and_the_containers_besides_the_app() {
        assert_eq!(written_objects(PLAIN).unwrap(), 1);
        assert_eq!(
            written_objects(CONSUMER).unwrap(),
            4,
            "ConfigMap, Pod, agent-init, agent"
        );
        assert_eq!(user_objects_per_app(CONSUMER, PLAIN).unwrap(), 3);
        assert_eq!(user_objects_per_app(PLAIN, CONSUMER).unwrap(), 0);
        assert_eq!(
            written_kinds(CONSUMER, PLAIN).unwrap(),
            "ConfigMap, containers agent-init, agent"
        );
        assert_eq!(written_kinds(PLAIN, PLAIN).unwrap(), "nothing beyond the app's pod");
        let deployment =
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers: [{name: app}, {name: agent}]\n";
        assert_eq!(
            written_objects(deployment).unwrap(),
            2,
            "a pod template's containers count"
        );
    }

    #[test]
    fn keys_are_the_leaf_paths_the_plain_pod_has_not() {
        assert_eq!(key_paths(PLAIN).unwrap().len(), 7);
        assert_eq!(
            new_key_paths(CONSUMER, PLAIN).unwrap(),
            [
                "ConfigMap.apiVersion",
                "ConfigMap.data.agent.hcl",
                "ConfigMap.data.ca.pem",
                "ConfigMap.kind",
                "ConfigMap.metadata.name",
                "ConfigMap.metadata.namespace",
                "Pod.metadata.annotations.vault.hashicorp.com/agent-inject",
                "Pod.metadata.annotations.vault.hashicorp.com/role",
                "Pod.spec.containers.args",
                "Pod.spec.containers.volumeMounts.mountPath",
                "Pod.spec.containers.volumeMounts.name",
                "Pod.spec.initContainers.image",
                "Pod.spec.initContainers.name",
                "Pod.spec.volumes.emptyDir",
                "Pod.spec.volumes.name",
            ]
        );
        assert_eq!(user_keys_per_app(CONSUMER, PLAIN).unwrap(), 15);
        assert_eq!(user_keys_per_app(PLAIN, PLAIN).unwrap(), 0);
        let err = user_keys_per_app("metadata: {name: nameless}\n", PLAIN).unwrap_err();
        assert_eq!(err.to_string(), "manifest object nameless has no kind");
    }

    #[test]
    fn the_methods_fixtures_count_what_a_user_writes_per_app() {
        use crate::delivery::{Method, Profile, run::plain_pod, tests_support};
        let plain = plain_pod("ns1", "plain-0").unwrap();
        let mut counted = Vec::new();
        tests_support::target_with(2, |target| {
            for method in Method::all() {
                for profile in Profile::ALL {
                    let manifests = method.manifests(target, &tests_support::consumer(), profile).unwrap();
                    counted.push((
                        format!("{method} {}", profile.name()),
                        user_lines_per_app(&manifests, &plain),
                        user_objects_per_app(&manifests, &plain).unwrap(),
                        user_keys_per_app(&manifests, &plain).unwrap(),
                    ));
                }
            }
        });
        let expected = [
            ("agent_sidecar tuned", 68, 3, 14),
            ("agent_sidecar defaults", 65, 3, 14),
            ("injector tuned", 7, 0, 6),
            ("injector defaults", 6, 0, 5),
            ("eso tuned", 40, 2, 26),
            ("eso defaults", 39, 2, 25),
            ("csi tuned", 25, 1, 15),
            ("csi defaults", 25, 1, 15),
        ]
        .map(|(name, lines, objects, keys)| (name.to_string(), lines, objects, keys));
        assert_eq!(counted, expected, "(method profile, lines, objects, keys)");
    }

    fn binding(name: &str, role: &str, subjects: serde_json::Value) -> ClusterRoleBinding {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
            "subjects": subjects,
        }))
        .unwrap()
    }

    fn role(name: &str, rules: serde_json::Value) -> ClusterRole {
        serde_json::from_value(json!({ "metadata": { "name": name }, "rules": rules })).unwrap()
    }

    fn service_account(namespace: &str) -> serde_json::Value {
        json!([{ "kind": "ServiceAccount", "name": "controller", "namespace": namespace }])
    }

    #[test]
    fn rbac_pairs_are_distinct_verbs_on_resources_bound_to_the_namespaces_service_accounts_and_need_their_roles() {
        let roles = [
            role(
                "webhook",
                json!([
                    { "apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"], "verbs": ["get", "list", "watch", "patch"] },
                    { "apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "resourceNames": ["one"], "verbs": ["get"] },
                ]),
            ),
            role(
                "viewer",
                json!([
                    { "apiGroups": ["extensions"], "resources": ["pods"], "verbs": ["get", "*"] },
                    { "nonResourceURLs": ["/healthz"], "verbs": ["get"] },
                ]),
            ),
            role(
                "cluster-admin",
                json!([{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] }]),
            ),
        ];
        let bindings = [
            binding("webhook", "webhook", service_account("components")),
            binding("viewer", "viewer", service_account("components")),
            binding("elsewhere", "cluster-admin", service_account("kube-system")),
            binding(
                "a-user",
                "cluster-admin",
                json!([{ "kind": "User", "name": "controller", "namespace": "components" }]),
            ),
            binding("dangling-elsewhere", "gone", service_account("kube-system")),
        ];
        // 4 on webhook configurations, get on pods and deployments, and * on pods.
        assert_eq!(rbac_pairs(&bindings, &roles, "components").unwrap(), 7);
        assert_eq!(rbac_pairs(&bindings[..3], &roles, "kube-system").unwrap(), 1, "* on *");
        assert_eq!(rbac_pairs(&bindings, &roles, "nobody").unwrap(), 0);
        let err = rbac_pairs(&bindings, &roles, "kube-system").unwrap_err().to_string();
        assert_eq!(
            err,
            "ClusterRoleBinding dangling-elsewhere names ClusterRole gone, which does not exist"
        );
    }
}
