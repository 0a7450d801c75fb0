//! Sockets under HTTP/2: TCP (always `TCP_NODELAY`) and Unix domain sockets,
//! with the h2 settings both sides use.

pub(crate) mod client_watch;
pub(crate) mod flow;
pub(crate) mod frames;
pub(crate) mod io;
pub(crate) mod keepalive;
pub(crate) mod ping_policy;
pub(crate) mod settings;
pub(crate) mod tap;

#[cfg(test)]
mod frames_props;
#[cfg(test)]
mod ping_policy_props;
