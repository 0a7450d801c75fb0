//! Turning on logs without code changes, as grpcio's `GRPC_TRACE` and
//! `GRPC_VERBOSITY` do.
//!
//! - `GRPC_TRACE`: comma-separated areas to log at DEBUG (TRACE with
//!   `GRPC_VERBOSITY=TRACE`): `channel` (connections, reconnects), `call`
//!   (client calls and server RPCs: method, peer, status, duration),
//!   `server` (accepting, workers, stop), `transport` (HTTP/2 and sockets,
//!   including h2's frame logs), or `all`.
//! - `GRPC_VERBOSITY`: `DEBUG`, `INFO` or `ERROR` — the level for everything
//!   else from rustgrpc (default `ERROR` when only `GRPC_TRACE` is set).
//!
//! The logs go to stderr through a `tracing` subscriber installed on first
//! use of a channel or server, unless the application installed its own
//! (then it receives the same events: rustgrpc always emits them).

use std::sync::OnceLock;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Names of the environment variables, as in grpcio.
pub const TRACE_ENV: &str = "GRPC_TRACE";
/// See [`TRACE_ENV`].
pub const VERBOSITY_ENV: &str = "GRPC_VERBOSITY";

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs the stderr logger if `GRPC_TRACE` or `GRPC_VERBOSITY` asks for it.
pub(crate) fn init_from_env() {
    INSTALLED.get_or_init(|| {
        let trace = std::env::var(TRACE_ENV).ok();
        let verbosity = std::env::var(VERBOSITY_ENV).ok();
        if trace.is_none() && verbosity.is_none() {
            return;
        }
        let targets = targets(trace.as_deref().unwrap_or(""), verbosity.as_deref());
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            )
            .with(targets)
            .try_init();
    });
}

fn parse_level(verbosity: Option<&str>) -> Option<Level> {
    match verbosity?.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" | "WARNING" => Some(Level::WARN),
        "ERROR" => Some(Level::ERROR),
        _ => None,
    }
}

/// The per-target levels for a `GRPC_TRACE` list and a verbosity.
fn targets(trace: &str, verbosity: Option<&str>) -> Targets {
    let base = parse_level(verbosity).unwrap_or(Level::ERROR);
    let traced = match parse_level(verbosity) {
        Some(Level::TRACE) => Level::TRACE,
        _ => Level::DEBUG,
    };
    let mut targets = Targets::new().with_target("grpc_core", base);
    for area in trace.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let modules: &[&str] = match area {
            "all" => &["grpc_core", "h2"],
            "channel" => &["grpc_core::channel"],
            "call" | "api" => &["grpc_core::client", "grpc_core::server::rpc"],
            "server" => &["grpc_core::server"],
            "transport" | "http" => &[
                "grpc_core::transport",
                "grpc_core::server::connection",
                "h2",
            ],
            _ => &[],
        };
        for module in modules {
            targets = targets.with_target(*module, traced);
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn areas_map_to_targets() {
        let t = targets("call, transport", Some("INFO"));
        let level = |target: &str| {
            t.iter()
                .find(|(name, _)| *name == target)
                .map(|(_, level)| level)
        };
        assert_eq!(level("grpc_core"), Some(LevelFilter::INFO));
        assert_eq!(level("grpc_core::client"), Some(LevelFilter::DEBUG));
        assert_eq!(level("h2"), Some(LevelFilter::DEBUG));
        assert_eq!(level("grpc_core::channel"), None);
        let all = targets("all", Some("trace"));
        assert!(
            all.iter()
                .any(|(name, level)| name == "h2" && level == LevelFilter::TRACE)
        );
    }
}
