//! The article's Vault runbook, claim by claim, against real OpenBao servers.
//!
//! Every test starts its own server (server mode, raft storage, a free port, a temporary
//! directory) and removes it when it ends, so the claims run in parallel and need no cluster.
//! Run only these: `cargo nextest run -E 'binary(vault_tier)'`.

use harness::{
    config::Config,
    step,
    tier::vault::{Runbook, expect},
    vault::{Vault, server::VaultServer},
};
use rstest::rstest;

/// A fresh, uninitialised server for one test.
async fn fresh_server(cfg: &Config) -> VaultServer {
    VaultServer::start_scratch(&cfg.vault)
        .await
        .expect("a fresh OpenBao server starts")
}

fn config_with(edit: impl FnOnce(&mut Config)) -> Config {
    let mut cfg = Config::default();
    edit(&mut cfg);
    cfg.validate().expect("the test's config is valid");
    cfg
}

#[tokio::test]
async fn init_and_unseal_leave_a_shamir_vault_with_5_shares_and_threshold_3() -> harness::Result<()> {
    let cfg = Config::default();
    let server = fresh_server(&cfg).await;

    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;
    assert_eq!(runbook.keys().unseal_keys.len(), usize::from(cfg.vault.key_shares));

    expect::status_after_unseal(&runbook.status().await?, &cfg).assert_passed();
    Ok(())
}

#[tokio::test]
async fn unsealing_with_fewer_keys_than_the_threshold_leaves_vault_sealed() -> harness::Result<()> {
    let cfg = Config::default();
    let server = fresh_server(&cfg).await;
    let vault = server.vault()?;

    step!("operator init, then unseal with threshold - 1 keys");
    let keys = vault.init(cfg.vault.key_shares, cfg.vault.key_threshold).await?;
    let below = usize::from(cfg.vault.key_threshold) - 1;
    let still_sealed = vault.unseal(keys.unseal_keys.iter().take(below)).await?;

    assert!(
        still_sealed,
        "{below} keys must not unseal a vault with threshold {}",
        cfg.vault.key_threshold
    );
    assert!(vault.status().await?.sealed);
    Ok(())
}

#[rstest]
#[case::kv_v1(1)]
#[case::kv_v2(2)]
#[tokio::test]
async fn kv_put_then_list_and_get_return_the_articles_secret(#[case] kv_version: u8) -> harness::Result<()> {
    let cfg = config_with(|c| c.kv.version = kv_version);
    let server = fresh_server(&cfg).await;
    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;

    runbook.put_article_secret().await?;

    expect::secret_listed(&runbook.list_secrets().await?, &cfg).assert_passed();
    expect::secret_fields(&runbook.get_article_secret().await?, &cfg).assert_passed();
    Ok(())
}

#[tokio::test]
async fn policy_list_shows_default_read_policy_and_root() -> harness::Result<()> {
    let cfg = Config::default();
    let server = fresh_server(&cfg).await;
    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;

    runbook.write_read_policy().await?;

    expect::policies_listed(&runbook.list_policies().await?, &cfg).assert_passed();
    Ok(())
}

#[rstest]
#[case::kv_v1(1)]
#[case::kv_v2(2)]
#[tokio::test]
async fn a_read_policy_token_reads_and_lists_but_cannot_write_delete_or_leave_the_mount(
    #[case] kv_version: u8,
) -> harness::Result<()> {
    let cfg = config_with(|c| c.kv.version = kv_version);
    let server = fresh_server(&cfg).await;
    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;
    runbook.put_article_secret().await?;
    runbook.write_read_policy().await?;

    let probe = runbook.probe_read_policy().await?;

    for check in expect::read_policy_enforced(&probe, &cfg) {
        check.assert_passed();
    }
    Ok(())
}

#[rstest]
#[case::article_role_ttl_1440h("1440h", "768h")]
#[case::role_ttl_2000h("2000h", "768h")]
#[case::mount_cap_500h("768h", "500h")]
#[tokio::test]
async fn a_login_above_the_effective_max_ttl_is_capped_and_warned_about(
    #[case] role_ttl: &str,
    #[case] effective_max_ttl: &str,
) -> harness::Result<()> {
    let cfg = config_with(|c| {
        c.ttl.role_ttl = role_ttl.parse().unwrap();
        c.ttl.effective_max_ttl = effective_max_ttl.parse().unwrap();
    });
    let server = fresh_server(&cfg).await;
    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;
    runbook.write_read_policy().await?;

    let login = runbook.login_over_max_ttl().await?;

    expect::ttl_capped(&login, &cfg).assert_passed();
    assert!(
        login
            .warnings
            .iter()
            .any(|w| w.contains(&format!("TTL of \"{role_ttl}\""))),
        "the warning names the configured TTL {role_ttl}: {:?}",
        login.warnings
    );
    assert_eq!(login.policies, ["default", cfg.policy.name.as_str()]);
    Ok(())
}

#[tokio::test]
async fn raising_the_mount_max_ttl_removes_the_warning_and_grants_the_full_ttl() -> harness::Result<()> {
    let cfg = Config::default();
    let server = fresh_server(&cfg).await;
    let runbook = Runbook::init_and_unseal(server.vault()?, &cfg).await?;
    runbook.write_read_policy().await?;
    runbook.login_over_max_ttl().await?;

    let (tuned, login) = runbook.login_after_raising_max_ttl().await?;

    expect::ttl_uncapped(tuned, &login, &cfg).assert_passed();
    Ok(())
}

#[tokio::test]
async fn the_whole_tier_passes_over_tls_with_the_generated_ca() -> harness::Result<()> {
    let cfg = config_with(|c| c.vault.tls = true);
    let server = fresh_server(&cfg).await;
    assert!(server.endpoint().addr.starts_with("https://"));

    let checks = harness::tier::vault::run(server.vault()?, &cfg).await?;

    for check in &checks {
        check.assert_passed();
    }
    let untrusting = Vault::connect(
        &harness::vault::Endpoint {
            ca_cert: None,
            ..server.endpoint().clone()
        },
        None,
    )?;
    let refused = untrusting
        .status()
        .await
        .expect_err("a client without the CA must not trust the server");
    assert!(refused.to_string().contains("cannot reach Vault"), "{refused}");
    Ok(())
}

#[tokio::test]
async fn a_vault_initialised_by_someone_else_is_refused() -> harness::Result<()> {
    let cfg = Config::default();
    let server = fresh_server(&cfg).await;
    step!("someone else runs operator init first");
    let _theirs = server.vault()?.init(1, 1).await?;

    let refused = Runbook::init_and_unseal(server.vault()?, &cfg)
        .await
        .err()
        .expect("init must be refused");

    assert_eq!(
        refused.to_string(),
        format!(
            "Vault at {} is already initialised by someone else; the harness needs a fresh Vault",
            server.endpoint().addr
        )
    );
    Ok(())
}
