//! The one TLS setup every connection uses: rustls with the `ring` crypto
//! provider, TLS 1.3 and 1.2 only, ALPN `h2` (and `http/1.1` for Connect and
//! gRPC-Web).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// TLS 1.3 first, then 1.2; nothing older.
pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The only application protocol gRPC speaks over TLS.
pub(crate) const ALPN_H2: &[u8] = b"h2";

/// HTTP/1.1, for Connect and gRPC-Web calls over HTTP/1.1.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The crypto provider (ring), built per use: it is a small table of
/// function pointers, and using it never touches a process-wide default.
pub(crate) fn get() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
