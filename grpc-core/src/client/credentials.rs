//! [`CallCredentials`]: per-call authentication metadata (access tokens,
//! sync and async metadata plugins, compositions of them). They travel
//! only over secure channels (TLS, or local credentials).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::metadata::Metadata;
use crate::status::Status;

type SyncPlugin = dyn Fn(&AuthMetadataContext) -> Result<Metadata, Status> + Send + Sync;
type PluginFuture = Pin<Box<dyn Future<Output = Result<Metadata, Status>> + Send>>;
type AsyncPlugin = dyn Fn(AuthMetadataContext) -> PluginFuture + Send + Sync;

/// What a metadata plugin learns about the call it authenticates (grpcio's
/// `AuthMetadataContext`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthMetadataContext {
    service_url: String,
    method_name: String,
}

impl AuthMetadataContext {
    /// A context for `service_url` (`https://host[:port]/package.Service`)
    /// and `method_name` (`Method`).
    pub fn new(service_url: impl Into<String>, method_name: impl Into<String>) -> Self {
        AuthMetadataContext {
            service_url: service_url.into(),
            method_name: method_name.into(),
        }
    }

    /// The URL of the service: scheme, authority (without `:443`) and the
    /// full service name, e.g. `https://example.com/helloworld.Greeter`.
    pub fn service_url(&self) -> &str {
        &self.service_url
    }

    /// The method's name, e.g. `SayHello`.
    pub fn method_name(&self) -> &str {
        &self.method_name
    }

    /// The context of a call to `path` (`/pkg.Service/Method`).
    pub(crate) fn for_call(scheme: &str, authority: &str, path: &str) -> Self {
        let host = authority.strip_suffix(":443").unwrap_or(authority);
        let trimmed = path.trim_start_matches('/');
        let (service, method) = trimmed.rsplit_once('/').unwrap_or((trimmed, ""));
        AuthMetadataContext::new(format!("{scheme}://{host}/{service}"), method)
    }
}

#[derive(Clone)]
enum Source {
    /// Fixed metadata (an access token).
    Fixed(Metadata),
    /// A blocking plugin: run on tokio's blocking pool, never on an I/O thread.
    Blocking(Arc<SyncPlugin>),
    /// An async plugin: awaited inside the call.
    Async(Arc<AsyncPlugin>),
}

/// Credentials attached to each call as metadata (grpcio's
/// `CallCredentials`): give them to a call with
/// [`CallOptions::credentials`](crate::CallOptions::credentials) or to every
/// call of a channel with
/// [`composite_channel_credentials`](crate::composite_channel_credentials).
/// Cheap to clone.
#[derive(Clone)]
pub struct CallCredentials {
    sources: Arc<[Source]>,
}

impl CallCredentials {
    /// The metadata these credentials add to a call with `context`; a
    /// plugin's error is returned as it is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), grpc_core::Status> {
    /// use grpc_core::AuthMetadataContext;
    /// let creds = grpc_core::access_token_call_credentials("secret");
    /// let context = AuthMetadataContext::new("https://example.com/helloworld.Greeter", "SayHello");
    /// let md = creds.metadata(&context).await?;
    /// assert_eq!(md.get("authorization"), Some("Bearer secret"));
    /// # Ok(()) }
    /// ```
    pub async fn metadata(&self, context: &AuthMetadataContext) -> Result<Metadata, Status> {
        let mut all = Metadata::new();
        for source in self.sources.iter() {
            let metadata = match source {
                Source::Fixed(metadata) => metadata.clone(),
                Source::Async(plugin) => plugin(context.clone()).await?,
                Source::Blocking(plugin) => {
                    let plugin = Arc::clone(plugin);
                    let context = context.clone();
                    match tokio::task::spawn_blocking(move || plugin(&context)).await {
                        Ok(result) => result?,
                        Err(_) => return Err(Status::unavailable("the metadata plugin panicked")),
                    }
                }
            };
            all.extend(metadata);
        }
        Ok(all)
    }
}

impl fmt::Debug for CallCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallCredentials({} source(s))", self.sources.len())
    }
}

/// Credentials that send `authorization: Bearer <token>`
/// (grpcio's `access_token_call_credentials`). A token that cannot be a
/// header value fails each call with `UNAVAILABLE` saying so.
pub fn access_token_call_credentials(token: impl Into<String>) -> CallCredentials {
    let value = format!("Bearer {}", token.into());
    match Metadata::from_pairs([("authorization", value.as_str())]) {
        Ok(metadata) => CallCredentials {
            sources: Arc::new([Source::Fixed(metadata)]),
        },
        Err(error) => {
            let message = format!("bad access token: {error}");
            metadata_call_credentials_async(move |_| {
                let status = Status::unavailable(message.clone());
                async move { Err(status) }
            })
        }
    }
}

/// Credentials computed per call by a blocking `plugin` from an
/// [`AuthMetadataContext`] (grpcio's `metadata_call_credentials`). The
/// plugin runs on tokio's blocking pool, so it may do slow work; an error
/// fails the call with `UNAVAILABLE` and the plugin's message.
///
/// ```
/// use grpc_core::{Metadata, Status};
/// let creds = grpc_core::metadata_call_credentials(|context| {
///     Metadata::from_pairs([("x-method", context.method_name())])
///         .map_err(|error| Status::internal(error.to_string()))
/// });
/// ```
pub fn metadata_call_credentials(
    plugin: impl Fn(&AuthMetadataContext) -> Result<Metadata, Status> + Send + Sync + 'static,
) -> CallCredentials {
    CallCredentials {
        sources: Arc::new([Source::Blocking(Arc::new(plugin))]),
    }
}

/// Credentials computed per call by an async `plugin` (e.g. one that
/// fetches a token over the network), awaited within the call and its
/// deadline without blocking any thread. An error fails the call with
/// `UNAVAILABLE` and the plugin's message.
///
/// ```
/// use grpc_core::{Metadata, Status};
/// let creds = grpc_core::metadata_call_credentials_async(|context| async move {
///     let token = format!("token-for-{}", context.method_name()); // e.g. fetched
///     Metadata::from_pairs([("authorization", format!("Bearer {token}"))])
///         .map_err(|error| Status::internal(error.to_string()))
/// });
/// ```
pub fn metadata_call_credentials_async<F, Fut>(plugin: F) -> CallCredentials
where
    F: Fn(AuthMetadataContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Metadata, Status>> + Send + 'static,
{
    let plugin: Arc<AsyncPlugin> = Arc::new(move |context| Box::pin(plugin(context)));
    CallCredentials {
        sources: Arc::new([Source::Async(plugin)]),
    }
}

/// All of `credentials`, applied in order, their metadata combined
/// (grpcio's `composite_call_credentials`).
pub fn composite_call_credentials(
    credentials: impl IntoIterator<Item = CallCredentials>,
) -> CallCredentials {
    let sources: Vec<Source> = credentials
        .into_iter()
        .flat_map(|creds| creds.sources.iter().cloned().collect::<Vec<_>>())
        .collect();
    CallCredentials {
        sources: sources.into(),
    }
}

/// The composition of `credentials`; `None` when there are none.
pub(crate) fn compose(credentials: Vec<CallCredentials>) -> Option<CallCredentials> {
    match credentials.len() {
        0 => None,
        1 => credentials.into_iter().next(),
        _ => Some(composite_call_credentials(credentials)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_service_and_method() {
        let context = AuthMetadataContext::for_call(
            "https",
            "example.com:443",
            "/helloworld.Greeter/SayHello",
        );
        assert_eq!(
            context.service_url(),
            "https://example.com/helloworld.Greeter"
        );
        assert_eq!(context.method_name(), "SayHello");
        let context = AuthMetadataContext::for_call("https", "localhost:50051", "/a.B/C");
        assert_eq!(context.service_url(), "https://localhost:50051/a.B");
    }
}
