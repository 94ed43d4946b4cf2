//! A CA the harness generates per server, and the server certificate it signs.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::{Error, Result, secret::write_private_file};

/// PEM files of one TLS listener: the CA clients trust, and the server's certificate and key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Generates a fresh CA and a server certificate for `names` (DNS names or IP addresses) in `dir`.
/// The private key is written 0600; the CA key is never stored, so nothing else can be signed.
pub fn generate(dir: &Path, names: &[&str]) -> Result<TlsFiles> {
    let tls_error = |e: rcgen::Error| Error::State(format!("cannot generate TLS certificates: {e}"));
    let ca_key = KeyPair::generate().map_err(tls_error)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(DnType::CommonName, "vault-k8s-harness CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(tls_error)?;

    let server_key = KeyPair::generate().map_err(tls_error)?;
    let mut server =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).map_err(tls_error)?;
    server
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("vault"));
    let server_cert = server
        .signed_by(&server_key, &Issuer::new(ca, ca_key))
        .map_err(tls_error)?;

    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(Error::io(format!("cannot write {}", path.display())))
    };
    write(&files.ca_cert, ca_cert.pem())?;
    write(&files.server_cert, server_cert.pem())?;
    write_private_file(&files.server_key, server_key.serialize_pem().as_bytes())?;
    Ok(files)
}
