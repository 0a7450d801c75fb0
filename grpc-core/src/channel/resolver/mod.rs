//! Name resolution: what turns a channel's target into the addresses its
//! subchannels connect to (and, optionally, a service config).
//!
//! Built in: `dns:///host:port` (and bare `host:port`) through the system
//! resolver, `ipv4:`/`ipv6:` address lists, `unix:` and `unix-abstract:`.
//! Users plug their own discovery in with [`Resolver`] and
//! [`ChannelBuilder::resolver`](crate::ChannelBuilder::resolver).

mod run;

pub(crate) use run::{ResolverRun, resolution_loop};

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use super::service_config::ServiceConfig;
use super::target::Address;
use crate::status::Status;

/// One address a subchannel can connect to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResolvedAddress {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A Linux abstract-namespace socket name.
    UnixAbstract(Vec<u8>),
}

impl std::fmt::Display for ResolvedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolvedAddress::Tcp(addr) => write!(f, "{addr}"),
            ResolvedAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            ResolvedAddress::UnixAbstract(name) => {
                write!(f, "unix-abstract:{}", String::from_utf8_lossy(name))
            }
        }
    }
}

impl From<SocketAddr> for ResolvedAddress {
    fn from(addr: SocketAddr) -> ResolvedAddress {
        ResolvedAddress::Tcp(addr)
    }
}

/// What a resolver found: the addresses, and optionally a service config
/// (which then replaces the channel's default one).
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    /// The addresses, in the resolver's order of preference.
    pub addresses: Vec<ResolvedAddress>,
    /// A service config for the channel, if the resolver has one.
    pub service_config: Option<ServiceConfig>,
}

impl Resolution {
    /// A resolution of these addresses, without service config.
    pub fn addresses(addresses: impl IntoIterator<Item = impl Into<ResolvedAddress>>) -> Self {
        Resolution {
            addresses: addresses.into_iter().map(Into::into).collect(),
            service_config: None,
        }
    }

    /// Adds a service config to the resolution.
    pub fn with_service_config(mut self, config: ServiceConfig) -> Self {
        self.service_config = Some(config);
        self
    }
}

/// A source of addresses for a channel: a static list, a registry, a
/// file. The channel calls [`resolve`](Resolver::resolve) when it first
/// needs addresses, after a connection is lost or fails (at most once per
/// [`min_time_between_resolutions`](crate::ChannelBuilder::min_time_between_resolutions)),
/// every [`resolution_interval`](crate::ChannelBuilder::resolution_interval),
/// and whenever [`changed`](Resolver::changed) completes.
///
/// ```
/// use grpc_core::{Resolution, Resolver, Status};
/// struct Fixed(Vec<std::net::SocketAddr>);
/// impl Resolver for Fixed {
///     async fn resolve(&self) -> Result<Resolution, Status> {
///         Ok(Resolution::addresses(self.0.clone()))
///     }
/// }
/// let channel = grpc_core::ChannelBuilder::new("my-service")
///     .resolver(Fixed(vec!["127.0.0.1:50051".parse().unwrap()]))
///     .build()?;
/// # Ok::<(), grpc_core::Error>(())
/// ```
pub trait Resolver: Send + Sync + 'static {
    /// The current addresses (an error keeps the channel on its previous
    /// addresses, or fails calls with it when there are none).
    fn resolve(&self) -> impl Future<Output = Result<Resolution, Status>> + Send;

    /// Completes when the resolver knows its addresses changed (push-based
    /// discovery); never, by default.
    fn changed(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Resolver`] as a trait object.
pub(crate) trait DynResolver: Send + Sync + 'static {
    fn resolve_boxed(&self) -> BoxFuture<'_, Result<Resolution, Status>>;
    fn changed_boxed(&self) -> BoxFuture<'_, ()>;
}

impl<R: Resolver> DynResolver for R {
    fn resolve_boxed(&self) -> BoxFuture<'_, Result<Resolution, Status>> {
        Box::pin(self.resolve())
    }

    fn changed_boxed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.changed())
    }
}

/// A shared resolver.
pub(crate) type SharedResolver = Arc<dyn DynResolver>;

/// The resolver for a parsed target: DNS for names, a fixed list otherwise.
pub(crate) fn for_target(address: &Address) -> SharedResolver {
    match address {
        Address::Dns { host, port } => Arc::new(DnsResolver {
            host: host.clone(),
            port: *port,
        }),
        Address::Ip(addrs) => Arc::new(FixedResolver(
            addrs.iter().copied().map(ResolvedAddress::Tcp).collect(),
        )),
        Address::Unix(path) => Arc::new(FixedResolver(vec![ResolvedAddress::Unix(path.clone())])),
        Address::UnixAbstract(name) => {
            Arc::new(FixedResolver(vec![ResolvedAddress::UnixAbstract(
                name.clone(),
            )]))
        }
    }
}

/// A fixed address list.
pub(crate) struct FixedResolver(pub(crate) Vec<ResolvedAddress>);

impl Resolver for FixedResolver {
    async fn resolve(&self) -> Result<Resolution, Status> {
        Ok(Resolution::addresses(self.0.clone()))
    }
}

/// `dns:///host:port` through the system resolver.
struct DnsResolver {
    host: String,
    port: u16,
}

impl Resolver for DnsResolver {
    async fn resolve(&self) -> Result<Resolution, Status> {
        let found = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|error| {
                Status::unavailable(format!(
                    "DNS resolution failed for {}:{}: {error}",
                    self.host, self.port
                ))
            })?;
        let mut addresses: Vec<ResolvedAddress> = Vec::new();
        for addr in found {
            let addr = ResolvedAddress::Tcp(addr);
            if !addresses.contains(&addr) {
                addresses.push(addr);
            }
        }
        if addresses.is_empty() {
            return Err(Status::unavailable(format!(
                "DNS resolution for {}:{} returned no addresses",
                self.host, self.port
            )));
        }
        Ok(Resolution::addresses(addresses))
    }
}
