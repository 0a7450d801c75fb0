//! The "gRPC over HTTP/2" header vocabulary: `grpc-timeout`, percent-encoded
//! `grpc-message`, status from HTTP codes and RST_STREAM reasons.

pub(crate) mod connect;
pub(crate) mod descriptor_files;
pub(crate) mod json;
pub(crate) mod message;
pub(crate) mod status_map;
pub(crate) mod timeout;
pub(crate) mod trailers;

pub(crate) const GRPC_STATUS: &str = "grpc-status";
pub(crate) const GRPC_MESSAGE: &str = "grpc-message";
pub(crate) const GRPC_STATUS_DETAILS_BIN: &str = "grpc-status-details-bin";
pub(crate) const GRPC_TIMEOUT: &str = "grpc-timeout";
pub(crate) const GRPC_ENCODING: &str = "grpc-encoding";
pub(crate) const GRPC_ACCEPT_ENCODING: &str = "grpc-accept-encoding";
pub(crate) const CONTENT_TYPE_GRPC: &str = "application/grpc";

/// True for `application/grpc` and `application/grpc+<subtype>` / `;params`.
pub(crate) fn is_grpc_content_type(value: &[u8]) -> bool {
    let Some(rest) = value.strip_prefix(CONTENT_TYPE_GRPC.as_bytes()) else {
        return false;
    };
    rest.is_empty() || rest[0] == b'+' || rest[0] == b';'
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_types() {
        assert!(super::is_grpc_content_type(b"application/grpc"));
        assert!(super::is_grpc_content_type(b"application/grpc+proto"));
        assert!(super::is_grpc_content_type(
            b"application/grpc;charset=utf-8"
        ));
        assert!(!super::is_grpc_content_type(b"application/grpcx"));
        assert!(!super::is_grpc_content_type(b"application/json"));
    }
}
