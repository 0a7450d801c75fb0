//! [`ChannelCredentials`]: how a channel secures its connection (grpcio's
//! `ssl_channel_credentials`, `local_channel_credentials`,
//! `composite_channel_credentials`).

use std::fmt;
use std::sync::Arc;

use rustls::ClientConfig;

use super::client_tls::NoticeCertificateRequest;
use super::pem;
use super::provider;
use super::server::certified_key;
use crate::client::CallCredentials;
use crate::error::{Error, Kind};

/// How a channel's connections are secured.
#[derive(Clone)]
pub(crate) enum ChannelSecurity {
    /// Plain HTTP/2; call credentials are refused.
    Insecure,
    /// Unix sockets and loopback only, no encryption; call credentials allowed.
    Local,
    /// TLS with this client configuration.
    Tls(Arc<TlsClient>),
}

/// A client TLS configuration and whether it presents a certificate.
pub(crate) struct TlsClient {
    /// ALPN `h2`.
    pub(crate) config: Arc<ClientConfig>,
    /// The same with ALPN `http/1.1` (Connect and gRPC-Web over HTTP/1.1).
    pub(crate) http1_config: Arc<ClientConfig>,
    pub(crate) has_certificate: bool,
}

/// Channel credentials for [`secure_channel`](crate::secure_channel) and
/// [`ChannelBuilder::secure`](crate::ChannelBuilder::secure) (grpcio's
/// `ChannelCredentials`): transport security plus, when composed, call
/// credentials attached to every call. Cheap to clone.
#[derive(Clone)]
pub struct ChannelCredentials {
    pub(crate) security: ChannelSecurity,
    pub(crate) call: Option<CallCredentials>,
}

impl ChannelSecurity {
    fn name(&self) -> &'static str {
        match self {
            ChannelSecurity::Insecure => "insecure",
            ChannelSecurity::Local => "local",
            ChannelSecurity::Tls(_) => "ssl",
        }
    }
}

impl fmt::Debug for ChannelSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for ChannelCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelCredentials")
            .field("type", &self.security.name())
            .field("call_credentials", &self.call.is_some())
            .finish()
    }
}

/// TLS channel credentials (grpcio's `ssl_channel_credentials`), from PEM
/// bytes, every argument optional:
///
/// - `root_certificates`: CAs that the server's certificate must chain to;
///   `None` uses the system's trust store.
/// - `private_key` and `certificate_chain`: a client certificate for mutual
///   TLS (both or neither). RSA, ECDSA and Ed25519 keys are accepted.
///
/// Connections offer and require ALPN `h2` (`http/1.1` for Connect and
/// gRPC-Web calls over HTTP/1.1) and use TLS 1.3 or 1.2 only.
///
/// ```no_run
/// # fn main() -> Result<(), grpc_core::Error> {
/// let ca = std::fs::read("ca.pem").unwrap();
/// let credentials = grpc_core::ssl_channel_credentials(Some(&ca), None, None)?;
/// let channel = grpc_core::secure_channel("localhost:50051", &credentials)?;
/// # Ok(()) }
/// ```
pub fn ssl_channel_credentials(
    root_certificates: Option<&[u8]>,
    private_key: Option<&[u8]>,
    certificate_chain: Option<&[u8]>,
) -> Result<ChannelCredentials, Error> {
    let roots = match root_certificates {
        Some(pem_roots) => pem::root_store("root_certificates", pem_roots)?,
        None => pem::system_roots()?,
    };
    let builder = ClientConfig::builder_with_provider(provider::get())
        .with_protocol_versions(provider::VERSIONS)
        .map_err(|error| {
            Error::new(
                Kind::InvalidCredentials,
                format!("TLS setup failed: {error}"),
            )
        })?
        .with_root_certificates(roots);
    let (mut config, has_certificate) = match (private_key, certificate_chain) {
        (None, None) => (builder.with_no_client_auth(), false),
        (Some(key), Some(chain)) => {
            let certs = pem::certificates("certificate_chain", chain)?;
            let key = pem::private_key("private_key", key)?;
            let certified = Arc::new(certified_key(certs, key, "certificate_chain")?);
            let resolver = ClientCertificate(certified);
            (builder.with_client_cert_resolver(Arc::new(resolver)), true)
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::new(
                Kind::InvalidCredentials,
                "private_key and certificate_chain must be given together",
            ));
        }
    };
    config.alpn_protocols = vec![provider::ALPN_H2.to_vec()];
    config.client_auth_cert_resolver = Arc::new(NoticeCertificateRequest {
        inner: Arc::clone(&config.client_auth_cert_resolver),
    });
    let mut http1_config = config.clone();
    http1_config.alpn_protocols = vec![provider::ALPN_HTTP1.to_vec()];
    Ok(ChannelCredentials {
        security: ChannelSecurity::Tls(Arc::new(TlsClient {
            config: Arc::new(config),
            http1_config: Arc::new(http1_config),
            has_certificate,
        })),
        call: None,
    })
}

/// The one client certificate a channel presents when asked.
#[derive(Debug)]
struct ClientCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Credentials for local connections (grpcio's `local_channel_credentials`):
/// the target must be a Unix socket or a loopback address; nothing is
/// encrypted, and call credentials may be sent.
pub fn local_channel_credentials() -> ChannelCredentials {
    ChannelCredentials {
        security: ChannelSecurity::Local,
        call: None,
    }
}

/// Channel credentials that also attach `call_credentials` to every call
/// (grpcio's `composite_channel_credentials`).
///
/// ```
/// # fn main() -> Result<(), grpc_core::Error> {
/// let token = grpc_core::access_token_call_credentials("secret");
/// let credentials =
///     grpc_core::composite_channel_credentials(grpc_core::local_channel_credentials(), [token]);
/// let channel = grpc_core::secure_channel("unix:/tmp/example.sock", &credentials)?;
/// # Ok(()) }
/// ```
pub fn composite_channel_credentials(
    channel_credentials: ChannelCredentials,
    call_credentials: impl IntoIterator<Item = CallCredentials>,
) -> ChannelCredentials {
    let mut all: Vec<CallCredentials> = channel_credentials.call.into_iter().collect();
    all.extend(call_credentials);
    ChannelCredentials {
        security: channel_credentials.security,
        call: crate::client::compose(all),
    }
}
