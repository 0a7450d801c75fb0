//! [`ServerCredentials`]: how a server port secures its connections
//! (grpcio's `ssl_server_credentials`, `dynamic_ssl_server_credentials`,
//! `local_server_credentials`), and the TLS accept that applies them.

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::auth::Peer;
use super::pem;
use super::provider;
use crate::error::{Error, Kind};

/// Whether a TLS server asks clients for a certificate (grpcio's
/// `require_client_auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// With root certificates, a client certificate is requested and
    /// verified when sent, but a client without one is served too.
    /// Without root certificates, none is requested.
    #[default]
    Optional,
    /// Every client must present a certificate signed by one of the root
    /// certificates; the handshake fails otherwise.
    Required,
}

/// Key/certificate pairs and client roots for a TLS server (grpcio's
/// `ssl_server_certificate_configuration`); see [`ssl_server_credentials`].
#[derive(Clone)]
pub struct ServerCertificateConfiguration {
    keys: Vec<NamedKey>,
    roots: Option<Arc<rustls::RootCertStore>>,
}

/// A certified key and the server names (SNI) it answers for.
#[derive(Clone, Debug)]
struct NamedKey {
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

/// Builds a certificate configuration from `(private_key,
/// certificate_chain)` PEM pairs (the first one is the default; the others
/// answer clients that ask for a name in their certificate, SNI) and PEM
/// root certificates that client certificates must chain to.
///
/// Keys may be RSA, ECDSA (P-256, P-384) or Ed25519, in PKCS#8, PKCS#1 or
/// SEC1 PEM. Every PEM error names the argument and what is wrong.
pub fn ssl_server_certificate_configuration<K, C>(
    private_key_certificate_chain_pairs: impl IntoIterator<Item = (K, C)>,
    root_certificates: Option<&[u8]>,
) -> Result<ServerCertificateConfiguration, Error>
where
    K: AsRef<[u8]>,
    C: AsRef<[u8]>,
{
    let mut keys = Vec::new();
    for (index, (key, chain)) in private_key_certificate_chain_pairs.into_iter().enumerate() {
        keys.push(named_key(index, key.as_ref(), chain.as_ref())?);
    }
    if keys.is_empty() {
        return Err(Error::new(
            Kind::InvalidCredentials,
            "ssl_server_credentials needs at least one (private_key, certificate_chain) pair",
        ));
    }
    let roots = match root_certificates {
        Some(pem_roots) => Some(Arc::new(pem::root_store("root_certificates", pem_roots)?)),
        None => None,
    };
    Ok(ServerCertificateConfiguration { keys, roots })
}

fn named_key(index: usize, key: &[u8], chain: &[u8]) -> Result<NamedKey, Error> {
    let chain_name = format!("certificate_chain of pair {index}");
    let certs = pem::certificates(&chain_name, chain)?;
    let key = pem::private_key(&format!("private_key of pair {index}"), key)?;
    let certified = certified_key(certs, key, &chain_name)?;
    let names = certified
        .end_entity_cert()
        .map(|leaf| server_names(leaf))
        .unwrap_or_default();
    Ok(NamedKey {
        names,
        key: Arc::new(certified),
    })
}

/// Loads a key and checks that it belongs to the chain's first certificate.
pub(crate) fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    what: &str,
) -> Result<CertifiedKey, Error> {
    let signing_key = provider::get()
        .key_provider
        .load_private_key(key)
        .map_err(|error| {
            Error::new(
                Kind::InvalidCredentials,
                format!("unsupported private key for {what}: {error}"),
            )
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(Error::new(
            Kind::InvalidCredentials,
            format!("the private key does not match the first certificate of {what}"),
        )),
        // Unknown: the key type cannot report its public key; accept it.
        Err(_) => Ok(certified),
    }
}

/// The DNS names a certificate is valid for (its SANs, else its CN).
fn server_names(leaf: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(extension)) => extension
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|name| name.as_str().ok().map(str::to_ascii_lowercase)),
        );
    }
    names
}

/// Picks the certificate for the name the client asked for (SNI); the
/// first pair when it asked for none or for a name no pair has.
#[derive(Debug)]
struct SniResolver {
    keys: Vec<NamedKey>,
}

impl SniResolver {
    fn select(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let default = self.keys.first().map(|named| Arc::clone(&named.key));
        let Some(wanted) = server_name.map(str::to_ascii_lowercase) else {
            return default;
        };
        let matches = |pattern: &str| match pattern.strip_prefix("*.") {
            Some(suffix) => wanted
                .split_once('.')
                .is_some_and(|(_, rest)| rest == suffix),
            None => pattern == wanted,
        };
        self.keys
            .iter()
            .find(|named| named.names.iter().any(|name| matches(name)))
            .map(|named| Arc::clone(&named.key))
            .or(default)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.select(client_hello.server_name())
    }
}

impl ServerCertificateConfiguration {
    fn server_config(&self, client_auth: ClientAuth) -> Result<Arc<ServerConfig>, Error> {
        let provider = provider::get();
        let verifier = match (&self.roots, client_auth) {
            (None, ClientAuth::Optional) => WebPkiClientVerifier::no_client_auth(),
            (None, ClientAuth::Required) => {
                return Err(Error::new(
                    Kind::InvalidCredentials,
                    "requiring client certificates needs root_certificates to verify them",
                ));
            }
            (Some(roots), auth) => {
                let builder = WebPkiClientVerifier::builder_with_provider(
                    Arc::clone(roots),
                    Arc::clone(&provider),
                );
                let builder = match auth {
                    ClientAuth::Optional => builder.allow_unauthenticated(),
                    ClientAuth::Required => builder,
                };
                builder.build().map_err(|error| {
                    Error::new(
                        Kind::InvalidCredentials,
                        format!("cannot verify client certificates: {error}"),
                    )
                })?
            }
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(provider::VERSIONS)
            .map_err(|error| {
                Error::new(
                    Kind::InvalidCredentials,
                    format!("TLS setup failed: {error}"),
                )
            })?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SniResolver {
                keys: self.keys.clone(),
            }));
        // h2 first: a client offering both gets HTTP/2.
        config.alpn_protocols = vec![provider::ALPN_H2.to_vec(), provider::ALPN_HTTP1.to_vec()];
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for ServerCertificateConfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&Vec<String>> = self.keys.iter().map(|named| &named.names).collect();
        f.debug_struct("ServerCertificateConfiguration")
            .field("names", &names)
            .field(
                "client_roots",
                &self.roots.as_ref().map(|roots| roots.len()),
            )
            .finish()
    }
}

/// Called before each TLS handshake; a new configuration replaces the
/// current one for this and later connections.
type Fetcher = dyn Fn() -> Option<ServerCertificateConfiguration> + Send + Sync;

/// The TLS side of a port: the configuration in force, and how to renew it.
pub(crate) struct TlsServer {
    current: RwLock<Arc<ServerConfig>>,
    client_auth: ClientAuth,
    fetcher: Option<Box<Fetcher>>,
}

impl TlsServer {
    /// The configuration for a new connection, after asking the fetcher.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        if let Some(fetch) = &self.fetcher
            && let Some(fresh) = fetch()
        {
            match fresh.server_config(self.client_auth) {
                Ok(config) => self.replace(config),
                Err(error) => {
                    tracing::warn!(%error, "ignoring the new certificate configuration");
                }
            }
        }
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    fn replace(&self, config: Arc<ServerConfig>) {
        *self
            .current
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = config;
    }
}

/// How a server port secures its connections.
#[derive(Clone)]
pub(crate) enum ServerSecurity {
    Insecure,
    Local,
    Tls(Arc<TlsServer>),
}

/// Server-side credentials for [`Server::add_secure_port`](crate::Server::add_secure_port)
/// (grpcio's `ServerCredentials`). Cheap to clone; clones share the
/// certificate configuration, so [`set_certificate_configuration`](Self::set_certificate_configuration)
/// on one rotates the certificate of every port using it.
#[derive(Clone)]
pub struct ServerCredentials {
    pub(crate) security: ServerSecurity,
}

impl ServerCredentials {
    /// Replaces the certificates and client roots of TLS credentials: new
    /// connections use them, open connections keep theirs. Fails for
    /// non-TLS credentials or an unusable configuration.
    pub fn set_certificate_configuration(
        &self,
        configuration: &ServerCertificateConfiguration,
    ) -> Result<(), Error> {
        let ServerSecurity::Tls(tls) = &self.security else {
            return Err(Error::new(
                Kind::BadState,
                "only TLS server credentials have certificates",
            ));
        };
        tls.replace(configuration.server_config(tls.client_auth)?);
        Ok(())
    }

    /// True for TLS credentials.
    pub fn is_tls(&self) -> bool {
        matches!(self.security, ServerSecurity::Tls(_))
    }
}

impl fmt::Debug for ServerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.security {
            ServerSecurity::Insecure => "insecure",
            ServerSecurity::Local => "local",
            ServerSecurity::Tls(_) => "ssl",
        };
        f.debug_struct("ServerCredentials")
            .field("type", &kind)
            .finish()
    }
}

/// TLS server credentials (grpcio's `ssl_server_credentials`).
///
/// `private_key_certificate_chain_pairs` are `(private_key,
/// certificate_chain)` PEM pairs; the first is the default, the others are
/// chosen by the name the client asks for (SNI). `root_certificates` (PEM)
/// verify client certificates; with [`ClientAuth::Required`] every client
/// must present one.
///
/// ```no_run
/// # fn main() -> Result<(), grpc_core::Error> {
/// let key = std::fs::read("server.key").unwrap();
/// let chain = std::fs::read("server.pem").unwrap();
/// let ca = std::fs::read("ca.pem").unwrap();
/// let credentials = grpc_core::ssl_server_credentials(
///     [(key, chain)],
///     Some(&ca),
///     grpc_core::ClientAuth::Required,
/// )?;
/// let server = grpc_core::Server::builder().build();
/// server.add_secure_port("[::]:50051", &credentials)?;
/// # Ok(()) }
/// ```
pub fn ssl_server_credentials<K, C>(
    private_key_certificate_chain_pairs: impl IntoIterator<Item = (K, C)>,
    root_certificates: Option<&[u8]>,
    require_client_auth: ClientAuth,
) -> Result<ServerCredentials, Error>
where
    K: AsRef<[u8]>,
    C: AsRef<[u8]>,
{
    let configuration = ssl_server_certificate_configuration(
        private_key_certificate_chain_pairs,
        root_certificates,
    )?;
    tls_credentials(&configuration, require_client_auth, None)
}

/// TLS server credentials whose certificates can change without a restart
/// (grpcio's `dynamic_ssl_server_credentials`): before each new TLS
/// handshake `fetcher` is called; a `Some` configuration replaces the
/// current one for that connection and later ones, `None` keeps it. Open
/// connections are never affected. `fetcher` runs on an I/O thread: it
/// must return quickly (load new files elsewhere and hand them over).
pub fn dynamic_ssl_server_credentials(
    initial_certificate_configuration: ServerCertificateConfiguration,
    fetcher: impl Fn() -> Option<ServerCertificateConfiguration> + Send + Sync + 'static,
    require_client_authentication: ClientAuth,
) -> Result<ServerCredentials, Error> {
    tls_credentials(
        &initial_certificate_configuration,
        require_client_authentication,
        Some(Box::new(fetcher)),
    )
}

fn tls_credentials(
    configuration: &ServerCertificateConfiguration,
    client_auth: ClientAuth,
    fetcher: Option<Box<Fetcher>>,
) -> Result<ServerCredentials, Error> {
    let config = configuration.server_config(client_auth)?;
    Ok(ServerCredentials {
        security: ServerSecurity::Tls(Arc::new(TlsServer {
            current: RwLock::new(config),
            client_auth,
            fetcher,
        })),
    })
}

/// Credentials for local connections only (grpcio's
/// `local_server_credentials`): Unix sockets and loopback TCP, no
/// encryption; call credentials may travel on them. Connections from
/// other addresses are refused.
pub fn local_server_credentials() -> ServerCredentials {
    ServerCredentials {
        security: ServerSecurity::Local,
    }
}

/// No transport security (grpcio's `insecure_server_credentials`): what
/// [`Server::add_insecure_port`](crate::Server::add_insecure_port) uses.
pub fn insecure_server_credentials() -> ServerCredentials {
    ServerCredentials {
        security: ServerSecurity::Insecure,
    }
}

/// Runs the server side of a TLS handshake and describes the peer.
pub(crate) async fn accept<I>(
    tls: &TlsServer,
    io: I,
    address: &str,
) -> std::io::Result<(tokio_rustls::server::TlsStream<I>, Peer)>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
    let stream = acceptor.accept(io).await?;
    let (_, session) = stream.get_ref();
    let resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let peer = Peer::tls(address, session.peer_certificates(), resumed);
    Ok((stream, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_prefers_exact_then_wildcard_then_default() {
        let key = |names: &[&str]| NamedKey {
            names: names.iter().map(|name| name.to_string()).collect(),
            key: Arc::new(CertifiedKey::new(
                Vec::new(),
                Arc::new(NoKey) as Arc<dyn rustls::sign::SigningKey>,
            )),
        };
        let resolver = SniResolver {
            keys: vec![key(&["default.test"]), key(&["*.b.test"]), key(&["a.test"])],
        };
        let pick = |name: Option<&str>| {
            let chosen = resolver.select(name).unwrap();
            resolver
                .keys
                .iter()
                .position(|named| Arc::ptr_eq(&named.key, &chosen))
        };
        assert_eq!(pick(None), Some(0));
        assert_eq!(pick(Some("A.test")), Some(2));
        assert_eq!(pick(Some("x.b.test")), Some(1));
        assert_eq!(pick(Some("x.y.b.test")), Some(0));
        assert_eq!(pick(Some("other")), Some(0));
    }

    #[derive(Debug)]
    struct NoKey;

    impl rustls::sign::SigningKey for NoKey {
        fn choose_scheme(
            &self,
            _offered: &[rustls::SignatureScheme],
        ) -> Option<Box<dyn rustls::sign::Signer>> {
            None
        }

        fn algorithm(&self) -> rustls::SignatureAlgorithm {
            rustls::SignatureAlgorithm::ED25519
        }
    }
}
