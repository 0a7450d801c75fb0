//! [`CallCredentials`]: per-call authentication metadata (access tokens,
//! metadata plugins). They travel only over secure channels.

use std::fmt;
use std::sync::Arc;

use crate::metadata::Metadata;
use crate::status::Status;

type Plugin = dyn Fn(&str) -> Result<Metadata, Status> + Send + Sync;

/// Credentials attached to each call as metadata (grpcio's `CallCredentials`).
#[derive(Clone)]
pub struct CallCredentials {
    plugin: Arc<Plugin>,
}

impl CallCredentials {
    /// The metadata to attach for a call to `method` (`/pkg.Service/Method`).
    pub fn metadata_for(&self, method: &str) -> Result<Metadata, Status> {
        (self.plugin)(method)
    }
}

impl fmt::Debug for CallCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallCredentials(..)")
    }
}

/// Credentials that send `authorization: Bearer <token>`
/// (grpcio's `access_token_call_credentials`).
///
/// ```
/// let creds = grpc_core::access_token_call_credentials("secret");
/// let md = creds.metadata_for("/helloworld.Greeter/SayHello")?;
/// assert_eq!(md.get("authorization"), Some("Bearer secret"));
/// # Ok::<(), grpc_core::Status>(())
/// ```
pub fn access_token_call_credentials(token: impl Into<String>) -> CallCredentials {
    let value = format!("Bearer {}", token.into());
    metadata_call_credentials(move |_method| {
        Metadata::from_pairs([("authorization", value.as_str())])
            .map_err(|error| Status::unauthenticated(format!("bad access token: {error}")))
    })
}

/// Credentials computed per call by `plugin` from the method path
/// (grpcio's `metadata_call_credentials`). An error fails the call with it.
pub fn metadata_call_credentials(
    plugin: impl Fn(&str) -> Result<Metadata, Status> + Send + Sync + 'static,
) -> CallCredentials {
    CallCredentials {
        plugin: Arc::new(plugin),
    }
}
