//! Drives `h2load` (Debian's `nghttp2-client`) with a pre-encoded gRPC
//! request and reads back its counts and, from `--log-file`, per-request
//! latencies.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What one h2load run reported.
#[derive(Debug, Default)]
pub struct H2loadResult {
    /// Requests that got a 2xx response.
    pub succeeded: u64,
    /// Requests that failed or errored.
    pub failed: u64,
    /// The run's length ("finished in"), seconds.
    pub secs: f64,
    /// DATA payload bytes received (gRPC frames).
    pub data_bytes: u64,
    /// Per-request latencies in microseconds, sorted.
    pub latencies_us: Vec<u64>,
}

/// True if `h2load` can be run.
pub fn available() -> bool {
    Command::new("h2load")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The gRPC request body: the 5-byte message prefix and `message`.
pub fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// One h2load run: `conns` connections to `http://127.0.0.1:port{path}`,
/// each with up to `streams` requests in flight, each request's body read
/// from `body_file`.
#[derive(Clone, Debug)]
pub struct H2load<'a> {
    /// Prefix of the command line, e.g. `taskset -c 1`; empty for none.
    pub pin: &'a [String],
    /// Server port on 127.0.0.1.
    pub port: u16,
    /// Request path.
    pub path: &'a str,
    /// The pre-encoded request body.
    pub body_file: &'a Path,
    /// Connections.
    pub conns: usize,
    /// Requests in flight per connection.
    pub streams: usize,
}

/// Runs `load` for `duration`; with `log_file`, reads per-request latencies.
pub fn run(
    load: &H2load<'_>,
    duration: Duration,
    log_file: Option<&Path>,
) -> Result<H2loadResult, String> {
    let (program, prefix) = match load.pin.split_first() {
        Some((program, rest)) => (program.as_str(), rest.to_vec()),
        None => ("h2load", Vec::new()),
    };
    let mut command = Command::new(program);
    command.args(prefix);
    if !load.pin.is_empty() {
        command.arg("h2load");
    }
    // -D takes whole seconds, or a number with a unit suffix.
    let millis = duration.as_millis().max(1);
    command
        .arg("-t1")
        .arg(format!("-c{}", load.conns))
        .arg(format!("-m{}", load.streams))
        .arg(format!("-D{millis}ms"))
        .arg("-d")
        .arg(load.body_file)
        .args(["-H", "content-type: application/grpc"])
        .args(["-H", "te: trailers"]);
    if let Some(log) = log_file {
        command.arg("--log-file").arg(log);
    }
    command.arg(format!("http://127.0.0.1:{}{}", load.port, load.path));
    let output = command
        .output()
        .map_err(|error| format!("cannot run h2load: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "h2load failed: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut result = parse(&text)?;
    if let Some(log) = log_file {
        let log = std::fs::read_to_string(log).map_err(|e| format!("h2load log: {e}"))?;
        result.latencies_us = log
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let _start = fields.next()?;
                let status: u32 = fields.next()?.trim().parse().ok()?;
                let micros: u64 = fields.next()?.trim().parse().ok()?;
                (200..300).contains(&status).then_some(micros)
            })
            .collect();
        result.latencies_us.sort_unstable();
    }
    Ok(result)
}

/// Parses h2load's summary.
pub fn parse(text: &str) -> Result<H2loadResult, String> {
    let mut result = H2loadResult::default();
    let mut seen = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("finished in ") {
            let secs = rest.split(',').next().unwrap_or("");
            result.secs = parse_duration(secs).ok_or_else(|| format!("bad line {line:?}"))?;
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            seen = true;
            for part in rest.split(',') {
                let mut words = part.split_whitespace();
                let (Some(count), Some(what)) = (words.next(), words.next()) else {
                    continue;
                };
                let count: u64 = count.parse().unwrap_or(0);
                match what {
                    "succeeded" => result.succeeded = count,
                    "failed" | "errored" => result.failed += count,
                    _ => {}
                }
            }
        } else if let Some(rest) = line.strip_prefix("traffic: ") {
            // "... , 2.96MB (3103545) data"
            if let Some(part) = rest
                .split(',')
                .find(|part| part.trim_end().ends_with("data"))
            {
                result.data_bytes = part
                    .split('(')
                    .nth(1)
                    .and_then(|p| p.split(')').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    if !seen || result.secs <= 0.0 {
        return Err(format!("cannot read h2load's output:\n{text}"));
    }
    Ok(result)
}

fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse::<f64>().ok().map(|ms| ms / 1000.0);
    }
    if let Some(us) = text.strip_suffix("us") {
        return us.parse::<f64>().ok().map(|us| us / 1e6);
    }
    text.strip_suffix('s')?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_a_summary() {
        let text = "\
finished in 5.00s, 41380.60 req/s, 2.33MB/s
requests: 206903 total, 207159 started, 206903 done, 206900 succeeded, 2 failed, 1 errored, 0 timeout
status codes: 206903 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 11.64MB (12205327) total, 1.19MB (1241418) headers (space savings 95.18%), 2.96MB (3103545) data
";
        let result = super::parse(text).unwrap();
        assert_eq!(result.succeeded, 206900);
        assert_eq!(result.failed, 3);
        assert_eq!(result.data_bytes, 3103545);
        assert!((result.secs - 5.0).abs() < 1e-9);
    }

    #[test]
    fn frames_a_message() {
        assert_eq!(super::grpc_frame(b"ab"), [0, 0, 0, 0, 2, b'a', b'b']);
    }
}
