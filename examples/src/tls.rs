//! TLS credentials from PEM files, as the example programs' `--tls` and
//! interop flags name them.

use std::error::Error;

type BoxError = Box<dyn Error>;

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

/// The server options [`server_credentials_from`] reads.
pub const SERVER_OPTIONS: &[&str] = &["tls", "cert", "key", "client_ca"];

/// Usage lines for [`SERVER_OPTIONS`].
pub const SERVER_USAGE: &str = "\
  --tls           serve over TLS (with --cert and --key)
  --cert PEM      the server's certificate chain
  --key PEM       the server's private key
  --client_ca PEM require client certificates signed by these CAs (mutual TLS)";

/// The client options [`channel_builder_from`] reads.
pub const CLIENT_OPTIONS: &[&str] = &["tls", "ca", "cert", "key", "server_name", "token"];

/// Usage lines for [`CLIENT_OPTIONS`].
pub const CLIENT_USAGE: &str = "\
  --tls               connect over TLS
  --ca PEM            CAs to trust (default: the system's trust store)
  --cert PEM          a client certificate chain, for mutual TLS (with --key)
  --key PEM           its private key
  --server_name NAME  the name the server's certificate must carry
  --token TOKEN       send `authorization: Bearer TOKEN` with every call";

/// Insecure credentials, or TLS ones when `--tls` was given.
pub fn server_credentials_from(
    args: &crate::args::Args,
) -> Result<grpc_core::ServerCredentials, BoxError> {
    if !args.get_or("tls", false) {
        return Ok(grpc_core::insecure_server_credentials());
    }
    server_credentials(args.get("cert"), args.get("key"), args.get("client_ca"))
}

/// A channel builder for `target`: plaintext, or with `--tls` secured by
/// the `--ca`/`--cert`/`--key` files and `--server_name`; `--token` adds an
/// access token to every call (TLS only).
pub fn channel_builder_from(
    args: &crate::args::Args,
    target: &str,
) -> Result<grpc_core::ChannelBuilder, BoxError> {
    let builder = grpc_core::ChannelBuilder::new(target);
    if !args.get_or("tls", false) {
        if args.get("token").is_some() {
            return Err("--token needs --tls: call credentials never travel in plaintext".into());
        }
        return Ok(builder);
    }
    let mut credentials = channel_credentials(args.get("ca"), args.get("cert"), args.get("key"))?;
    if let Some(token) = args.get("token") {
        let token = grpc_core::access_token_call_credentials(token);
        credentials = grpc_core::composite_channel_credentials(credentials, [token]);
    }
    let builder = builder.secure(&credentials);
    Ok(match args.get("server_name") {
        Some(name) => builder.ssl_target_name_override(name),
        None => builder,
    })
}
