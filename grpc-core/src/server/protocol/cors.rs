//! CORS for browser clients: preflight answers and the headers that let a
//! page on another origin send Connect / gRPC-Web requests and read the
//! responses (status, trailers and metadata headers included).

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

/// Which web origins may call the server from a browser.
///
/// The default allows every origin (`Access-Control-Allow-Origin: *`, no
/// credentials), which suits public APIs; list origins to restrict it, or
/// disable CORS to answer no preflight at all.
///
/// ```
/// use grpc_core::{Cors, Server};
/// let server = Server::builder()
///     .cors(Cors::allow_origins(["https://app.example.com"]))
///     .build();
/// # drop(server);
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Origins,
    max_age: Duration,
}

#[derive(Clone, Debug)]
enum Origins {
    Any,
    List(Vec<String>),
    Disabled,
}

/// Request headers Connect and gRPC-Web clients send, allowed when the
/// preflight does not name its own.
const ALLOWED_HEADERS: &str = "content-type,connect-protocol-version,connect-timeout-ms,\
connect-content-encoding,connect-accept-encoding,content-encoding,accept-encoding,\
grpc-timeout,grpc-encoding,grpc-accept-encoding,x-grpc-web,x-user-agent";

/// Response headers browsers may read whatever the response carries.
const EXPOSED_HEADERS: &str = "grpc-status,grpc-message,grpc-status-details-bin,grpc-encoding,\
grpc-accept-encoding,connect-content-encoding,connect-accept-encoding,content-encoding";

impl Default for Cors {
    fn default() -> Self {
        Cors::allow_any_origin()
    }
}

impl Cors {
    /// Every origin may call (the default).
    pub fn allow_any_origin() -> Cors {
        Cors {
            origins: Origins::Any,
            max_age: Duration::from_secs(7200),
        }
    }

    /// Only these origins (`https://host:port`, compared exactly) may call.
    pub fn allow_origins<S: Into<String>>(origins: impl IntoIterator<Item = S>) -> Cors {
        Cors {
            origins: Origins::List(origins.into_iter().map(Into::into).collect()),
            ..Cors::allow_any_origin()
        }
    }

    /// No CORS: preflights are refused and no CORS headers are sent, so
    /// browsers only call from the server's own origin.
    pub fn disabled() -> Cors {
        Cors {
            origins: Origins::Disabled,
            ..Cors::allow_any_origin()
        }
    }

    /// How long browsers may cache a preflight answer (default 2 hours).
    pub fn max_age(mut self, max_age: Duration) -> Cors {
        self.max_age = max_age;
        self
    }

    /// The `Access-Control-Allow-Origin` value for a request, if it comes
    /// from an allowed origin.
    pub(crate) fn allow_origin(&self, request: &HeaderMap) -> Option<HeaderValue> {
        let origin = request.get(header::ORIGIN)?;
        match &self.origins {
            Origins::Any => Some(HeaderValue::from_static("*")),
            Origins::List(list) => list
                .iter()
                .any(|allowed| allowed.as_bytes() == origin.as_bytes())
                .then(|| origin.clone()),
            Origins::Disabled => None,
        }
    }

    /// The answer to a preflight (`OPTIONS`) request.
    pub(crate) fn preflight(&self, request: &HeaderMap) -> Response<()> {
        let mut response = Response::new(());
        let Some(origin) = self.allow_origin(request) else {
            *response.status_mut() = StatusCode::FORBIDDEN;
            return response;
        };
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        self.vary(headers);
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, OPTIONS"),
        );
        let allowed = request
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age.as_secs()),
        );
        response
    }

    /// Adds the CORS headers to a response sent to `origin`: every header
    /// it carries is exposed, so metadata is readable too.
    pub(crate) fn decorate(&self, origin: &HeaderValue, response: &mut HeaderMap) {
        let mut exposed = EXPOSED_HEADERS.to_owned();
        for name in response.keys() {
            if !is_safelisted(name.as_str()) {
                exposed.push(',');
                exposed.push_str(name.as_str());
            }
        }
        self.vary(response);
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if let Ok(value) = HeaderValue::from_str(&exposed) {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }

    fn vary(&self, headers: &mut HeaderMap) {
        if let Origins::List(_) = self.origins {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// Response headers browsers expose without being told.
fn is_safelisted(name: &str) -> bool {
    matches!(
        name,
        "cache-control"
            | "content-language"
            | "content-length"
            | "content-type"
            | "expires"
            | "last-modified"
            | "pragma"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        headers
    }

    #[test]
    fn listed_origins_only() {
        let cors = Cors::allow_origins(["https://a.example"]);
        assert!(
            cors.allow_origin(&with_origin("https://a.example"))
                .is_some()
        );
        assert!(
            cors.allow_origin(&with_origin("https://b.example"))
                .is_none()
        );
        assert_eq!(
            cors.preflight(&with_origin("https://b.example")).status(),
            StatusCode::FORBIDDEN
        );
        assert!(
            Cors::disabled()
                .allow_origin(&with_origin("https://a.example"))
                .is_none()
        );
    }

    #[test]
    fn metadata_headers_are_exposed() {
        let mut response = HeaderMap::new();
        response.insert("x-custom", HeaderValue::from_static("1"));
        Cors::default().decorate(&HeaderValue::from_static("*"), &mut response);
        let exposed = response[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap();
        assert!(exposed.contains("x-custom") && exposed.contains("grpc-status"));
    }
}
