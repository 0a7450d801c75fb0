//! Transport security and the peer's identity: TLS on rustls (ring),
//! local credentials, and the server's auth context. TLS is a layer over
//! any [`AsyncIo`](crate::AsyncIo) stream, on both sides.

pub(crate) mod auth;
mod channel;
pub(crate) mod client_tls;
mod pem;
mod provider;
mod server;

pub(crate) use channel::ChannelSecurity;
pub use channel::{
    ChannelCredentials, composite_channel_credentials, local_channel_credentials,
    ssl_channel_credentials,
};
pub use server::{
    ClientAuth, ServerCertificateConfiguration, ServerCredentials, dynamic_ssl_server_credentials,
    insecure_server_credentials, local_server_credentials, ssl_server_certificate_configuration,
    ssl_server_credentials,
};
pub(crate) use server::{ServerSecurity, accept};
