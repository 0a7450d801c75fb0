//! [`Error`]: what can go wrong outside an RPC (bad targets, bad metadata,
//! sockets that cannot be bound, servers used in the wrong state).

use std::error::Error as StdError;
use std::fmt;

/// An error from setting things up rather than from an RPC (those are
/// [`RpcError`](crate::RpcError) and [`Status`](crate::Status)).
///
/// ```
/// let err = grpc_core::insecure_channel("unix:").unwrap_err();
/// assert!(err.is_invalid_target());
/// println!("{err}");
/// ```
pub struct Error {
    kind: Kind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    InvalidTarget,
    InvalidMetadata,
    InvalidArgument,
    Io,
    BadState,
    Runtime,
    InvalidCredentials,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Error {
        Error::new(Kind::Io, message).with_source(source)
    }

    /// The target string could not be parsed (`dns:///host:port`, `unix:/path`, ...).
    pub fn is_invalid_target(&self) -> bool {
        self.kind == Kind::InvalidTarget
    }

    /// A metadata key or value is not allowed (bad characters, reserved key).
    pub fn is_invalid_metadata(&self) -> bool {
        self.kind == Kind::InvalidMetadata
    }

    /// An option or argument has a value that cannot work.
    pub fn is_invalid_argument(&self) -> bool {
        self.kind == Kind::InvalidArgument
    }

    /// A socket operation failed (bind, listen, ...).
    pub fn is_io(&self) -> bool {
        self.kind == Kind::Io
    }

    /// The object is in the wrong state for the operation (e.g. adding a port
    /// to a server that was stopped).
    pub fn is_bad_state(&self) -> bool {
        self.kind == Kind::BadState
    }

    /// The async runtime could not be created or was used wrongly.
    pub fn is_runtime(&self) -> bool {
        self.kind == Kind::Runtime
    }

    /// Certificates, keys or credentials could not be used: bad PEM, a key
    /// that does not parse or does not match its certificate, an empty
    /// trust store.
    pub fn is_invalid_credentials(&self) -> bool {
        self.kind == Kind::InvalidCredentials
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("kind", &self.kind)
            .field("message", &self.message);
        if let Some(source) = &self.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small_and_prints_its_cause() {
        assert!(std::mem::size_of::<Error>() <= 48);
        let err = Error::io(
            "failed to bind 1.2.3.4:5",
            std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use"),
        );
        assert!(err.is_io());
        assert_eq!(err.to_string(), "failed to bind 1.2.3.4:5: address in use");
    }
}
