//! [`Error`]: a descriptor set that cannot be served.

use std::fmt;

/// Why reflection could not be set up: a registered descriptor set that
/// does not decode, or two files of one name with different contents.
#[derive(Debug)]
pub struct Error {
    message: String,
    cause: Option<prost::DecodeError>,
}

impl Error {
    pub(crate) fn decode(which: usize, cause: prost::DecodeError) -> Error {
        Error {
            message: format!(
                "descriptor set #{which} (in registration order) is not an encoded \
                 google.protobuf.FileDescriptorSet: {cause}"
            ),
            cause: Some(cause),
        }
    }

    pub(crate) fn conflict(file: &str) -> Error {
        Error {
            message: format!("two registered descriptor sets hold different versions of `{file}`"),
            cause: None,
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether a registered descriptor set did not decode.
    pub fn is_decode(&self) -> bool {
        self.cause.is_some()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}
