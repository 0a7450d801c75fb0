//! The rustgrpc benchmark: the same proto, handler work and message sizes
//! served and called by rustgrpc, tonic and (for the unary server rows)
//! Python's grpcio, measured side by side in one run.
//!
//! The `bench` binary is the one command (see `docs/BENCHMARKS.md`); it also
//! serves as its own child processes (`bench server`, `bench client`,
//! `bench idle`), so one `cargo run --bin bench` always runs fresh code.
//! `bench-alloc` counts heap allocations per unary call with a counting
//! global allocator, kept out of the throughput runs. `soak` runs every
//! RPC shape on both faces for a long time and checks every message.

pub mod args;
pub mod clients;
pub mod h2load;
pub mod pb;
pub mod peers;
pub mod proc;
pub mod servers;
pub mod soak;
pub mod table;

/// Picks the percentile `q` (0..=1) of sorted `values`, or 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64) * q).floor() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_pick_by_rank() {
        let values: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&values, 0.5), 501);
        assert_eq!(percentile(&values, 0.99), 991);
        assert_eq!(percentile(&values, 0.999), 1000);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
