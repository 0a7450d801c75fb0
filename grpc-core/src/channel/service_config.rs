//! The service config, in the JSON format gRPC documents
//! (<https://github.com/grpc/grpc/blob/master/doc/service_config.md>):
//! the load-balancing policy, per-method timeouts, wait-for-ready, message
//! limits, retry and hedging policies, and retry throttling.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::balancer::LbPolicy;
use crate::error::{Error, Kind};
use crate::status::Code;

/// A parsed service config.
///
/// ```
/// let config = grpc_core::ServiceConfig::from_json(r#"{
///   "loadBalancingConfig": [{"round_robin": {}}],
///   "methodConfig": [{
///     "name": [{"service": "demo.Echo"}],
///     "timeout": "2.5s",
///     "retryPolicy": {
///       "maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
///       "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
///     }
///   }]
/// }"#)?;
/// let echo = config.method("/demo.Echo/Echo").unwrap();
/// assert_eq!(echo.timeout, Some(std::time::Duration::from_millis(2500)));
/// assert_eq!(echo.retry_policy.as_ref().unwrap().max_attempts, 3);
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServiceConfig {
    lb_policy: Option<LbPolicy>,
    /// By service, then method; `""` matches any.
    methods: HashMap<String, HashMap<String, Arc<MethodConfig>>>,
    retry_throttling: Option<RetryThrottling>,
}

/// The settings of one `methodConfig` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MethodConfig {
    /// The longest a call may take (the call's own timeout wins when shorter).
    pub timeout: Option<Duration>,
    /// Calls wait for a connection instead of failing fast, unless the
    /// call sets it.
    pub wait_for_ready: Option<bool>,
    /// Largest request message (the smaller of this and the channel's limit).
    pub max_request_message_bytes: Option<usize>,
    /// Largest response message (the smaller of this and the channel's limit).
    pub max_response_message_bytes: Option<usize>,
    /// Retries of failed attempts.
    pub retry_policy: Option<RetryPolicy>,
    /// Parallel attempts.
    pub hedging_policy: Option<HedgingPolicy>,
}

/// `retryPolicy`: attempts after failures with a retryable status.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (2..=5; larger values are capped at 5).
    pub max_attempts: u32,
    /// Upper bound of the first randomized backoff.
    pub initial_backoff: Duration,
    /// Cap of the backoff.
    pub max_backoff: Duration,
    /// Growth of the backoff bound per attempt.
    pub backoff_multiplier: f64,
    /// The statuses that are retried.
    pub retryable_status_codes: Vec<Code>,
}

/// `hedgingPolicy`: attempts started in parallel, `hedging_delay` apart.
#[derive(Clone, Debug, PartialEq)]
pub struct HedgingPolicy {
    /// Attempts in all, the first included (2..=5; larger values are capped at 5).
    pub max_attempts: u32,
    /// Time between the start of one attempt and the next.
    pub hedging_delay: Duration,
    /// Statuses after which the remaining attempts continue; any other ends the call.
    pub non_fatal_status_codes: Vec<Code>,
}

/// `retryThrottling`: a per-channel token bucket that stops retries and
/// hedges while most calls fail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryThrottling {
    /// Tokens in a full bucket (1..=1000); retries stop at half of it.
    pub max_tokens: u32,
    /// Tokens a successful call returns (each failure takes one).
    pub token_ratio: f64,
}

/// The most attempts any policy may make.
const MAX_ATTEMPTS_CAP: u32 = 5;

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::new(
        Kind::InvalidArgument,
        format!("invalid service config: {what}"),
    )
}

impl ServiceConfig {
    /// Parses a service config; anything malformed is an error naming it.
    pub fn from_json(json: &str) -> Result<ServiceConfig, Error> {
        let value: Value =
            serde_json::from_str(json).map_err(|error| invalid(format!("not JSON: {error}")))?;
        let Value::Object(root) = value else {
            return Err(invalid("the top level must be an object"));
        };
        let mut config = ServiceConfig {
            lb_policy: lb_policy(&root)?,
            ..ServiceConfig::default()
        };
        if let Some(throttling) = root.get("retryThrottling") {
            config.retry_throttling = Some(retry_throttling(throttling)?);
        }
        for entry in array(&root, "methodConfig")? {
            let method = Arc::new(method_config(entry)?);
            for name in array(object(entry, "methodConfig entry")?, "name")? {
                let (service, name) = method_name(name)?;
                let methods = config.methods.entry(service.clone()).or_default();
                if methods.insert(name.clone(), Arc::clone(&method)).is_some() {
                    return Err(invalid(format!(
                        "duplicate methodConfig name {service}/{name}"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// The config for a method path (`/package.Service/Method`): its own
    /// entry, else its service's, else the default (`{}` name) one.
    pub fn method(&self, path: &str) -> Option<&MethodConfig> {
        self.method_shared(path).map(|config| &**config)
    }

    /// [`method`](Self::method), shared (no allocation on the call path).
    pub(crate) fn method_shared(&self, path: &str) -> Option<&Arc<MethodConfig>> {
        if self.methods.is_empty() {
            return None;
        }
        let (service, method) = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .unwrap_or(("", ""));
        [(service, method), (service, ""), ("", "")]
            .into_iter()
            .find_map(|(s, m)| self.methods.get(s)?.get(m))
    }

    /// The load-balancing policy it selects, if any.
    pub fn lb_policy(&self) -> Option<&LbPolicy> {
        self.lb_policy.as_ref()
    }

    /// Its retry throttling, if any.
    pub fn retry_throttling(&self) -> Option<RetryThrottling> {
        self.retry_throttling
    }
}

impl std::str::FromStr for ServiceConfig {
    type Err = Error;

    fn from_str(json: &str) -> Result<ServiceConfig, Error> {
        ServiceConfig::from_json(json)
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| invalid(format!("{what} must be an object")))
}

fn array<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], Error> {
    match map.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("{key} must be an array"))),
    }
}

/// `loadBalancingConfig` (the first policy we know) or the older
/// `loadBalancingPolicy` name.
fn lb_policy(root: &Map<String, Value>) -> Result<Option<LbPolicy>, Error> {
    let configs = array(root, "loadBalancingConfig")?;
    if !configs.is_empty() {
        for entry in configs {
            let entry = object(entry, "loadBalancingConfig entry")?;
            for (name, settings) in entry {
                if let Some(policy) = LbPolicy::from_config(name, settings) {
                    return Ok(Some(policy));
                }
            }
        }
        return Err(invalid("loadBalancingConfig names no supported policy"));
    }
    match root.get("loadBalancingPolicy") {
        None => Ok(None),
        Some(Value::String(name)) => LbPolicy::from_name(&name.to_ascii_lowercase())
            .map(Some)
            .ok_or_else(|| invalid(format!("unknown loadBalancingPolicy {name:?}"))),
        Some(_) => Err(invalid("loadBalancingPolicy must be a string")),
    }
}

fn method_name(name: &Value) -> Result<(String, String), Error> {
    let name = object(name, "a methodConfig name")?;
    let text = |key: &str| match name.get(key) {
        None => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid(format!("name.{key} must be a string"))),
    };
    let (service, method) = (text("service")?, text("method")?);
    if service.is_empty() && !method.is_empty() {
        return Err(invalid(format!(
            "name with method {method:?} but no service"
        )));
    }
    Ok((service, method))
}

fn method_config(entry: &Value) -> Result<MethodConfig, Error> {
    let entry = object(entry, "a methodConfig entry")?;
    let config = MethodConfig {
        timeout: entry
            .get("timeout")
            .map(|v| duration(v, "timeout"))
            .transpose()?,
        wait_for_ready: match entry.get("waitForReady") {
            None => None,
            Some(Value::Bool(wait)) => Some(*wait),
            Some(_) => return Err(invalid("waitForReady must be a boolean")),
        },
        max_request_message_bytes: size(entry, "maxRequestMessageBytes")?,
        max_response_message_bytes: size(entry, "maxResponseMessageBytes")?,
        retry_policy: entry.get("retryPolicy").map(retry_policy).transpose()?,
        hedging_policy: entry.get("hedgingPolicy").map(hedging_policy).transpose()?,
    };
    if config.retry_policy.is_some() && config.hedging_policy.is_some() {
        return Err(invalid(
            "a methodConfig may have a retryPolicy or a hedgingPolicy, not both",
        ));
    }
    Ok(config)
}

fn retry_policy(value: &Value) -> Result<RetryPolicy, Error> {
    let policy = object(value, "retryPolicy")?;
    let field = |key: &str| {
        policy
            .get(key)
            .ok_or_else(|| invalid(format!("retryPolicy.{key} is required")))
    };
    let initial_backoff = duration(field("initialBackoff")?, "retryPolicy.initialBackoff")?;
    let max_backoff = duration(field("maxBackoff")?, "retryPolicy.maxBackoff")?;
    if initial_backoff.is_zero() || max_backoff.is_zero() {
        return Err(invalid("retryPolicy backoffs must be greater than zero"));
    }
    let backoff_multiplier = field("backoffMultiplier")?
        .as_f64()
        .filter(|m| *m > 0.0 && m.is_finite())
        .ok_or_else(|| invalid("retryPolicy.backoffMultiplier must be a number > 0"))?;
    let retryable_status_codes = codes(field("retryableStatusCodes")?, "retryableStatusCodes")?;
    if retryable_status_codes.is_empty() {
        return Err(invalid(
            "retryPolicy.retryableStatusCodes must not be empty",
        ));
    }
    Ok(RetryPolicy {
        max_attempts: attempts(field("maxAttempts")?, "retryPolicy")?,
        initial_backoff,
        max_backoff,
        backoff_multiplier,
        retryable_status_codes,
    })
}

fn hedging_policy(value: &Value) -> Result<HedgingPolicy, Error> {
    let policy = object(value, "hedgingPolicy")?;
    let max_attempts = policy
        .get("maxAttempts")
        .ok_or_else(|| invalid("hedgingPolicy.maxAttempts is required"))?;
    Ok(HedgingPolicy {
        max_attempts: attempts(max_attempts, "hedgingPolicy")?,
        hedging_delay: policy
            .get("hedgingDelay")
            .map(|v| duration(v, "hedgingPolicy.hedgingDelay"))
            .transpose()?
            .unwrap_or_default(),
        non_fatal_status_codes: policy
            .get("nonFatalStatusCodes")
            .map(|v| codes(v, "nonFatalStatusCodes"))
            .transpose()?
            .unwrap_or_default(),
    })
}

fn retry_throttling(value: &Value) -> Result<RetryThrottling, Error> {
    let throttling = object(value, "retryThrottling")?;
    let max_tokens = throttling
        .get("maxTokens")
        .and_then(Value::as_u64)
        .filter(|tokens| (1..=1000).contains(tokens))
        .ok_or_else(|| invalid("retryThrottling.maxTokens must be an integer in 1..=1000"))?;
    let token_ratio = throttling
        .get("tokenRatio")
        .and_then(Value::as_f64)
        .filter(|ratio| *ratio > 0.0 && ratio.is_finite())
        .ok_or_else(|| invalid("retryThrottling.tokenRatio must be a number > 0"))?;
    Ok(RetryThrottling {
        max_tokens: max_tokens as u32,
        // Only three decimal places count (as in the gRPC spec).
        token_ratio: (token_ratio * 1000.0).trunc() / 1000.0,
    })
}

fn attempts(value: &Value, what: &str) -> Result<u32, Error> {
    let attempts = value
        .as_u64()
        .filter(|attempts| *attempts >= 2)
        .ok_or_else(|| invalid(format!("{what}.maxAttempts must be an integer >= 2")))?;
    Ok(attempts.min(u64::from(MAX_ATTEMPTS_CAP)) as u32)
}

fn size(entry: &Map<String, Value>, key: &str) -> Result<Option<usize>, Error> {
    match entry.get(key) {
        None => Ok(None),
        // Protobuf JSON writes 64-bit integers as strings.
        Some(Value::String(text)) => text
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{key} must be a non-negative integer"))),
        Some(value) => value
            .as_u64()
            .map(|bytes| Some(usize::try_from(bytes).unwrap_or(usize::MAX)))
            .ok_or_else(|| invalid(format!("{key} must be a non-negative integer"))),
    }
}

/// Status codes by name (`"UNAVAILABLE"`) or number.
fn codes(value: &Value, what: &str) -> Result<Vec<Code>, Error> {
    let Value::Array(items) = value else {
        return Err(invalid(format!("{what} must be an array")));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(name) => Code::from_name(&name.to_ascii_uppercase())
                .filter(|code| *code != Code::Ok)
                .ok_or_else(|| invalid(format!("{what}: unknown status code {name:?}"))),
            Value::Number(number) => number
                .as_u64()
                .filter(|n| (1..=16).contains(n))
                .map(|n| Code::from_i32(n as i32))
                .ok_or_else(|| invalid(format!("{what}: bad status code {number}"))),
            _ => Err(invalid(format!("{what} must hold names or numbers"))),
        })
        .collect()
}

/// A protobuf JSON duration: `"1.5s"`, `"0.000001s"`, `"10s"`.
fn duration(value: &Value, what: &str) -> Result<Duration, Error> {
    let bad = || invalid(format!("{what} must be a duration like \"1.5s\""));
    let text = value
        .as_str()
        .and_then(|t| t.strip_suffix('s'))
        .ok_or_else(bad)?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let seconds: u64 = whole.parse().map_err(|_| bad())?;
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    Ok(Duration::new(seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_matching_prefers_the_most_specific_entry() {
        let config = ServiceConfig::from_json(
            r#"{"methodConfig": [
                {"name": [{"service": "s.A", "method": "M"}], "timeout": "1s"},
                {"name": [{"service": "s.A"}], "timeout": "2s"},
                {"name": [{}], "timeout": "3s", "waitForReady": true}
            ]}"#,
        )
        .unwrap();
        let timeout = |path| config.method(path).unwrap().timeout.unwrap().as_secs();
        assert_eq!(timeout("/s.A/M"), 1);
        assert_eq!(timeout("/s.A/N"), 2);
        assert_eq!(timeout("/s.B/M"), 3);
        assert_eq!(config.method("/s.B/M").unwrap().wait_for_ready, Some(true));
    }

    #[test]
    fn policies_parse_with_their_limits() {
        let config = ServiceConfig::from_json(
            r#"{"loadBalancingPolicy": "ROUND_ROBIN",
                "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.12345},
                "methodConfig": [{"name": [{"service": "s"}],
                  "maxRequestMessageBytes": "1024", "maxResponseMessageBytes": 2048,
                  "hedgingPolicy": {"maxAttempts": 9, "hedgingDelay": "0.25s",
                                    "nonFatalStatusCodes": ["UNAVAILABLE", 4]}}]}"#,
        )
        .unwrap();
        assert_eq!(config.lb_policy(), Some(&LbPolicy::RoundRobin));
        assert_eq!(config.retry_throttling().unwrap().token_ratio, 0.123);
        let method = config.method("/s/x").unwrap();
        assert_eq!(method.max_request_message_bytes, Some(1024));
        assert_eq!(method.max_response_message_bytes, Some(2048));
        let hedging = method.hedging_policy.as_ref().unwrap();
        assert_eq!(hedging.max_attempts, 5);
        assert_eq!(hedging.hedging_delay, Duration::from_millis(250));
        assert_eq!(
            hedging.non_fatal_status_codes,
            [Code::Unavailable, Code::DeadlineExceeded]
        );
    }

    #[test]
    fn malformed_configs_are_clear_errors() {
        for (json, needle) in [
            ("[]", "top level"),
            ("{", "not JSON"),
            (
                r#"{"methodConfig": [{"name": [{}], "timeout": "1m"}]}"#,
                "timeout",
            ),
            (
                r#"{"methodConfig": [{"name": [{"method": "M"}]}]}"#,
                "no service",
            ),
            (
                r#"{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 1}}]}"#,
                "required",
            ),
            (
                r#"{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2,
                  "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2,
                  "retryableStatusCodes": ["NOPE"]}}]}"#,
                "unknown status code",
            ),
            (
                r#"{"loadBalancingConfig": [{"grpclb": {}}]}"#,
                "no supported",
            ),
            (
                r#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#,
                "maxTokens",
            ),
            (
                r#"{"methodConfig": [{"name": [{}]}, {"name": [{}]}]}"#,
                "duplicate",
            ),
        ] {
            let error = ServiceConfig::from_json(json).unwrap_err();
            assert!(error.is_invalid_argument(), "{json}");
            assert!(error.to_string().contains(needle), "{json}: {error}");
        }
    }

    #[test]
    fn durations() {
        let d = |text: &str| duration(&Value::String(text.into()), "t");
        assert_eq!(d("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(d("0.000001s").unwrap(), Duration::from_micros(1));
        assert_eq!(d("10s").unwrap(), Duration::from_secs(10));
        assert!(d("s").is_err() && d("-1s").is_err() && d("1.5").is_err());
    }
}
