//! `round_robin`: a subchannel per address, all kept connected; calls go
//! to the ready ones in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Pick, failure, is_ready, ready};
use crate::channel::ChannelConnectivity;
use crate::channel::ChannelInner;
use crate::channel::resolver::ResolvedAddress;
use crate::channel::subchannel::Subchannel;

pub(super) fn update(
    mut old: Vec<Arc<Subchannel>>,
    addresses: Vec<ResolvedAddress>,
    parent: &Arc<ChannelInner>,
) -> (Vec<Arc<Subchannel>>, Vec<Arc<Subchannel>>) {
    let mut subchannels = Vec::with_capacity(addresses.len());
    let mut start = Vec::new();
    for address in addresses {
        let kept = old
            .iter()
            .position(|subchannel| subchannel.addresses == std::slice::from_ref(&address));
        match kept {
            Some(index) => subchannels.push(old.swap_remove(index)),
            None => {
                let subchannel = Subchannel::new(vec![address], parent);
                start.push(Arc::clone(&subchannel));
                subchannels.push(subchannel);
            }
        }
    }
    old.iter().for_each(|subchannel| subchannel.remove());
    (subchannels, start)
}

pub(super) fn pick(subchannels: &[Arc<Subchannel>], counter: &AtomicUsize) -> Pick {
    // The next of the ready ones, without a list or a sender clone per
    // ready subchannel; one that stopped being ready since it was counted
    // gives way to any ready one.
    let ready_count = subchannels.iter().filter(|s| is_ready(s)).count();
    if ready_count > 0 {
        let index = counter.fetch_add(1, Ordering::Relaxed) % ready_count;
        let chosen = subchannels.iter().filter(|s| is_ready(s)).nth(index);
        if let Some(pick) = chosen
            .and_then(ready)
            .or_else(|| subchannels.iter().find_map(ready))
        {
            return pick;
        }
    }
    let mut pending = false;
    for subchannel in subchannels {
        match subchannel.connectivity() {
            ChannelConnectivity::Idle => {
                subchannel.start_connect();
                pending = true;
            }
            ChannelConnectivity::Connecting => pending = true,
            _ => {}
        }
    }
    if pending {
        return Pick::Queue;
    }
    subchannels
        .iter()
        .find_map(|subchannel| failure(subchannel))
        .map_or(Pick::Queue, Pick::Fail)
}
