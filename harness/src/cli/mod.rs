//! The `harness` command line: parsing, logging, and one clear error line on failure.

mod doctor;
mod run;
pub mod up;
mod vault;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, error::ErrorKind};

use crate::{
    Error,
    config::{Config, Flavor},
};

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about = "Conformance harness for Vault × Kubernetes secret delivery"
)]
struct Cli {
    /// Config file (default: ./harness.toml when present, else the article's values).
    #[arg(long, global = true, env = "HARNESS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Where a running environment keeps its state, logs and secrets (0600).
    #[arg(
        long,
        global = true,
        env = "HARNESS_STATE_DIR",
        default_value = ".harness",
        value_name = "DIR"
    )]
    state_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every prerequisite; print what is missing and the command that installs it.
    Doctor,
    /// A local Vault server with the article's setup, for the stock `bao`/`vault` CLI.
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// Build every image the clusters need, from source, with no registry.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Bring up the two clusters, Vault in the vault cluster, and kubernetes auth for the app cluster.
    Up(up::UpArgs),
    /// Remove everything `up` created; idempotent.
    Down {
        /// First run `kind export logs` for every cluster into this directory (evidence).
        #[arg(long, value_name = "DIR")]
        export_logs: Option<PathBuf>,
    },
    /// Run the conformance job and write its results.
    Run(run::RunArgs),
    /// Render the report (Markdown, JSON, SVG charts) from the samples (*.jsonl) in a directory.
    Report {
        /// Directory written by `harness run --out` (or any holding its samples).
        #[arg(long = "in", value_name = "DIR")]
        input: PathBuf,
        /// Where to write the report (default: <DIR>/report).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Render samples of several runs together, each row labelled with its run (refused
        /// without: figures of different runs are not comparable unlabelled).
        #[arg(long)]
        merge_runs: bool,
        /// Also put the report (without its title and charts) into this Markdown file, between
        /// its `<!-- report:begin -->` and `<!-- report:end -->` lines (README.md).
        #[arg(long, value_name = "FILE")]
        readme: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ImagesCommand {
    /// Build (or reuse from the cache) every image: the kind node image with everything
    /// preloaded, and every delivery method's own images.
    Build {
        /// Only the harness's own images, for clusters on upstream node images (the nightly matrix).
        #[arg(long)]
        online: bool,
    },
}

/// Flags shared by the commands that start a Vault.
#[derive(Debug, clap::Args)]
struct FlavorArg {
    /// Server implementing the Vault API; `vault` needs HashiCorp Vault on PATH or vault.binary set.
    #[arg(long, value_enum)]
    flavor: Option<Flavor>,
}

impl FlavorArg {
    fn apply(&self, cfg: &mut Config) {
        if let Some(flavor) = self.flavor {
            cfg.vault.flavor = flavor;
            if !flavor.supports(cfg.vault.storage()) {
                cfg.vault.storage = None;
            }
        }
    }
}

/// Runs the command line; the process exit code says how it went.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        Err(e) => {
            eprintln!("{}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    init_logging();
    brief_panics();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        crate::interrupt::watch();
        dispatch(cli).await
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            // 130 = 128 + SIGINT, what shells report for a command stopped by Ctrl-C.
            if matches!(e, Error::Interrupted) {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn dispatch(mut cli: Cli) -> crate::Result<ExitCode> {
    // Absolute, so servers started here are found again from any working directory.
    cli.state_dir = std::path::absolute(&cli.state_dir).map_err(Error::io("cannot resolve --state-dir"))?;
    let load = || Config::load(cli.config.as_deref());
    match cli.command {
        Command::Doctor => Ok(doctor::run()),
        Command::Vault(command) => vault::run(command, load()?, &cli.state_dir).await,
        Command::Run(args) => run::run(args, load()?, &cli.state_dir).await,
        Command::Images(ImagesCommand::Build { online }) => images_build(online).await,
        Command::Up(args) => up::up(args, load()?, &cli.state_dir).await,
        Command::Down { export_logs } => up::down(load()?, &cli.state_dir, export_logs.as_deref()).await,
        Command::Report {
            input,
            out,
            merge_runs,
            readme,
        } => {
            let out = out.unwrap_or_else(|| input.join("report"));
            report(&input, &out, merge_runs, readme.as_deref())
        }
    }
}

/// Renders the report into `out` from the samples in `input`.
fn report(
    input: &std::path::Path,
    out: &std::path::Path,
    merge_runs: bool,
    readme: Option<&std::path::Path>,
) -> crate::Result<ExitCode> {
    let samples = crate::report::read_samples(input)?;
    // The README is checked before anything is written: a missing marker leaves nothing half-done.
    let spliced = match readme {
        Some(file) => {
            let text =
                std::fs::read_to_string(file).map_err(crate::Error::io(format!("cannot read {}", file.display())))?;
            let md = crate::report::markdown(&crate::report::build(&samples));
            Some((file, crate::report::splice_readme(&text, &md)?))
        }
        None => None,
    };
    let report = crate::report::write(&samples, out, merge_runs)?;
    println!("{}", crate::report::markdown(&report));
    println!("report written to {}", out.display());
    if let Some((file, text)) = spliced {
        std::fs::write(file, text).map_err(crate::Error::io(format!("cannot write {}", file.display())))?;
        println!("report put into {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds every image from source with the scripts in `scripts/images/` (cached outside the
/// clone); the delivery methods whose images are built come from the registry, each by its
/// `scripts/images/<method>.sh`.
async fn images_build(online: bool) -> crate::Result<ExitCode> {
    crate::prerequisite::program("go", crate::prerequisite::GO_HINT)?;
    crate::prerequisite::docker().await?;
    let script = crate::fixtures::repo_root().join("scripts/images/all.sh");
    let methods: Vec<&str> = crate::delivery::Method::all()
        .into_iter()
        .filter(|m| !m.images().is_empty())
        .map(|m| m.name())
        .collect();
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .args(online.then_some("--online"))
        .env("HARNESS_METHODS", methods.join(" "))
        .status()
        .await
        .map_err(Error::io(format!("cannot run {}", script.display())))?;
    if !status.success() {
        return Err(Error::State(
            "images build failed; the line above names the component and its log".into(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Folds clap's multi-line usage errors into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A panic is caught where the command cleans up and reported as its error line; the hook adds
/// only where it happened (the default backtrace with RUST_BACKTRACE set).
fn brief_panics() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        eprintln!("panicked at {location}");
    }));
}

fn init_logging() {
    use tracing_subscriber::{EnvFilter, fmt};
    // vaultrs and rustify log every refusal and warning; the harness reports those itself,
    // and a denied request is often the expected outcome of a check.
    let filter =
        EnvFilter::try_from_env("HARNESS_LOG").unwrap_or_else(|_| EnvFilter::new("info,vaultrs=off,rustify=off"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_fold_into_one_line() {
        let err = Cli::try_parse_from(["harness", "vault", "up", "--flavor", "consul"]).unwrap_err();
        let line = one_line(&err.to_string());
        assert!(
            line.starts_with("error: invalid value 'consul' for '--flavor <FLAVOR>'"),
            "{line}"
        );
        assert!(line.contains("openbao") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
