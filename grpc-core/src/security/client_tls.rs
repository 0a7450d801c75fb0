//! The client side of TLS over any [`Io`]: the handshake, ALPN, and errors
//! that tell a user which of the usual causes it was.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use rustls::{AlertDescription, CertificateError};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::channel::TlsClient;
use super::provider::{ALPN_H2, ALPN_HTTP1};
use crate::transport::io::Io;

/// Where a channel's TLS connections go: the configuration and the name
/// the server's certificate must carry.
#[derive(Clone)]
pub(crate) struct TlsTarget {
    pub(crate) client: Arc<TlsClient>,
    pub(crate) server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTarget")
            .field("server_name", &self.server_name)
            .finish()
    }
}

/// The application protocol a TLS connection offers and requires (ALPN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// `h2`: gRPC, and Connect / gRPC-Web over HTTP/2.
    H2,
    /// `http/1.1`: Connect and gRPC-Web over HTTP/1.1.
    Http1,
}

impl Alpn {
    /// How errors name it.
    fn label(self) -> &'static str {
        match self {
            Alpn::H2 => "\"h2\" (HTTP/2)",
            Alpn::Http1 => "\"http/1.1\"",
        }
    }
}

/// Runs the TLS handshake over `io` and checks that the server agreed to
/// `alpn`. For HTTP/2 on TLS 1.3 it also waits for the server's first
/// bytes (its HTTP/2 SETTINGS): a server that rejects the client's
/// certificate (or its absence) says so only after the handshake, and the
/// user should see that cause rather than a lost connection. (An HTTP/1.1
/// server says nothing first; such a rejection shows on the first request.)
pub(crate) async fn connect(target: &TlsTarget, io: Io, alpn: Alpn) -> io::Result<Io> {
    CERTIFICATE_REQUESTED
        .scope(Cell::new(false), handshake(target, io, alpn))
        .await
}

async fn handshake(target: &TlsTarget, io: Io, alpn: Alpn) -> io::Result<Io> {
    let config = match alpn {
        Alpn::H2 => &target.client.config,
        Alpn::Http1 => &target.client.http1_config,
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
    let mut stream = connector
        .connect(target.server_name.clone(), io)
        .await
        .map_err(|error| explain(error, target, alpn))?;
    let (_, session) = stream.get_ref();
    check_alpn(session.alpn_protocol(), alpn)?;
    if alpn == Alpn::Http1 || session.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return Ok(Io::other(stream));
    }
    let mut first = vec![0; 4096];
    let read = stream.read(&mut first).await;
    let asked = CERTIFICATE_REQUESTED.try_with(Cell::get).unwrap_or(false);
    let read = match read {
        Ok(0) => {
            return Err(closed_after_handshake(
                io::ErrorKind::UnexpectedEof,
                asked,
                target,
            ));
        }
        Ok(read) => read,
        Err(error) if is_close(&error) => {
            return Err(closed_after_handshake(error.kind(), asked, target));
        }
        Err(error) => return Err(explain(error, target, alpn)),
    };
    first.truncate(read);
    Ok(Io::other(Prefetched {
        prefix: Bytes::from(first),
        inner: stream,
    }))
}

/// The server must have selected the protocol the client offered.
fn check_alpn(selected: Option<&[u8]>, alpn: Alpn) -> io::Result<()> {
    let refused = match alpn {
        Alpn::H2 if selected != Some(ALPN_H2) => {
            "the server did not select \"h2\" (HTTP/2), so it does not serve gRPC over TLS"
        }
        // A server without ALPN at all speaks HTTP/1.1 by default.
        Alpn::Http1 if selected.is_some_and(|selected| selected != ALPN_HTTP1) => {
            "the server did not select \"http/1.1\""
        }
        _ => return Ok(()),
    };
    Err(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!("TLS handshake failed: ALPN refused: {refused}"),
    ))
}

/// Whether a read error is the peer closing the connection (no alert).
fn is_close(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// The server hung up right after the handshake, without an alert (as
/// BoringSSL does when a required client certificate is missing).
fn closed_after_handshake(kind: io::ErrorKind, asked: bool, target: &TlsTarget) -> io::Error {
    let cause = match (asked, target.client.has_certificate) {
        (true, false) => {
            "no client certificate: the server asked for a client certificate, \
             this channel has none (pass private_key and certificate_chain to \
             ssl_channel_credentials), and the server closed the connection"
        }
        (true, true) => {
            "the server closed the connection after the handshake: it probably \
             rejected the client certificate"
        }
        (false, _) => "the server closed the connection right after the handshake",
    };
    io::Error::new(kind, format!("TLS handshake failed: {cause}"))
}

tokio::task_local! {
    /// Set when the server of the handshake running in this task asked for
    /// a client certificate. (Per connection, while the resolver stays the
    /// same object: rustls resumes a session only with the resolver that
    /// made it.)
    static CERTIFICATE_REQUESTED: Cell<bool>;
}

/// Notes that the server asked for a client certificate, then answers as
/// the channel's own resolver does.
#[derive(Debug)]
pub(crate) struct NoticeCertificateRequest {
    pub(crate) inner: Arc<dyn rustls::client::ResolvesClientCert>,
}

impl rustls::client::ResolvesClientCert for NoticeCertificateRequest {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let _ = CERTIFICATE_REQUESTED.try_with(|asked| asked.set(true));
        self.inner.resolve(root_hint_subjects, schemes)
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// Turns a handshake error into one whose message names the cause.
fn explain(error: io::Error, target: &TlsTarget, alpn: Alpn) -> io::Error {
    let kind = error.kind();
    let cause = match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => describe(tls, target, alpn),
        None => format!("connection failed during the handshake: {error}"),
    };
    io::Error::new(kind, format!("TLS handshake failed: {cause}"))
}

fn describe(error: &rustls::Error, target: &TlsTarget, alpn: Alpn) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => describe_certificate(cert, target),
        rustls::Error::AlertReceived(alert) => describe_alert(*alert, target, alpn),
        rustls::Error::NoApplicationProtocol => {
            format!("ALPN refused: the server did not agree to {}", alpn.label())
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the server did not answer with TLS (a plaintext port?): {error}")
        }
        other => other.to_string(),
    }
}

fn describe_certificate(error: &CertificateError, target: &TlsTarget) -> String {
    let name = server_name_text(&target.server_name);
    match error {
        CertificateError::UnknownIssuer => "unknown CA: the server's certificate is not signed by \
             a trusted root certificate (certificate verify failed: UnknownIssuer)"
            .to_owned(),
        CertificateError::NotValidForName => {
            format!("name mismatch: the server's certificate is not valid for {name:?}")
        }
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "name mismatch: the server's certificate is not valid for {name:?} \
             (it is valid for {}); use ssl_target_name_override to expect another name",
            presented
                .iter()
                .map(|name| bare_name(name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "expired: the server's certificate has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not yet valid: the server's certificate is not valid yet".to_owned()
        }
        other => format!("invalid server certificate: {other:?}"),
    }
}

fn describe_alert(alert: AlertDescription, target: &TlsTarget, alpn: Alpn) -> String {
    let has_certificate = target.client.has_certificate;
    match alert {
        AlertDescription::CertificateRequired => "no client certificate: the server requires a \
             client certificate and this channel has none (pass private_key and \
             certificate_chain to ssl_channel_credentials)"
            .to_owned(),
        AlertDescription::HandshakeFailure if !has_certificate => "the server refused the \
             handshake (handshake_failure alert); no client certificate was sent, and the server \
             may require one"
            .to_owned(),
        AlertDescription::UnknownCA => "the server rejected the client certificate: unknown CA \
             (it is not signed by a root the server trusts)"
            .to_owned(),
        AlertDescription::CertificateExpired => {
            "the server rejected the client certificate: expired".to_owned()
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown
        | AlertDescription::CertificateRevoked
        | AlertDescription::AccessDenied
        | AlertDescription::DecryptError => {
            format!("the server rejected the client certificate ({alert:?} alert)")
        }
        AlertDescription::NoApplicationProtocol => format!(
            "ALPN refused: the server does not accept {} over TLS (no_application_protocol alert)",
            alpn.label()
        ),
        AlertDescription::ProtocolVersion => {
            "the server supports neither TLS 1.3 nor TLS 1.2 (protocol_version alert)".to_owned()
        }
        other => format!("the server sent a fatal {other:?} alert"),
    }
}

/// `DnsName("a.test")` (how rustls lists presented names) as `a.test`.
fn bare_name(presented: &str) -> &str {
    match presented.split_once("(\"") {
        Some((_, rest)) => rest.strip_suffix("\")").unwrap_or(rest),
        None => presented,
    }
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// A stream whose first bytes were already read.
struct Prefetched<S> {
    prefix: Bytes,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefetched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.has_remaining() {
            let take = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..take]);
            this.prefix.advance(take);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefetched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
