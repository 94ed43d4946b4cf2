//! Cluster scenarios: they need the two kind clusters `harness up` creates (the `e2e` nextest
//! profile's setup script runs `scripts/e2e-up.sh`, which builds the images and brings them up).
//! Run: `cargo nextest run -P e2e`; one group: `cargo nextest run -P e2e -E 'test(/^clusters::/)'`.

/// The `harness` binary the e2e setup script built (this test crate is another package).
fn harness_binary() -> std::path::PathBuf {
    harness::fixtures::repo_root().join("target/debug/harness")
}

/// `module::test` of the test it is used in: the name its evidence directory gets.
macro_rules! this_test {
    () => {{
        fn here() {}
        std::any::type_name_of_val(&here)
            .trim_end_matches("::here")
            .replace("::{{closure}}", "")
            .trim_start_matches("e2e::")
            .to_string()
    }};
}

mod clusters {
    //! The air-gapped kind clusters: built from source, nothing pulled, isolated DNS, and a path
    //! between the clusters over the kind network.

    use harness::evidence;
    use harness::{
        cluster::{self, Cluster, Role},
        fixtures, paths,
        pods::TestNamespace,
    };
    use tokio::process::Command;

    const LOCAL_IMAGE: &str = "harness.local/debian-minbase:bookworm";

    fn clusters() -> Vec<Cluster> {
        let clusters = cluster::load(&paths::state_dir()).expect("harness up has run");
        assert_eq!(clusters.len(), 2, "a vault and an app cluster");
        clusters
    }

    fn by_role(role: Role) -> Cluster {
        clusters()
            .into_iter()
            .find(|c| c.role == role)
            .expect("cluster for role")
    }

    async fn docker(args: &[&str]) -> String {
        let out = Command::new("docker").args(args).output().await.expect("docker runs");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[tokio::test]
    async fn both_clusters_run_the_locally_built_node_image_and_are_ready() {
        evidence::kept_on_failure(&this_test!(), async {
            let built = format!("harness.local/kind-node:{}", fixtures::version("KUBE_VERSION"));
            for cluster in clusters() {
                let node = format!("{}-control-plane", cluster.name);
                let image = docker(&["inspect", "--format", "{{.Config.Image}}", &node]).await;
                assert_eq!(image.trim(), built, "{node} runs the node image built here");
                let client = cluster.client().await.unwrap();
                let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
                let status = nodes.get(&node).await.unwrap().status.unwrap();
                let ready = status
                    .conditions
                    .unwrap()
                    .into_iter()
                    .find(|c| c.type_ == "Ready")
                    .unwrap();
                assert_eq!(ready.status, "True", "{node} is Ready");
                let version = status.node_info.unwrap().kubelet_version;
                assert_eq!(
                    version,
                    fixtures::version("KUBE_VERSION"),
                    "kubelet built from the pinned module"
                );
            }
        })
        .await
    }

    #[tokio::test]
    async fn coredns_answers_cluster_names_and_has_no_upstream() {
        evidence::kept_on_failure(&this_test!(), async {
            for cluster in clusters() {
                let client = cluster.client().await.unwrap();
                let ns = TestNamespace::create(&client, "e2e-dns").await.unwrap();
                let lookup = ns
                    .run(
                        "lookup",
                        LOCAL_IMAGE,
                        &["getent", "hosts", "kubernetes.default.svc.cluster.local"],
                    )
                    .await
                    .unwrap();
                assert!(
                    lookup.succeeded(),
                    "{}: {lookup:?} {:?}",
                    cluster.name,
                    ns.events().await
                );
                assert!(
                    lookup.logs.starts_with("10.96.0.1 "),
                    "{}: {}",
                    cluster.name,
                    lookup.logs
                );
                // A name outside the cluster must not resolve: CoreDNS has nowhere to forward it.
                let outside = ns
                    .run("outside", LOCAL_IMAGE, &["getent", "hosts", "example.com"])
                    .await
                    .unwrap();
                assert!(
                    !outside.succeeded(),
                    "{}: example.com resolved: {}",
                    cluster.name,
                    outside.logs
                );
                ns.delete().await.unwrap();
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_pod_from_a_locally_built_image_runs_to_completion() {
        evidence::kept_on_failure(&this_test!(), async {
            let app = by_role(Role::App);
            let ns = TestNamespace::create(&app.client().await.unwrap(), "e2e-local-image")
                .await
                .unwrap();
            let outcome = ns
                .run("hello", LOCAL_IMAGE, &["sh", "-c", "echo built-here"])
                .await
                .unwrap();
            assert!(outcome.succeeded(), "{outcome:?} {:?}", ns.events().await);
            assert_eq!(outcome.logs.trim(), "built-here");
            ns.delete().await.unwrap();
        })
        .await
    }

    #[tokio::test]
    async fn a_pod_in_each_cluster_reaches_the_other_clusters_api_server_over_the_kind_network() {
        evidence::kept_on_failure(&this_test!(), async {
            for (from, to) in [
                (by_role(Role::App), by_role(Role::Vault)),
                (by_role(Role::Vault), by_role(Role::App)),
            ] {
                let ns = TestNamespace::create(&from.client().await.unwrap(), "e2e-cross")
                    .await
                    .unwrap();
                // bash's /dev/tcp: a TCP connection from inside the pod to the other API server.
                let connect = format!("exec 3<>/dev/tcp/{}/6443 && echo connected", to.node_address);
                let outcome = ns.run("cross", LOCAL_IMAGE, &["bash", "-c", &connect]).await.unwrap();
                assert!(outcome.succeeded(), "{} -> {}: {outcome:?}", from.name, to.internal_api);
                assert_eq!(outcome.logs.trim(), "connected");
                ns.delete().await.unwrap();
            }
        })
        .await
    }

    #[tokio::test]
    async fn nothing_was_pulled_from_a_registry() {
        evidence::kept_on_failure(&this_test!(), async {
            for id in docker(&["images", "--quiet", "--no-trunc"]).await.lines() {
                let digests = docker(&["image", "inspect", "--format", "{{.RepoTags}} {{.RepoDigests}}", id]).await;
                assert!(
                    digests.trim_end().ends_with("[]"),
                    "a pulled image carries a repo digest: {digests}"
                );
            }
            for cluster in clusters() {
                let node = format!("{}-control-plane", cluster.name);
                let journal = docker(&["exec", &node, "journalctl", "-u", "containerd", "--no-pager"]).await;
                assert_eq!(
                    journal.matches("PullImage").count(),
                    0,
                    "containerd in {node} pulled an image"
                );
            }
        })
        .await
    }
}

mod kubernetes_auth {
    //! The article's runbook across the two clusters: pods in `app` log in to the Vault running in
    //! `vault` with their service-account tokens (Vault reviews them against the app cluster with
    //! the `vault-auth` reviewer token), get a TTL-capped token holding `read-policy`, and can read
    //! but not write. Every test uses its own namespace, role or mount, so they run in parallel.

    use harness::evidence;
    use harness::{
        apply,
        cluster::{self, Cluster, Role},
        config::Config,
        duration::Ttl,
        paths,
        pods::TestNamespace,
        secret::{ExposeSecret, SecretString},
        tier::vault::{self as tier, expect},
        vault::{
            Login, Vault,
            in_cluster::{self, ClusterVault},
        },
    };
    use k8s_openapi::api::{
        authentication::v1::{TokenRequest, TokenRequestSpec},
        core::v1::ServiceAccount,
    };
    use kube::api::{Api, PostParams};
    use serde_json::json;
    use std::time::Duration;

    struct Env {
        cfg: Config,
        app: Cluster,
        vault_cluster: Cluster,
        vault: ClusterVault,
        root: Vault,
    }

    async fn env() -> Env {
        let state = paths::state_dir();
        let cfg = Config::load(paths::config_file().as_deref()).expect("the config harness up used");
        let clusters = cluster::load(&state).expect("harness up has run");
        let pick = |role| clusters.iter().find(|c| c.role == role).cloned().expect("cluster");
        Env {
            app: pick(Role::App),
            vault_cluster: pick(Role::Vault),
            vault: in_cluster::load(&state).expect("Vault is up in the vault cluster"),
            root: in_cluster::root(&state).expect("the root token harness up stored"),
            cfg,
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
            let jwt = token_request(cluster, &ns.name, account).await;
            (ns, jwt)
        }

        fn anonymous(&self) -> Vault {
            Vault::connect(&self.vault.endpoint, None).unwrap()
        }

        async fn login(&self, mount: &str, role: &str, jwt: &SecretString) -> harness::Result<Login> {
            let body = json!({ "role": role, "jwt": jwt.expose_secret() });
            self.anonymous().login(&format!("{mount}/login"), body).await
        }
    }

    /// Vault refused with `status` and a message containing `text`.
    #[track_caller]
    fn assert_refused(refused: &harness::Error, status: u16, text: &str) {
        assert_eq!(refused.vault_status(), Some(status), "{refused}");
        assert!(refused.to_string().contains(text), "{refused}");
    }

    /// A token for `account` in `namespace` from the cluster's TokenRequest API, as kubelet mints them.
    pub(super) async fn token_request(cluster: &Cluster, namespace: &str, account: &str) -> SecretString {
        let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client().await.unwrap(), namespace);
        if account != "default" {
            let sa: ServiceAccount = serde_json::from_value(json!({ "metadata": { "name": account } })).unwrap();
            accounts.create(&PostParams::default(), &sa).await.unwrap();
        }
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(600),
                ..Default::default()
            },
            ..Default::default()
        };
        // The namespace's `default` account appears a moment after the namespace.
        let what = format!("a token for {namespace}/{account}");
        let minted = harness::wait::until(&what, Duration::from_secs(10), Duration::from_millis(200), || async {
            let created = accounts
                .create_token_request(account, &PostParams::default(), &request)
                .await;
            Ok(created.ok().and_then(|r| r.status).map(|s| s.token))
        })
        .await
        .unwrap();
        minted.into()
    }

    #[tokio::test]
    async fn a_tokenrequest_login_gets_read_policy_and_the_articles_capped_ttl_with_its_warning() {
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
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
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
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
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
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
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
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
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
            let auth = &env.cfg.kubernetes_auth;
            let role = "e2e-bound-namespace";
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
    }

    #[tokio::test]
    async fn an_unknown_role_is_refused() {
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
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
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
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
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
            let mount = "e2e-bad-reviewer";
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
    }

    #[tokio::test]
    async fn the_warning_follows_the_roles_ttl_and_a_raised_mount_cap_removes_it() {
        evidence::kept_on_failure(&this_test!(), async {
            let env = env().await;
            let auth = &env.cfg.kubernetes_auth;
            let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-ttl", "default").await;

            // Role TTL 2000h on the article's mount: the text says 2000h.
            let mut cfg_2000h = env.cfg.clone();
            cfg_2000h.ttl.role_ttl = "2000h".parse().unwrap();
            let role = "e2e-ttl-2000h";
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
            let raised = "e2e-raised-cap";
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
    }

    /// Fifty logins in a row with one service-account token, each timed on the harness's clock:
    /// every one must succeed with the capped TTL. The latencies are samples (written to
    /// target/harness/samples/), never asserted on.
    #[tokio::test]
    async fn fifty_logins_in_a_row_all_succeed_and_their_latency_is_recorded() {
        evidence::kept_on_failure(&this_test!(), async {
            use harness::measure::{self, Sample};
            let env = env().await;
            let (ns, jwt) = env.token_in_fresh_namespace(&env.app, "e2e-latency", "default").await;
            let auth = &env.cfg.kubernetes_auth;

            let mut samples = Vec::new();
            for _ in 0..50 {
                let started = std::time::Instant::now();
                let login = env.login(&auth.mount, &auth.role, &jwt).await.unwrap();
                samples.push(Sample::millis(
                    "kubernetes_auth",
                    "-",
                    "login_latency",
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
}

mod existing_substrate {
    //! `substrate = "existing"`: the harness runs on two clusters it did not create (here, kind
    //! clusters created separately) and `down` removes only what it created in them.

    use harness::evidence;
    use std::{path::Path, process::Command};

    use harness::{
        cluster::{Role, kind},
        config::Config,
        delivery::{Method, session::Session},
        fixtures,
        secret::ExposeSecret,
        tier::vault::expect,
        vault::{Vault, in_cluster},
    };
    use serde_json::json;

    const CLUSTERS: [&str; 2] = ["ext-vault", "ext-app"];

    /// Cluster-wide objects labelled as the harness's, as `kind name`.
    async fn labelled_cluster_wide(client: &kube::Client) -> Vec<String> {
        let found = harness::cluster::existing::labelled_cluster_wide(client).await.unwrap();
        found
            .into_iter()
            .map(|(kind, name)| format!("{} {name}", kind.kind))
            .collect()
    }

    /// Deletes the separately created clusters however the test ends.
    struct Created;

    impl Drop for Created {
        fn drop(&mut self) {
            let kind = kind::kind_binary().unwrap();
            for name in CLUSTERS {
                let _ = Command::new(&kind).args(["delete", "cluster", "--name", name]).output();
            }
        }
    }

    fn harness(config: &Path, state: &Path, args: &[&str]) -> std::process::Output {
        Command::new(super::harness_binary())
            .arg("--config")
            .arg(config)
            .arg("--state-dir")
            .arg(state)
            .args(args)
            .output()
            .expect("the harness binary built by the e2e setup script")
    }

    #[tokio::test]
    async fn harness_up_runs_on_two_given_contexts_and_down_removes_only_what_it_created() {
        evidence::kept_on_failure(&this_test!(), async {
            let work = tempfile::tempdir().unwrap();
            let kubeconfig = work.path().join("kubeconfig");
            let kind = kind::kind_binary().unwrap();
            let image = kind::ImageSource::Offline.node_image();
            let cluster_config = work.path().join("kind.yaml");
            std::fs::write(&cluster_config, fixtures::KIND_CLUSTER).unwrap();
            let _created = Created;
            for name in CLUSTERS {
                let out = Command::new(&kind)
                    .args(["create", "cluster", "--name", name, "--image", &image, "--config"])
                    .arg(&cluster_config)
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "kind create {name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let config = work.path().join("harness.toml");
            let toml = format!(
                "[clusters]\nsubstrate = \"existing\"\nvault = \"kind-ext-vault\"\napp = \"kind-ext-app\"\nkubeconfig = {:?}\n",
                kubeconfig.display().to_string()
            );
            std::fs::write(&config, toml).unwrap();
            let state = work.path().join("state");

            let up = harness(&config, &state, &["up"]);
            assert!(up.status.success(), "up: {}", String::from_utf8_lossy(&up.stderr));

            let cfg = Config::load(Some(&config)).unwrap();
            let clusters = harness::cluster::load(&state).unwrap();
            let app = clusters.iter().find(|c| c.role == Role::App).unwrap();
            let ns = harness::pods::TestNamespace::create(&app.client().await.unwrap(), "e2e-existing")
                .await
                .unwrap();
            let jwt = super::kubernetes_auth::token_request(app, &ns.name, "default").await;
            let vault = Vault::connect(&in_cluster::load(&state).unwrap().endpoint, None).unwrap();
            let body = json!({ "role": cfg.kubernetes_auth.role, "jwt": jwt.expose_secret() });
            let login = vault
                .login(&format!("{}/login", cfg.kubernetes_auth.mount), body)
                .await
                .unwrap();
            expect::ttl_capped(&login, &cfg).assert_passed();
            // The injector and ESO add cluster-wide objects (RBAC, the webhook) `down` must find.
            let session = Session::load(&state, &cfg).await.unwrap();
            for method in [Method::Injector, Method::Eso] {
                method.install(&session.app, &session.env().target).await.unwrap();
            }
            assert!(!labelled_cluster_wide(&session.app).await.is_empty());

            let down = harness(&config, &state, &["down"]);
            assert!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
            let listed = Command::new(&kind).args(["get", "clusters"]).output().unwrap();
            let listed = String::from_utf8_lossy(&listed.stdout);
            assert!(
                CLUSTERS.iter().all(|c| listed.lines().any(|l| l == *c)),
                "the clusters stay: {listed}"
            );
            let vault_cluster = clusters.iter().find(|c| c.role == Role::Vault).unwrap();
            let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
                kube::Api::all(vault_cluster.client().await.unwrap());
            let gone = namespaces
                .get_opt("vault")
                .await
                .unwrap()
                .is_none_or(|n| n.metadata.deletion_timestamp.is_some());
            assert!(gone, "the vault namespace is removed");
            let bindings: kube::Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> =
                kube::Api::all(app.client().await.unwrap());
            assert!(
                bindings.get_opt("vault-auth-delegator").await.unwrap().is_none(),
                "the reviewer binding is removed"
            );
            let default_ns = namespaces.get_opt("default").await.unwrap();
            assert!(default_ns.is_some(), "what the harness did not create stays");
            assert_eq!(
                labelled_cluster_wide(&session.app).await,
                Vec::<String>::new(),
                "the injector's and ESO's cluster-wide objects are removed"
            );
        })
        .await
    }
}

mod delivery {
    //! Secret delivery into an application container by each method, measured (tuned profile:
    //! every refresh interval 10 s). One test per method and profile; each runs the whole plan
    //! (`delivery::run`): ≥ 10 deliveries checked for the right username and password in the app
    //! container, ≥ 20 rotations at random phases seen by the app container without a restart,
    //! then overhead and Vault load. The samples go to target/harness/samples/delivery.jsonl.
    //! The defaults profile (upstream defaults, waits bounded at 6 min) is nightly-only:
    //! `cargo nextest run -P nightly`.

    use harness::{
        config::Config,
        delivery::{
            Method,
            run::{MethodRun, Plan},
            session::Session,
        },
        evidence, measure, paths, report,
    };

    /// Runs the plan; on failure its evidence is kept under target/harness/evidence/<test>/run
    /// (the test's own wrapper adds the clusters' evidence next to it).
    async fn measured(test: &str, method: Method, plan: Plan) -> MethodRun {
        let cfg = Config::load(paths::config_file().as_deref()).expect("the config harness up used");
        let session = Session::load(&paths::state_dir(), &cfg)
            .await
            .expect("harness up has run");
        let run = session
            .run(method, plan, &evidence::dir(test).join("run"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        println!("{}", report::terminal(&report::build(&run.samples)));
        measure::append(
            &harness::fixtures::repo_root().join("target/harness/samples/delivery.jsonl"),
            &run.samples,
        )
        .unwrap();
        run
    }

    /// The run's own checks (right values, no restart, method containers present) fail it with
    /// evidence; what is left to check here is that the plan's sample counts were all measured.
    fn assert_all_measured(run: &MethodRun, plan: Plan) {
        assert_eq!(run.values("delivery_latency").len(), plan.consumers * plan.rounds);
        assert_eq!(run.values("rotation_latency").len(), plan.consumers * plan.rotations);
        assert!(run.values("rotation_latency").iter().all(|ms| *ms >= 0.0));
        assert_eq!(run.values("vault_requests_per_pod_minute").len(), 1);
    }

    #[tokio::test]
    async fn agent_sidecar_tuned_delivers_to_the_app_container_and_rotations_arrive_without_restart() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            let run = measured(&test, Method::AgentSidecar, Plan::quick()).await;
            assert_all_measured(&run, Plan::quick());
        })
        .await
    }

    #[tokio::test]
    async fn injector_tuned_adds_its_agents_delivers_to_the_app_container_and_rotations_arrive_without_restart() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            let run = measured(&test, Method::Injector, Plan::quick()).await;
            assert_all_measured(&run, Plan::quick());
        })
        .await
    }

    #[tokio::test]
    async fn eso_tuned_delivers_through_a_secret_volume_and_rotations_arrive_without_restart() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            let run = measured(&test, Method::Eso, Plan::quick()).await;
            assert_all_measured(&run, Plan::quick());
        })
        .await
    }

    /// Upstream defaults: delivery must work; a rotation may legitimately not arrive within the
    /// bound (ESO refreshes hourly), which is recorded as "not within 6 min", not a failure.
    async fn defaults(test: &str, method: Method) {
        let plan = Plan::defaults();
        let run = measured(test, method, plan).await;
        assert_eq!(run.values("delivery_latency").len(), plan.consumers * plan.rounds);
        assert_eq!(
            run.values("rotation_latency").len() + run.not_within("rotation_latency"),
            plan.consumers * plan.rotations
        );
    }

    #[tokio::test]
    async fn agent_sidecar_defaults_delivers_and_rotations_are_timed_or_bounded() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            defaults(&test, Method::AgentSidecar).await;
        })
        .await
    }

    #[tokio::test]
    async fn injector_defaults_delivers_and_rotations_are_timed_or_bounded() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            defaults(&test, Method::Injector).await;
        })
        .await
    }

    #[tokio::test]
    async fn eso_defaults_delivers_and_rotations_are_timed_or_bounded() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            defaults(&test, Method::Eso).await;
        })
        .await
    }
}

mod faults {
    //! Vault outages under one consumer of each delivery method: measured, never assumed. They
    //! take the shared Vault away, so each runs alone, after the scenarios that share the clusters
    //! (the e2e profile's overrides).

    use harness::{
        config::Config,
        delivery::{Method, fault::Fault, session::Session},
        evidence,
        measure::{self, Outcome},
        paths, report,
    };

    async fn measured(test: &str, fault: Fault) {
        let cfg = Config::load(paths::config_file().as_deref()).expect("the config harness up used");
        let session = Session::load(&paths::state_dir(), &cfg)
            .await
            .expect("harness up has run");
        let evidence = evidence::dir(test).join("run");
        let runs = session
            .fault(fault, &Method::ALL, &evidence)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let samples: Vec<_> = runs.iter().flat_map(|r| r.samples.iter().cloned()).collect();
        println!("{}", report::terminal(&report::build(&samples)));
        for run in &runs {
            measure::append(
                &harness::fixtures::repo_root().join("target/harness/samples/faults.jsonl"),
                &run.samples,
            )
            .unwrap();
            let recovery: Vec<_> = run
                .samples
                .iter()
                .filter(|s| s.metric == format!("{}_recovery_latency", fault.name()))
                .collect();
            assert_eq!(recovery.len(), 1, "{}: one recovery sample", run.method);
            assert!(
                recovery[0].outcome == Outcome::NotWithin || recovery[0].value >= 0.0,
                "{}: recovery measured or bounded",
                run.method
            );
        }
        let status = session.writer.status().await.unwrap();
        assert!(!status.sealed, "Vault is back and unsealed after the fault");
    }

    #[tokio::test]
    async fn vault_sealed_under_running_consumers_is_survived_and_recovery_is_timed() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            measured(&test, Fault::Sealed).await;
        })
        .await
    }

    #[tokio::test]
    async fn vault_killed_right_after_a_rotation_is_survived_and_recovery_is_timed() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            measured(&test, Fault::KilledDuringRotation).await;
        })
        .await
    }

    #[tokio::test]
    async fn vault_down_when_consumers_start_is_recorded_and_recovery_is_timed() {
        let test = this_test!();
        evidence::kept_on_failure(&test, async {
            measured(&test, Fault::DownAtPodStart).await;
        })
        .await
    }
}

mod hygiene {
    //! Secret hygiene, proven on everything the cluster scenarios left behind. Runs last, alone
    //! (priority -100 in the e2e profile): every other scenario's output is written by then.

    use std::{
        collections::BTreeSet,
        os::unix::fs::PermissionsExt,
        path::{Path, PathBuf},
    };

    use harness::{
        cluster::{self, Role},
        fixtures, paths,
        secret::{fingerprint, fingerprints_file, words},
        vault::in_cluster,
    };

    /// Every regular file under `dir`, except private (0600) ones: the harness's own key stores.
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                files(&path, out);
            } else if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                out.push(path);
            }
        }
    }

    /// The logs of every pod in the namespaces that served the run: Vault (with its audit log),
    /// the injector and ESO.
    async fn component_logs() -> Vec<(String, String)> {
        use k8s_openapi::api::core::v1::Pod;
        let mut logs = Vec::new();
        for c in cluster::load(&paths::state_dir()).expect("harness up has run") {
            let client = c.client().await.unwrap();
            let namespaces: &[&str] = match c.role {
                Role::Vault => &["vault"],
                Role::App => &["vault-injector", "external-secrets"],
            };
            for ns in namespaces {
                let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), ns);
                for pod in api.list(&Default::default()).await.unwrap() {
                    let name = pod.metadata.name.unwrap_or_default();
                    let log = api.logs(&name, &Default::default()).await.unwrap_or_default();
                    logs.push((format!("{}:{ns}/{name}", c.name), log));
                }
            }
        }
        logs
    }

    #[tokio::test]
    async fn no_root_token_unseal_key_or_written_secret_value_appears_in_any_output() {
        let state = paths::state_dir();
        let keys: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(in_cluster::dir(&state).join("secrets.json")).unwrap())
                .unwrap();
        let mut secrets: Vec<String> = vec![keys["root_token"].as_str().unwrap().to_string()];
        for key in keys["unseal_keys"].as_array().unwrap() {
            secrets.push(key.as_str().unwrap().to_string());
        }
        assert_eq!(secrets.len(), 6, "root token and 5 unseal keys");
        let values: BTreeSet<String> = std::fs::read_to_string(fingerprints_file())
            .expect("the delivery runs recorded the values they wrote")
            .lines()
            .map(String::from)
            .collect();
        assert!(values.len() >= 2, "fingerprints of the values written");

        let root = fixtures::repo_root();
        let mut outputs = Vec::new();
        for dir in [root.join("target/harness"), root.join("target/nextest"), state.clone()] {
            files(&dir, &mut outputs);
        }
        let mut texts: Vec<(String, String)> = outputs
            .iter()
            .filter(|p| p.as_path() != fingerprints_file())
            .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
            .collect();
        texts.extend(component_logs().await);
        assert!(texts.len() > 10, "outputs to check: {}", texts.len());

        let mut hits = Vec::new();
        for (origin, text) in &texts {
            for secret in &secrets {
                if text.contains(secret.as_str()) {
                    hits.push(format!("{origin}: root token or unseal key"));
                }
            }
            if words(text, 6).any(|w| values.contains(&fingerprint(w))) {
                hits.push(format!("{origin}: a secret value written to Vault"));
            }
        }
        assert_eq!(hits, Vec::<String>::new(), "secrets found in outputs");
    }
}

mod interrupts {
    //! Ctrl-C at random phases and a panic in each phase of `harness up` (two more clusters, next
    //! to the ones under test) and of `harness run`: each time nothing is left behind — no
    //! cluster, no container, no Docker network, no cluster state, no server process, no
    //! namespace. Each test takes every test thread: it needs the cores, and the delivery ones
    //! must not see other scenarios' namespaces. Panics come from `HARNESS_FAILPOINT`.

    use std::{path::Path, time::Duration};

    use harness::{
        cluster::{self, Role, kind::kind_binary},
        paths, wait,
    };
    use k8s_openapi::api::core::v1::Namespace;
    use kube::Api;
    use rand::Rng;
    use tokio::process::Command;

    const NAMES: [&str; 2] = ["sigint-vault", "sigint-app"];

    async fn output(program: &str, args: &[&str]) -> String {
        let out = Command::new(program).args(args).output().await.unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn docker_networks() -> Vec<String> {
        let mut names: Vec<String> = output("docker", &["network", "ls", "--format", "{{.Name}}"])
            .await
            .lines()
            .map(String::from)
            .collect();
        names.sort();
        names
    }

    /// What a `harness` run with this test's clusters can leave: containers and kind clusters
    /// named after them, and Docker networks that were not there before the test.
    struct Leftovers {
        networks_before: Vec<String>,
    }

    impl Leftovers {
        async fn baseline() -> Self {
            Leftovers {
                networks_before: docker_networks().await,
            }
        }

        async fn found(&self) -> Vec<String> {
            let mut found: Vec<String> = output("docker", &["ps", "-a", "--format", "{{.Names}}"])
                .await
                .lines()
                .filter(|n| NAMES.iter().any(|c| n.starts_with(c)))
                .map(|n| format!("container {n}"))
                .collect();
            let kind = kind_binary().unwrap();
            let clusters = output(kind.to_str().unwrap(), &["get", "clusters"]).await;
            found.extend(
                clusters
                    .lines()
                    .filter(|c| NAMES.contains(c))
                    .map(|c| format!("kind cluster {c}")),
            );
            found.extend(
                docker_networks()
                    .await
                    .into_iter()
                    .filter(|n| !self.networks_before.contains(n))
                    .map(|n| format!("docker network {n}")),
            );
            found
        }
    }

    /// Server processes of the pinned OpenBao binary.
    async fn bao_servers() -> usize {
        output("pgrep", &["-f", "bao-[0-9.]+ server"]).await.lines().count()
    }

    /// A scratch state dir and config for one `harness` invocation.
    struct Scratch {
        dir: tempfile::TempDir,
    }

    impl Scratch {
        /// With this test's cluster names, so the clusters under test are never touched.
        fn with_test_clusters() -> Self {
            Self::with_config(&format!(
                "[clusters]\nvault = \"{}\"\napp = \"{}\"\n",
                NAMES[0], NAMES[1]
            ))
        }

        fn with_config(config: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("harness.toml"), config).unwrap();
            Scratch { dir }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        /// `harness <args>` (the binary the setup script built) on this state dir and config.
        fn harness(&self, args: &[&str]) -> Command {
            let mut command = Command::new(super::harness_binary());
            command
                .current_dir(self.path())
                .env("HARNESS_STATE_DIR", self.path().join("state"))
                .env("HARNESS_CONFIG", self.path().join("harness.toml"))
                .args(args);
            command
        }

        fn quiet(&self, args: &[&str]) -> tokio::process::Child {
            spawn_quiet(self.harness(args))
        }

        async fn down(&self) -> bool {
            self.harness(&["down"]).status().await.unwrap().success()
        }

        /// Cluster state files left in the state dir.
        fn cluster_state(&self) -> Vec<String> {
            std::fs::read_dir(self.path().join("state/clusters"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json") || n.ends_with(".kubeconfig"))
                .collect()
        }

        /// Starts `harness <args>`, interrupts it after `after`, and returns its exit code.
        async fn interrupt(&self, args: &[&str], after: Duration) -> Option<i32> {
            interrupt(self.quiet(args), after).await
        }
    }

    /// Starts `command` with its output discarded.
    fn spawn_quiet(mut command: Command) -> tokio::process::Child {
        command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Sends SIGINT to `child` after `after`; its exit code.
    async fn interrupt(mut child: tokio::process::Child, after: Duration) -> Option<i32> {
        wait::pause(after).await;
        let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let status = wait::within("the interrupted harness to exit", Duration::from_secs(180), async {
            child
                .wait()
                .await
                .map_err(|e| harness::Error::State(format!("waiting for harness: {e}")))
        })
        .await
        .unwrap();
        status.code()
    }

    #[tokio::test]
    async fn ctrl_c_at_ten_random_phases_of_up_leaves_no_cluster_container_network_or_state() {
        let leftovers = Leftovers::baseline().await;
        assert_eq!(leftovers.found().await, Vec::<String>::new(), "clean before");
        for round in 0..10 {
            let scratch = Scratch::with_test_clusters();
            let after = Duration::from_secs_f64(rand::rng().random_range(0.5..30.0));
            let code = scratch.interrupt(&["up"], after).await;
            if code == Some(0) {
                // `up` finished before the signal: then `down` must leave the same nothing.
                assert!(scratch.down().await);
            } else {
                assert_eq!(code, Some(130), "round {round}: Ctrl-C after {after:?} exits 130");
            }
            let left = leftovers.found().await;
            println!(
                "round {round}: SIGINT after {:.1} s → exit {code:?}, left {left:?}",
                after.as_secs_f64()
            );
            assert_eq!(
                left,
                Vec::<String>::new(),
                "round {round}: nothing left after {after:?}"
            );
            assert_eq!(
                scratch.cluster_state(),
                Vec::<String>::new(),
                "round {round}: no cluster state after {after:?}"
            );
        }
    }

    /// A crashed `up` (SIGKILL: no cleanup at all) leaves clusters behind; `harness down` with
    /// the same config finds them by name and removes them.
    #[tokio::test]
    async fn down_removes_what_a_killed_up_left_behind() {
        let leftovers = Leftovers::baseline().await;
        for round in 0..3 {
            let scratch = Scratch::with_test_clusters();
            let after = Duration::from_secs_f64(rand::rng().random_range(3.0..25.0));
            let mut child = scratch.quiet(&["up"]);
            wait::pause(after).await;
            child.kill().await.unwrap();
            // kind itself is not the harness: a `kind create` it started runs to its end.
            wait::until(
                "the orphaned kind create to finish",
                Duration::from_secs(180),
                Duration::from_millis(500),
                || async {
                    let running = output("pgrep", &["-f", "kind create cluster --name sigint-"]).await;
                    Ok(running.trim().is_empty().then_some(()))
                },
            )
            .await
            .unwrap();
            let crashed = leftovers.found().await;
            assert!(scratch.down().await, "round {round}: down after a crash succeeds");
            println!(
                "round {round}: SIGKILL after {:.1} s left {crashed:?}; down removed them",
                after.as_secs_f64()
            );
            assert_eq!(
                leftovers.found().await,
                Vec::<String>::new(),
                "round {round}: down left something"
            );
        }
    }

    #[tokio::test]
    async fn ctrl_c_at_ten_random_phases_of_run_leaves_no_server_process() {
        let before = bao_servers().await;
        for round in 0..10 {
            let scratch = Scratch::with_config("");
            let after = Duration::from_secs_f64(rand::rng().random_range(0.1..3.0));
            let code = scratch
                .interrupt(&["run", "--no-delivery", "--out", "out"], after)
                .await;
            assert!(matches!(code, Some(0) | Some(130)), "round {round}: exit {code:?}");
            let servers = wait::until(
                "the scratch server to be gone",
                Duration::from_secs(10),
                Duration::from_millis(100),
                || async { Ok((bao_servers().await <= before).then_some(())) },
            )
            .await;
            println!(
                "round {round}: SIGINT after {:.1} s → exit {code:?}",
                after.as_secs_f64()
            );
            assert!(servers.is_ok(), "round {round}: a server process outlived harness run");
        }
    }

    #[tokio::test]
    async fn a_panic_in_each_phase_of_up_leaves_no_cluster_container_network_or_state() {
        let leftovers = Leftovers::baseline().await;
        for point in ["up-clusters-created", "up-vault-initialised"] {
            let scratch = Scratch::with_test_clusters();
            let stderr = panicked_at(scratch.harness(&["up"]), point).await;
            assert!(
                stderr.trim_end().ends_with("cleaned up what this command had created"),
                "{point}: {stderr}"
            );
            assert_eq!(leftovers.found().await, Vec::<String>::new(), "{point}: nothing left");
            assert_eq!(scratch.cluster_state(), Vec::<String>::new(), "{point}: no state");
        }
    }

    /// Runs `command` with a panic at `point`: it must exit 1 and report the panic. Its stderr.
    async fn panicked_at(mut command: Command, point: &str) -> String {
        let out = command.env("HARNESS_FAILPOINT", point).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("panic at {point}: exit {:?}", out.status.code());
        assert_eq!(out.status.code(), Some(1), "{point}: {stderr}");
        assert!(
            stderr.contains(&format!("panicked: failpoint {point}")),
            "{point}: {stderr}"
        );
        stderr
    }

    /// `harness <args>` on the clusters under test (their state dir and config).
    fn on_the_clusters_under_test(args: &[&str]) -> Command {
        let mut command = Command::new(super::harness_binary());
        command.env("HARNESS_STATE_DIR", paths::state_dir()).args(args);
        if let Some(config) = paths::config_file() {
            command.env("HARNESS_CONFIG", config);
        }
        command
    }

    /// Namespaces a delivery or fault run creates in the app cluster, once their deletion is
    /// done (bounded: a consumer's pods take a few seconds to stop).
    async fn run_namespaces_left() -> Vec<String> {
        let clusters = cluster::load(&paths::state_dir()).expect("harness up has run");
        let app = clusters.iter().find(|c| c.role == Role::App).unwrap();
        let namespaces = Api::<Namespace>::all(app.client().await.unwrap());
        let left = || async {
            let names: Vec<String> = namespaces
                .list(&Default::default())
                .await
                .map_err(|e| harness::Error::State(e.to_string()))?
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .filter(|n| n.starts_with("delivery-") || n.starts_with("fault-"))
                .collect();
            Ok(names)
        };
        let gone = wait::until(
            "the run's namespaces to be deleted",
            Duration::from_secs(120),
            Duration::from_secs(1),
            || async { Ok(left().await?.is_empty().then_some(())) },
        )
        .await;
        match gone {
            Ok(()) => Vec::new(),
            Err(_) => left().await.unwrap(),
        }
    }

    #[tokio::test]
    async fn a_panic_in_each_phase_of_run_leaves_no_server_process_or_namespace() {
        let before = bao_servers().await;
        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().to_str().unwrap();
        for (point, args) in [
            ("run-scratch-server-started", vec!["run", "--no-delivery", "--out", out]),
            (
                "run-consumers-started",
                vec!["run", "--methods", "agent_sidecar,eso", "--out", out],
            ),
        ] {
            panicked_at(on_the_clusters_under_test(&args), point).await;
            assert!(
                bao_servers().await <= before,
                "{point}: a server process outlived harness run"
            );
            assert_eq!(run_namespaces_left().await, Vec::<String>::new(), "{point}");
        }
    }

    /// A panic while Vault is away (sealed, its pod just killed, scaled to zero) in each of the
    /// three outages: Vault is brought back, the outage's namespaces go, the run fails.
    #[tokio::test]
    async fn a_panic_during_each_vault_outage_brings_vault_back_and_leaves_no_namespace() {
        let out_dir = tempfile::tempdir().unwrap();
        let args = ["run", "--methods", "agent_sidecar", "--faults", "--out"];
        let mut command = on_the_clusters_under_test(&args);
        command.arg(out_dir.path());
        let stderr = panicked_at(command, "fault-vault-away").await;
        let panicked = stderr.matches("panicked: failpoint fault-vault-away").count();
        assert_eq!(panicked, 3, "each outage failed on the panic: {stderr}");
        let vault = harness::vault::in_cluster::root(&paths::state_dir()).unwrap();
        let status = vault.status().await.expect("Vault answers");
        println!("after three panics with Vault away: sealed {}", status.sealed);
        assert!(!status.sealed, "Vault is back and unsealed");
        assert_eq!(run_namespaces_left().await, Vec::<String>::new());
    }

    #[tokio::test]
    async fn ctrl_c_at_three_random_phases_of_delivery_leaves_no_namespace() {
        for round in 0..3 {
            let out_dir = tempfile::tempdir().unwrap();
            let args = ["run", "--methods", "agent_sidecar,injector,eso", "--out"];
            let mut command = on_the_clusters_under_test(&args);
            command.arg(out_dir.path());
            let child = spawn_quiet(command);
            // The Vault tier takes ~3 s; delivery starts right after it.
            let after = Duration::from_secs_f64(rand::rng().random_range(5.0..40.0));
            let code = interrupt(child, after).await;
            let left = run_namespaces_left().await;
            println!(
                "round {round}: SIGINT after {:.1} s → exit {code:?}, left {left:?}",
                after.as_secs_f64()
            );
            assert_eq!(code, Some(130), "round {round}");
            assert_eq!(left, Vec::<String>::new(), "round {round}");
        }
    }
}
