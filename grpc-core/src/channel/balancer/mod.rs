//! Load balancing: the subchannels of a channel, one per address
//! (`round_robin`) or one over the whole list (`pick_first`), which one
//! a call goes to, and the channel's connectivity as their aggregate.

mod pick_first;
mod round_robin;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use bytes::Bytes;

use super::resolver::ResolvedAddress;
use super::state::ConnState;
use super::subchannel::Subchannel;
use super::{ChannelConnectivity, ChannelInner};
use crate::status::Status;
use crate::transport::client_watch::LastStreamId;

/// A load-balancing policy (grpcio's `grpc.lb_policy_name`, or the service
/// config's `loadBalancingConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LbPolicy {
    /// One connection, to the first address that answers (the default).
    PickFirst {
        /// Shuffle the addresses before each pass (spreads clients of one
        /// DNS name over its addresses).
        shuffle_address_list: bool,
    },
    /// A connection to every address; calls go to the ready ones in turn.
    RoundRobin,
}

impl Default for LbPolicy {
    fn default() -> LbPolicy {
        LbPolicy::PickFirst {
            shuffle_address_list: false,
        }
    }
}

impl LbPolicy {
    /// The policy called `name` (`pick_first`, `round_robin`), if known.
    pub fn from_name(name: &str) -> Option<LbPolicy> {
        match name {
            "pick_first" => Some(LbPolicy::default()),
            "round_robin" => Some(LbPolicy::RoundRobin),
            _ => None,
        }
    }

    /// A `loadBalancingConfig` entry, if the policy is known.
    pub(crate) fn from_config(name: &str, settings: &serde_json::Value) -> Option<LbPolicy> {
        match LbPolicy::from_name(name)? {
            LbPolicy::PickFirst { .. } => Some(LbPolicy::PickFirst {
                shuffle_address_list: settings
                    .get("shuffleAddressList")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
            }),
            policy => Some(policy),
        }
    }
}

/// What the balancer decided for a call.
pub(crate) enum Pick {
    /// Send it on this subchannel's connection.
    Ready {
        subchannel: Arc<Subchannel>,
        sender: h2::client::SendRequest<Bytes>,
        goaway: LastStreamId,
    },
    /// Wait for a state change.
    Queue,
    /// Fail (unless the call waits for ready).
    Fail(Status),
}

/// The subchannels and the policy over them.
#[derive(Default)]
pub(crate) struct Balancer {
    policy: LbPolicy,
    /// Shared with the snapshots: a call's pick copies no list.
    subchannels: Arc<[Arc<Subchannel>]>,
    /// Whether the resolver answered at least once.
    pub(crate) resolved: bool,
    /// The resolver's last error, while it has no addresses.
    pub(crate) resolution_error: Option<Status>,
}

/// A copy of the balancer's current subchannels, to act on without a lock.
pub(crate) struct Snapshot {
    policy: LbPolicy,
    subchannels: Arc<[Arc<Subchannel>]>,
    resolved: bool,
    resolution_error: Option<Status>,
}

impl Balancer {
    /// Switches to `addresses` under `policy`, keeping the subchannels of
    /// addresses that stay; returns the subchannels to start connecting.
    pub(crate) fn update(
        &mut self,
        policy: LbPolicy,
        addresses: Vec<ResolvedAddress>,
        parent: &Arc<ChannelInner>,
    ) -> Vec<Arc<Subchannel>> {
        let mut old = std::mem::take(&mut self.subchannels).to_vec();
        if policy != self.policy {
            old.drain(..).for_each(|subchannel| subchannel.remove());
        }
        let (subchannels, start) = match &policy {
            LbPolicy::RoundRobin => round_robin::update(old, addresses, parent),
            LbPolicy::PickFirst {
                shuffle_address_list,
            } => pick_first::update(old, addresses, *shuffle_address_list, parent),
        };
        self.policy = policy;
        self.subchannels = subchannels.into();
        self.resolved = true;
        self.resolution_error = None;
        start
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            policy: self.policy.clone(),
            subchannels: Arc::clone(&self.subchannels),
            resolved: self.resolved,
            resolution_error: self.resolution_error.clone(),
        }
    }

    /// Drops every subchannel (the channel closed).
    pub(crate) fn shutdown(&mut self) {
        std::mem::take(&mut self.subchannels)
            .iter()
            .for_each(|subchannel| subchannel.remove());
    }
}

impl Snapshot {
    /// Chooses a subchannel for a call (`counter` spreads round-robin picks).
    pub(crate) fn pick(&self, counter: &AtomicUsize) -> Pick {
        if self.subchannels.is_empty() {
            return match &self.resolution_error {
                Some(error) if self.resolved => Pick::Fail(error.clone()),
                _ => Pick::Queue,
            };
        }
        match self.policy {
            LbPolicy::RoundRobin => round_robin::pick(&self.subchannels, counter),
            LbPolicy::PickFirst { .. } => pick_first::pick(&self.subchannels),
        }
    }

    /// The channel's connectivity, aggregated as gRPC does: Ready if any
    /// subchannel is, else Connecting if any is, else Idle if any is,
    /// else TransientFailure.
    pub(crate) fn connectivity(&self) -> ChannelConnectivity {
        if self.subchannels.is_empty() {
            return match (self.resolved, &self.resolution_error) {
                (_, Some(_)) => ChannelConnectivity::TransientFailure,
                (true, None) => ChannelConnectivity::TransientFailure,
                (false, None) => ChannelConnectivity::Idle,
            };
        }
        let states: Vec<_> = self.subchannels.iter().map(|s| s.connectivity()).collect();
        [
            ChannelConnectivity::Ready,
            ChannelConnectivity::Connecting,
            ChannelConnectivity::Idle,
        ]
        .into_iter()
        .find(|wanted| states.contains(wanted))
        .unwrap_or(ChannelConnectivity::TransientFailure)
    }

    /// Subchannels that should reconnect now (round_robin keeps every
    /// address connected; pick_first waits for the next call).
    pub(crate) fn to_reconnect(&self) -> Vec<Arc<Subchannel>> {
        match self.policy {
            LbPolicy::RoundRobin => self
                .subchannels
                .iter()
                .filter(|s| s.connectivity() == ChannelConnectivity::Idle)
                .cloned()
                .collect(),
            LbPolicy::PickFirst { .. } => Vec::new(),
        }
    }

    /// Every subchannel.
    pub(crate) fn subchannels(&self) -> &[Arc<Subchannel>] {
        &self.subchannels
    }
}

/// The pick for a subchannel in `state`, if it can take the call.
fn ready(subchannel: &Arc<Subchannel>) -> Option<Pick> {
    match &*subchannel.state.borrow() {
        ConnState::Ready { sender, wire, .. } => Some(Pick::Ready {
            subchannel: Arc::clone(subchannel),
            sender: sender.clone(),
            goaway: wire.last_stream_id.clone(),
        }),
        _ => None,
    }
}

/// Whether a subchannel has a connection for new calls.
fn is_ready(subchannel: &Subchannel) -> bool {
    matches!(&*subchannel.state.borrow(), ConnState::Ready { .. })
}

/// The error of a subchannel in transient failure.
fn failure(subchannel: &Subchannel) -> Option<Status> {
    match &*subchannel.state.borrow() {
        ConnState::TransientFailure { error, .. } => Some(error.clone()),
        _ => None,
    }
}

impl Snapshot {
    /// Starts the connections the policy wants when leaving idle: the
    /// pick_first subchannel, or every round_robin one.
    pub(crate) fn exit_idle(&self) {
        let idle = self
            .subchannels
            .iter()
            .filter(|s| s.connectivity() == ChannelConnectivity::Idle);
        match self.policy {
            LbPolicy::RoundRobin => idle.for_each(|s| s.start_connect()),
            LbPolicy::PickFirst { .. } => {
                if let Some(first) = idle.take(1).next() {
                    first.start_connect();
                }
            }
        }
    }
}
