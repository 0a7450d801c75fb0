//! TLS credentials from PEM files, as the example programs' `--tls` and
//! interop flags name them.

use std::error::Error;

type BoxError = Box<dyn Error + Send + Sync>;

fn read(what: &str, path: &str) -> Result<Vec<u8>, BoxError> {
    std::fs::read(path).map_err(|error| format!("cannot read {what} {path:?}: {error}").into())
}

fn read_opt(what: &str, path: Option<&str>) -> Result<Option<Vec<u8>>, BoxError> {
    path.map(|path| read(what, path)).transpose()
}

/// Server credentials from a certificate chain and key file; with
/// `client_ca_file`, clients must present a certificate signed by it.
pub fn server_credentials(
    cert_file: Option<&str>,
    key_file: Option<&str>,
    client_ca_file: Option<&str>,
) -> Result<grpc_core::ServerCredentials, BoxError> {
    let (Some(cert_file), Some(key_file)) = (cert_file, key_file) else {
        return Err("TLS needs a certificate and a key file".into());
    };
    let chain = read("certificate", cert_file)?;
    let key = read("private key", key_file)?;
    let client_ca = read_opt("client CA", client_ca_file)?;
    let client_auth = if client_ca.is_some() {
        grpc_core::ClientAuth::Required
    } else {
        grpc_core::ClientAuth::Optional
    };
    Ok(grpc_core::ssl_server_credentials(
        [(key, chain)],
        client_ca.as_deref(),
        client_auth,
    )?)
}

/// Channel credentials trusting `ca_file` (the system's trust store
/// without it), with a client certificate when both files are given.
pub fn channel_credentials(
    ca_file: Option<&str>,
    cert_file: Option<&str>,
    key_file: Option<&str>,
) -> Result<grpc_core::ChannelCredentials, BoxError> {
    let ca = read_opt("CA", ca_file)?;
    let chain = read_opt("client certificate", cert_file)?;
    let key = read_opt("client key", key_file)?;
    Ok(grpc_core::ssl_channel_credentials(
        ca.as_deref(),
        key.as_deref(),
        chain.as_deref(),
    )?)
}
