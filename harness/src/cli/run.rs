//! `harness run`: the main job. The Vault tier against a fresh server, then, when `harness up`
//! has brought the clusters up, every delivery method measured side by side, with a per-method
//! summary and the samples under `--out`.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use super::FlavorArg;
use crate::interrupt::guarded;
use crate::{
    Error, Result,
    check::{self, Check},
    config::Config,
    delivery::{Method, fault::Fault, run::Plan, session::Session},
    measure::Sample,
    report, tier,
    vault::{Endpoint, Vault, server::VaultServer},
};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Where to write the results (default: <state-dir>/runs/<unix time>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    flavor: FlavorArg,
    /// Run the Vault tier against this existing, uninitialised server instead of starting one.
    #[arg(long, value_name = "URL")]
    vault_addr: Option<String>,
    /// CA certificate for --vault-addr over TLS.
    #[arg(long, value_name = "FILE", requires = "vault_addr")]
    vault_ca: Option<PathBuf>,
    /// Delivery methods to measure (comma-separated; default: every registered method) when the
    /// clusters are up.
    #[arg(long, value_delimiter = ',', value_name = "METHOD")]
    methods: Vec<Method>,
    /// Delivery profiles, run one after the other into one report: tuned (10 s intervals, the
    /// quick run), defaults (upstream defaults, waits bounded at 6 min), or both
    /// (`tuned,defaults`: what the Secret Rotation row needs to decide every cell).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "tuned")]
    profile: Vec<ProfileArg>,
    /// Only the Vault tier, even when the clusters are up.
    #[arg(long)]
    no_delivery: bool,
    /// After delivery, take Vault away three ways (sealed, killed after a rotation, down when
    /// pods start) under one consumer of each method and measure what survives (~5 min).
    #[arg(long, conflicts_with = "no_delivery")]
    faults: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ProfileArg {
    Tuned,
    Defaults,
}

#[derive(Serialize)]
struct TierResult<'a> {
    tier: &'a str,
    vault: &'a str,
    version: String,
    checks: &'a [Check],
}

pub async fn run(args: RunArgs, mut cfg: Config, state_dir: &Path) -> Result<ExitCode> {
    args.flavor.apply(&mut cfg);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| state_dir.join("runs").join(unix_time().to_string()));
    std::fs::create_dir_all(&out).map_err(Error::io(format!("cannot create {}", out.display())))?;

    // The scratch server starts inside the race against Ctrl-C: an interrupt at any point drops
    // it (the process is killed, its directory removed). It also dies with the harness process.
    let tier = async {
        let (server, vault) = match &args.vault_addr {
            Some(addr) => (
                None,
                Vault::connect(
                    &Endpoint {
                        addr: addr.clone(),
                        ca_cert: args.vault_ca.clone(),
                    },
                    None,
                )?,
            ),
            None => {
                let server = VaultServer::start_scratch(&cfg.vault).await?;
                crate::interrupt::failpoint("run-scratch-server-started");
                let vault = server.vault()?;
                (Some(server), vault)
            }
        };
        let version = vault.status().await?.version;
        let checks = tier::vault::run(vault, &cfg).await?;
        drop(server);
        Ok::<_, Error>((version, checks))
    };
    let (version, checks) = guarded(tier).await?;

    println!("Vault tier ({} {version})", cfg.vault.flavor);
    println!("{}", check::table(&checks));
    let passed = checks.iter().filter(|c| c.passed).count();
    println!("{passed}/{} checks passed; results in {}", checks.len(), out.display());
    let delivered = match args.no_delivery {
        true => true,
        false => delivery(&args, &cfg, state_dir, &out).await?,
    };
    let flavor = cfg.vault.flavor.to_string();
    let result = TierResult {
        tier: "vault",
        vault: &flavor,
        version,
        checks: &checks,
    };
    let json = serde_json::to_vec_pretty(&result).map_err(|e| Error::State(format!("cannot encode results: {e}")))?;
    let file = out.join("vault-tier.json");
    std::fs::write(&file, json).map_err(Error::io(format!("cannot write {}", file.display())))?;
    Ok(if passed == checks.len() && delivered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every requested method measured side by side on the clusters `harness up` created; the
/// summary printed, the samples written to `<out>/samples.jsonl`. False if any method failed.
async fn delivery(args: &RunArgs, cfg: &Config, state_dir: &Path, out: &Path) -> Result<bool> {
    if crate::cluster::load(state_dir).is_err() {
        println!(
            "Delivery: skipped, no clusters in {} (run `harness up` first)",
            state_dir.display()
        );
        return Ok(true);
    }
    let methods = match args.methods.is_empty() {
        true => Method::all(),
        false => args.methods.clone(),
    };
    let session = Session::load(state_dir, cfg).await?;
    let mut samples = Vec::new();
    let mut complete = true;
    let mut profiles: Vec<ProfileArg> = Vec::new();
    for profile in &args.profile {
        if !profiles.contains(profile) {
            profiles.push(*profile);
        }
    }
    for profile in profiles {
        let plan = match profile {
            ProfileArg::Tuned => Plan::quick(),
            ProfileArg::Defaults => Plan::defaults(),
        };
        complete &= delivery_profile(&session, &methods, plan, out, &mut samples).await?;
    }
    if args.faults {
        complete &= faults(&session, &methods, out, &mut samples).await?;
    }
    if !samples.is_empty() {
        write_report(&samples, out)?;
    }
    Ok(complete)
}

/// Every method under one plan, side by side; its samples join the run's (in memory and in
/// samples.jsonl). False if any method failed.
async fn delivery_profile(
    session: &Session,
    methods: &[Method],
    plan: Plan,
    out: &Path,
    samples: &mut Vec<Sample>,
) -> Result<bool> {
    let evidence: Vec<_> = methods
        .iter()
        .map(|m| out.join("evidence").join(format!("{m}-{}", plan.profile.name())))
        .collect();
    // Each method removes its namespace after Ctrl-C or a panic, then reports it as its error.
    let runs =
        futures::future::join_all(methods.iter().zip(&evidence).map(|(m, dir)| session.run(*m, plan, dir))).await;
    let mut measured = Vec::new();
    let mut complete = true;
    for (method, run) in methods.iter().zip(runs) {
        match run {
            Ok(run) => measured.extend(run.samples),
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                eprintln!(
                    "error: delivery by {method} ({} profile) failed: {e}",
                    plan.profile.name()
                );
                complete = false;
            }
        }
    }
    let file = out.join("samples.jsonl");
    crate::measure::append(&file, &measured)?;
    println!(
        "\nDelivery ({} profile; samples in {})",
        plan.profile.name(),
        file.display()
    );
    println!("{}", report::terminal(&report::build(&measured)));
    samples.extend(measured);
    Ok(complete)
}

/// The three Vault outages, one after the other; their samples join the run's (in memory and in
/// samples.jsonl as each fault ends, so an interrupted run keeps what it measured).
async fn faults(session: &Session, methods: &[Method], out: &Path, samples: &mut Vec<Sample>) -> Result<bool> {
    let mut complete = true;
    for fault in Fault::ALL {
        let evidence = out.join("evidence").join(fault.to_string());
        // Vault is brought back and the namespaces removed also after Ctrl-C or a panic.
        match session.fault(fault, methods, &evidence).await {
            Ok(runs) => {
                let measured: Vec<_> = runs.into_iter().flat_map(|r| r.samples).collect();
                crate::measure::append(&out.join("samples.jsonl"), &measured)?;
                println!("\n{}", report::terminal(&report::build(&measured)));
                samples.extend(measured);
            }
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                eprintln!("error: fault {fault} failed: {e}");
                complete = false;
            }
        }
    }
    Ok(complete)
}

/// Renders `<out>/report/` from the run's samples; inside GitHub Actions the Markdown is also
/// appended to the job summary.
fn write_report(samples: &[Sample], out: &Path) -> Result<()> {
    let dir = out.join("report");
    let report = report::write(samples, &dir, false)?;
    println!("\nReport (Markdown, JSON, SVG charts) in {}", dir.display());
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&summary)
            .map_err(Error::io("cannot open the GitHub job summary"))?;
        file.write_all(report::markdown(&report).as_bytes())
            .map_err(Error::io("cannot write the GitHub job summary"))?;
    }
    Ok(())
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
