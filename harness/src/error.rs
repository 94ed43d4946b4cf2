use std::path::PathBuf;

/// Every failure the harness reports. Each message is one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid config {path}: {message}")]
    Config { path: String, message: String },

    #[error("{what} not found: {hint}")]
    MissingBinary { what: String, hint: String },

    #[error("port {port} on 127.0.0.1 is already in use; free it or pick another with --port")]
    PortInUse { port: u16 },

    #[error("{flavor} server exited during start-up: {last_line} (log: {log})")]
    ServerExited {
        flavor: String,
        last_line: String,
        log: PathBuf,
    },

    #[error("Vault at {addr} is already initialised by someone else; the harness needs a fresh Vault")]
    AlreadyInitialised { addr: String },

    #[error("Vault refused {operation} with HTTP {status}: {message}")]
    Vault {
        operation: String,
        status: u16,
        message: String,
    },

    #[error("cannot reach Vault for {operation}: {message}")]
    Transport { operation: String, message: String },

    #[error("timed out after {seconds:.0}s waiting for {what}")]
    Timeout { what: String, seconds: f64 },

    #[error("{what} failed: {last_line} (log: {log})")]
    Command {
        what: String,
        last_line: String,
        log: PathBuf,
    },

    #[error("interrupted; cleaned up what this command had created")]
    Interrupted,

    #[error("internal error (a bug, please report it): panicked: {0}; cleaned up what this command had created")]
    Panicked(String),

    #[error("{0}")]
    State(String),

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl Error {
    /// The HTTP status Vault answered with, when the failure is a Vault refusal.
    pub fn vault_status(&self) -> Option<u16> {
        match self {
            Error::Vault { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
