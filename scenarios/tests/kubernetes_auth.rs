//! The article's runbook across the two clusters: pods in `app` log in to the Vault running in
//! `vault` with their service-account tokens (Vault reviews them against the app cluster with
//! the `vault-auth` reviewer token), get a TTL-capped token holding `read-policy`, and can read
//! but not write; unbound accounts, namespaces and roles, tokens of the other cluster and a bad
//! reviewer JWT are refused. Every test uses its own namespace, role or mount, so they run in
//! parallel; what a test adds to the shared Vault (a role, a mount) it removes when it ends,
//! also when it fails.
//!
//! Run just these: `cargo nextest run -P e2e -E 'binary(kubernetes_auth)'`.

use std::future::Future;

use harness::{
    apply,
    cluster::{Cluster, Role},
    config::Config,
    duration::Ttl,
    pods::TestNamespace,
    secret::{ExposeSecret, SecretString},
    tier::vault::{self as tier, expect},
    vault::{
        Login, Vault,
        in_cluster::{self, ClusterVault},
    },
};
use scenarios::{env, finally, scenario};
use serde_json::json;

struct Env {
    cfg: Config,
    app: Cluster,
    vault_cluster: Cluster,
    vault: ClusterVault,
    root: Vault,
}

fn env() -> Env {
    Env {
        cfg: env::config(),
        app: env::cluster(Role::App),
        vault_cluster: env::cluster(Role::Vault),
        vault: env::cluster_vault(),
        root: env::root_vault(),
    }
}

impl Env {
    /// A fresh namespace in `cluster` and a TokenRequest token for `account` in it.
    async fn token_in_fresh_namespace(
        &self,
        cluster: &Cluster,
        prefix: &str,
        account: &str,
    ) -> (TestNamespace, SecretString) {
        let ns = TestNamespace::create(&cluster.client().await.unwrap(), prefix)
            .await
            .unwrap();
        let jwt = env::token_request(ns.client(), &ns.name, account).await;
        (ns, jwt)
    }

    fn anonymous(&self) -> Vault {
        Vault::connect(&self.vault.endpoint, None).unwrap()
    }

    async fn login(&self, mount: &str, role: &str, jwt: &SecretString) -> harness::Result<Login> {
        let body = json!({ "role": role, "jwt": jwt.expose_secret() });
        self.anonymous().login(&format!("{mount}/login"), body).await
    }

    /// Runs `body`, then removes what it added to the shared Vault, also when it fails: each of
    /// `added` is a path to delete, `sys/auth/<mount>` (disables the auth mount) or
    /// `auth/<mount>/role/<name>` (deletes the role). Vault answers a delete of something that is
    /// not there with success, so a body that failed before adding it is cleaned up as well.
    async fn removing<F: Future>(&self, added: &[String], body: F) -> F::Output {
        finally(body, async {
            let mut failed = Vec::new();
            for path in added {
                harness::step!("delete {path}");
                if let Err(e) = self.root.raw(http::Method::DELETE, path, None).await {
                    failed.push(format!("delete {path}: {e}"));
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(failed.join("; "))
            }
        })
        .await
    }
}

/// `sys/auth/<mount>`: what to delete to disable an auth mount.
fn mount_path(mount: &str) -> String {
    format!("sys/auth/{mount}")
}

/// `auth/<mount>/role/<name>`: what to delete to remove a role.
fn role_path(mount: &str, role: &str) -> String {
    format!("auth/{mount}/role/{role}")
}

/// Vault refused with `status` and a message containing `text`.
#[track_caller]
fn assert_refused(refused: &harness::Error, status: u16, text: &str) {
    assert_eq!(refused.vault_status(), Some(status), "{refused}");
    assert!(refused.to_string().contains(text), "{refused}");
}

#[tokio::test]
async fn a_tokenrequest_login_gets_read_policy_and_the_articles_capped_ttl_with_its_warning() {
    scenario(async {
        let env = env();
        let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-login", "default").await;

        let auth = &env.cfg.kubernetes_auth;
        let login = env.login(&auth.mount, &auth.role, &jwt).await.unwrap();

        expect::ttl_capped(&login, &env.cfg).assert_passed();
        assert_eq!(login.policies, ["default", env.cfg.policy.name.as_str()]);
        assert_eq!(login.metadata.get("role"), Some(&auth.role));
        assert_eq!(
            login.metadata.get("service_account_name").map(String::as_str),
            Some("default")
        );
        assert_eq!(login.metadata.get("service_account_namespace"), Some(&ns.name));
        ns.delete().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn the_login_token_lists_and_reads_the_secret_but_cannot_write_delete_or_leave_the_mount() {
    scenario(async {
        let env = env();
        let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-policy", "default").await;
        let auth = &env.cfg.kubernetes_auth;
        let login = env.login(&auth.mount, &auth.role, &jwt).await.unwrap();
        let reader = env.anonymous().with_token(&login.token).unwrap();

        let probe = tier::probe(&reader, &env.cfg).await;

        for check in expect::read_policy_enforced(&probe, &env.cfg) {
            check.assert_passed();
        }
        expect::secret_listed(probe.list.as_ref().unwrap(), &env.cfg).assert_passed();
        expect::secret_fields(probe.read.as_ref().unwrap(), &env.cfg).assert_passed();
        ns.delete().await.unwrap();
    })
    .await
}

/// The article's own step: `vault write auth/kubernetes/login role=vault-test jwt=...` run in a
/// pod of the app cluster with the pod's service-account token, then the reads it allows.
/// The script prints the login (tokens redacted) and one line per operation; secret values
/// are compared inside the pod and never printed.
const POD_SCRIPT: &str = r#"
set -u
if ! bao write -format=json "auth/$MOUNT/login" role="$ROLE" jwt=@/var/run/secrets/kubernetes.io/serviceaccount/token >/tmp/login.json 2>/tmp/login.err; then
  echo "LOGIN-FAILED $(tr '\n' ' ' </tmp/login.err)"; exit 0
fi
echo BEGIN-LOGIN
sed -E 's/"(client_token|accessor)": "[^"]*"/"\1": "[REDACTED]"/' /tmp/login.json
echo END-LOGIN
VAULT_TOKEN=$(sed -n 's/^ *"client_token": "\([^"]*\)".*/\1/p' /tmp/login.json); export VAULT_TOKEN
op() { name=$1; shift
  if out=$("$@" 2>&1); then echo "OP $name ok"
  else echo "OP $name code=$(printf '%s' "$out" | sed -n 's/.*Code: \([0-9][0-9]*\).*/\1/p' | head -n1)"; fi; }
op list bao kv list "$KV_MOUNT"
for f in /expected/*; do k=$(basename "$f")
  if [ "$(bao kv get -field="$k" "$KV_MOUNT/$SECRET" 2>/dev/null)" = "$(cat "$f")" ]; then echo "FIELD $k match"; else echo "FIELD $k differs"; fi
done
op put bao kv put "$KV_MOUNT/$SECRET" probe=denied
op delete bao kv delete "$KV_MOUNT/$SECRET"
op outside bao kv get "$OUTSIDE/$SECRET"
"#;

#[tokio::test]
async fn a_pod_logs_in_with_its_own_service_account_token_as_the_article_does() {
    scenario(async {
        let env = env();
        let client = env.app.client().await.unwrap();
        let ns = TestNamespace::create(&client, "e2e-pod-login").await.unwrap();
        let ca = std::fs::read_to_string(env.vault.endpoint.ca_cert.as_ref().unwrap()).unwrap();
        let expected: serde_json::Map<String, serde_json::Value> = env
            .cfg
            .kv
            .data
            .iter()
            .map(|(k, v)| (k.to_string(), v.expose_secret().into()))
            .collect();
        let objects = json!([
            { "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "vault-ca", "namespace": ns.name },
              "data": { "ca.pem": ca } },
            { "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "expected", "namespace": ns.name },
              "stringData": expected }
        ]);
        for object in objects.as_array().unwrap() {
            apply::apply(&client, &object.to_string()).await.unwrap();
        }
        let (cfg, auth) = (&env.cfg, &env.cfg.kubernetes_auth);
        let env_vars = [
            ("VAULT_ADDR", env.vault.endpoint.addr.as_str()),
            ("VAULT_CACERT", "/ca/ca.pem"),
            ("MOUNT", auth.mount.as_str()),
            ("ROLE", auth.role.as_str()),
            ("KV_MOUNT", cfg.kv.mount.as_str()),
            ("SECRET", cfg.kv.secret.as_str()),
            ("OUTSIDE", cfg.kv.outside_mount.as_str()),
        ];
        let spec = json!({
            "restartPolicy": "Never",
            "serviceAccountName": "default",
            "containers": [{
                "name": "app", "image": in_cluster::image(cfg.vault.flavor).unwrap(), "imagePullPolicy": "Never",
                "command": ["sh", "-c", POD_SCRIPT],
                "env": env_vars.iter().map(|(n, v)| json!({ "name": n, "value": v })).collect::<Vec<_>>(),
                "volumeMounts": [{ "name": "ca", "mountPath": "/ca" }, { "name": "expected", "mountPath": "/expected" }]
            }],
            "volumes": [
                { "name": "ca", "configMap": { "name": "vault-ca" } },
                { "name": "expected", "secret": { "secretName": "expected" } }
            ]
        });

        let outcome = ns.run_spec("article-login", spec).await.unwrap();

        assert!(outcome.succeeded(), "{:?} {:?}", outcome.phase, ns.events().await);
        let logs = &outcome.logs;
        assert!(!logs.contains("LOGIN-FAILED"), "{logs}");
        let login_json = logs
            .split("BEGIN-LOGIN")
            .nth(1)
            .and_then(|l| l.split("END-LOGIN").next())
            .expect("login");
        let response: serde_json::Value = serde_json::from_str(login_json).unwrap();
        let login = Login {
            token: "[REDACTED]".into(),
            policies: serde_json::from_value(response["auth"]["policies"].clone()).unwrap(),
            lease_duration: Ttl::from_secs(response["auth"]["lease_duration"].as_u64().unwrap()),
            metadata: serde_json::from_value(response["auth"]["metadata"].clone()).unwrap(),
            warnings: serde_json::from_value(response["warnings"].clone()).unwrap(),
        };
        expect::ttl_capped(&login, cfg).assert_passed();
        assert_eq!(login.policies, ["default", cfg.policy.name.as_str()]);
        assert_eq!(login.metadata.get("service_account_namespace"), Some(&ns.name));
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| l.starts_with("OP ") || l.starts_with("FIELD "))
            .collect();
        let mut wanted = vec!["OP list ok".to_string()];
        wanted.extend(cfg.kv.data.keys().map(|k| format!("FIELD {k} match")));
        wanted.extend(["OP put code=403", "OP delete code=403", "OP outside code=403"].map(String::from));
        assert_eq!(lines, wanted);
        ns.delete().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_service_account_outside_the_bound_names_is_refused_with_403() {
    scenario(async {
        let env = env();
        let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-intruder", "intruder").await;
        let auth = &env.cfg.kubernetes_auth;

        let refused = env.login(&auth.mount, &auth.role, &jwt).await.unwrap_err();

        assert_refused(&refused, 403, "service account name not authorized");
        ns.delete().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_namespace_outside_the_bound_namespaces_is_refused_with_403() {
    scenario(async {
        let env = env();
        let auth = &env.cfg.kubernetes_auth;
        let role = "e2e-bound-namespace";
        env.removing(&[role_path(&auth.mount, role)], async {
            let (ttl, accounts) = (env.cfg.ttl.role_ttl, vec!["default".to_string()]);
            in_cluster::write_role(
                &env.root,
                &env.cfg,
                &auth.mount,
                role,
                ttl,
                &accounts,
                &["only-this-one".into()],
            )
            .await
            .unwrap();
            let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-other-ns", "default").await;

            let refused = env.login(&auth.mount, role, &jwt).await.unwrap_err();

            assert_refused(&refused, 403, "namespace not authorized");
            ns.delete().await.unwrap();
        })
        .await
    })
    .await
}

#[tokio::test]
async fn an_unknown_role_is_refused() {
    scenario(async {
        let env = env();
        let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-no-role", "default").await;

        let refused = env
            .login(&env.cfg.kubernetes_auth.mount, "no-such-role", &jwt)
            .await
            .unwrap_err();

        assert_refused(&refused, 400, "invalid role name");
        ns.delete().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_token_issued_by_the_vault_cluster_is_rejected() {
    scenario(async {
        let env = env();
        let (ns, foreign) = env
            .token_in_fresh_namespace(&env.vault_cluster, "e2e-foreign", "default")
            .await;
        let auth = &env.cfg.kubernetes_auth;

        let refused = env.login(&auth.mount, &auth.role, &foreign).await.unwrap_err();

        assert_eq!(refused.vault_status(), Some(403), "{refused}");
        ns.delete().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_bad_reviewer_jwt_makes_logins_fail_with_a_clear_error() {
    scenario(async {
        let env = env();
        let mount = "e2e-bad-reviewer";
        env.removing(&[mount_path(mount)], async {
            let garbage = SecretString::from("not-a-service-account-token");
            in_cluster::configure_mount(&env.root, &env.app, mount, env.cfg.ttl.effective_max_ttl, &garbage)
                .await
                .unwrap();
            let (ttl, auth) = (env.cfg.ttl.role_ttl, &env.cfg.kubernetes_auth);
            in_cluster::write_role(
                &env.root,
                &env.cfg,
                mount,
                &auth.role,
                ttl,
                &auth.bound_service_accounts,
                &auth.bound_namespaces,
            )
            .await
            .unwrap();
            let (ns, jwt) = env
                .token_in_fresh_namespace(&env.app, "e2e-bad-reviewer", "default")
                .await;

            let refused = env.login(mount, &auth.role, &jwt).await.unwrap_err();

            assert_refused(&refused, 403, "permission denied");
            ns.delete().await.unwrap();
        })
        .await
    })
    .await
}

#[tokio::test]
async fn the_warning_follows_the_roles_ttl_and_a_raised_mount_cap_removes_it() {
    scenario(async {
        let env = env();
        let auth = &env.cfg.kubernetes_auth;
        let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-ttl", "default").await;
        let (role, raised) = ("e2e-ttl-2000h", "e2e-raised-cap");
        env.removing(&[role_path(&auth.mount, role), mount_path(raised)], async {
            // Role TTL 2000h on the article's mount: the text says 2000h.
            let mut cfg_2000h = env.cfg.clone();
            cfg_2000h.ttl.role_ttl = "2000h".parse().unwrap();
            in_cluster::write_role(
                &env.root,
                &cfg_2000h,
                &auth.mount,
                role,
                cfg_2000h.ttl.role_ttl,
                &auth.bound_service_accounts,
                &auth.bound_namespaces,
            )
            .await
            .unwrap();
            let login = env.login(&auth.mount, role, &jwt).await.unwrap();
            expect::ttl_capped(&login, &cfg_2000h).assert_passed();
            assert!(
                login.warnings.iter().any(|w| w.contains("TTL of \"2000h\"")),
                "{:?}",
                login.warnings
            );

            // A mount capped above the role's TTL: no warning, the full TTL.
            let reviewer = in_cluster::reviewer_token(&env.app, &env.cfg).await.unwrap();
            in_cluster::configure_mount(&env.root, &env.app, raised, env.cfg.ttl.raised_max_ttl, &reviewer)
                .await
                .unwrap();
            let ttl = env.cfg.ttl.role_ttl;
            in_cluster::write_role(
                &env.root,
                &env.cfg,
                raised,
                &auth.role,
                ttl,
                &auth.bound_service_accounts,
                &auth.bound_namespaces,
            )
            .await
            .unwrap();
            let login = env.login(raised, &auth.role, &jwt).await.unwrap();
            let tuned = env.root.auth_max_ttl(raised).await.unwrap();
            expect::ttl_uncapped(tuned, &login, &env.cfg).assert_passed();
            ns.delete().await.unwrap();
        })
        .await
    })
    .await
}

/// Fifty logins in a row with one service-account token, each timed on the harness's clock:
/// every one must succeed with the capped TTL. The latencies are samples (written to
/// target/harness/samples/), never asserted on.
#[tokio::test]
async fn fifty_logins_in_a_row_all_succeed_and_their_latency_is_recorded() {
    scenario(async {
        use harness::measure::{self, Metric, Sample};
        let env = env();
        let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-latency", "default").await;
        let auth = &env.cfg.kubernetes_auth;

        let mut samples = Vec::new();
        for _ in 0..50 {
            let started = std::time::Instant::now();
            let login = env.login(&auth.mount, &auth.role, &jwt).await.unwrap();
            samples.push(Sample::millis(
                "kubernetes_auth",
                "-",
                Metric::LoginLatency,
                started.elapsed(),
            ));
            expect::ttl_capped(&login, &env.cfg).assert_passed();
        }

        let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
        let (p50, p95) = (
            measure::percentile(&values, 50.0).unwrap(),
            measure::percentile(&values, 95.0).unwrap(),
        );
        println!(
            "login latency over {} logins: p50 {p50:.1} ms, p95 {p95:.1} ms",
            values.len()
        );
        let file = harness::fixtures::repo_root().join("target/harness/samples/login-latency.jsonl");
        measure::append(&file, &samples).unwrap();
        ns.delete().await.unwrap();
    })
    .await
}
