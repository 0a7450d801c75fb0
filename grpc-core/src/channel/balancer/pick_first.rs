//! `pick_first`: one subchannel over the whole address list; each
//! connection attempt tries the addresses in order and keeps the first
//! that answers, and all calls use it.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Pick, failure, ready};
use crate::channel::ChannelConnectivity;
use crate::channel::ChannelInner;
use crate::channel::resolver::ResolvedAddress;
use crate::channel::subchannel::Subchannel;

pub(super) fn update(
    old: Vec<Arc<Subchannel>>,
    mut addresses: Vec<ResolvedAddress>,
    shuffle: bool,
    parent: &Arc<ChannelInner>,
) -> (Vec<Arc<Subchannel>>, Vec<Arc<Subchannel>>) {
    if addresses.is_empty() {
        old.iter().for_each(|subchannel| subchannel.remove());
        return (Vec::new(), Vec::new());
    }
    let wanted: HashSet<&ResolvedAddress> = addresses.iter().collect();
    if let [current] = old.as_slice()
        && current.addresses.iter().collect::<HashSet<_>>() == wanted
    {
        return (old, Vec::new());
    }
    // Connect at once when the channel was in use; lazily otherwise.
    let was_active = old
        .iter()
        .any(|subchannel| subchannel.connectivity() != ChannelConnectivity::Idle);
    old.iter().for_each(|subchannel| subchannel.remove());
    if shuffle {
        crate::channel::random::shuffle(&mut addresses);
    }
    let subchannel = Subchannel::new(addresses, parent);
    let start = if was_active {
        vec![Arc::clone(&subchannel)]
    } else {
        Vec::new()
    };
    (vec![subchannel], start)
}

pub(super) fn pick(subchannels: &[Arc<Subchannel>]) -> Pick {
    let Some(subchannel) = subchannels.first() else {
        return Pick::Queue;
    };
    if let Some(pick) = ready(subchannel) {
        return pick;
    }
    match subchannel.connectivity() {
        ChannelConnectivity::Idle => {
            subchannel.start_connect();
            Pick::Queue
        }
        ChannelConnectivity::TransientFailure => {
            failure(subchannel).map_or(Pick::Queue, Pick::Fail)
        }
        _ => Pick::Queue,
    }
}
