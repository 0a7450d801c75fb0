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
//! rustgrpc always emits its events through `tracing`; it never installs a
//! subscriber by itself. An application that wants grpcio's variables to
//! work calls [`init_from_env`] once at startup: it installs a stderr
//! logger when they ask for one. An application with its own subscriber
//! does not call it and receives the same events.
//!
//! ```
//! // At the start of main, before building channels and servers; a no-op
//! // unless GRPC_TRACE or GRPC_VERBOSITY is set.
//! grpc_core::diagnostics::init_from_env();
//! ```

use std::sync::OnceLock;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Names of the environment variables, as in grpcio.
pub const TRACE_ENV: &str = "GRPC_TRACE";
/// See [`TRACE_ENV`].
pub const VERBOSITY_ENV: &str = "GRPC_VERBOSITY";

/// Whether the first call of [`init_from_env`] installed the logger.
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs a stderr logger as the global `tracing` subscriber when
/// `GRPC_TRACE` or `GRPC_VERBOSITY` asks for one, filtered as they say.
/// Returns true when that logger is installed (by this call or an earlier
/// one); false when neither variable is set or the application already has
/// a global subscriber (which then keeps receiving rustgrpc's events).
/// Only the first call looks at the environment.
pub fn init_from_env() -> bool {
    *INSTALLED.get_or_init(|| {
        let trace = std::env::var(TRACE_ENV).ok();
        let verbosity = std::env::var(VERBOSITY_ENV).ok();
        if trace.is_none() && verbosity.is_none() {
            return false;
        }
        let targets = targets(trace.as_deref().unwrap_or(""), verbosity.as_deref());
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            )
            .with(targets)
            .try_init()
            .is_ok()
    })
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
    // h2 at the same base level: its warnings say why a connection was
    // closed (e.g. which abuse limit a peer reached).
    let mut targets = Targets::new()
        .with_target("grpc_core", base)
        .with_target("h2", base);
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
        let quiet = targets("", Some("WARNING"));
        assert!(
            quiet
                .iter()
                .any(|(name, level)| name == "h2" && level == LevelFilter::WARN)
        );
        let all = targets("all", Some("trace"));
        assert!(
            all.iter()
                .any(|(name, level)| name == "h2" && level == LevelFilter::TRACE)
        );
    }
}
