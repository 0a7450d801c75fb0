//! `round_robin`: a subchannel per address, all kept connected; calls go
//! to the ready ones in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Pick, failure, ready};
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
    let mut ready_ones: Vec<Pick> = subchannels.iter().filter_map(ready).collect();
    if !ready_ones.is_empty() {
        let index = counter.fetch_add(1, Ordering::Relaxed) % ready_ones.len();
        return ready_ones.swap_remove(index);
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
