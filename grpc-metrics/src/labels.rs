//! Label sets: `grpc.method`, `grpc.target` and `grpc.status`, written
//! `grpc_method`, `grpc_target` and `grpc_status` in Prometheus.

use prometheus_client::encoding::EncodeLabelSet;

/// The `grpc.method` label: the full method name without the leading
/// slash (`helloworld.Greeter/SayHello`), or `other` for a method the
/// server does not know (so a scanner cannot blow up the label set).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MethodLabel(String);

impl MethodLabel {
    /// A registered (generated) method, from its path
    /// (`/helloworld.Greeter/SayHello` or `helloworld.Greeter/SayHello`).
    ///
    /// ```
    /// use grpc_metrics::MethodLabel;
    /// let method = MethodLabel::registered("/helloworld.Greeter/SayHello");
    /// assert_eq!(method.as_str(), "helloworld.Greeter/SayHello");
    /// assert_eq!(MethodLabel::other().as_str(), "other");
    /// ```
    pub fn registered(path: &str) -> MethodLabel {
        MethodLabel(path.strip_prefix('/').unwrap_or(path).to_owned())
    }

    /// `other`: a method that is not registered (generic handlers,
    /// unknown paths).
    pub fn other() -> MethodLabel {
        MethodLabel("other".to_owned())
    }

    /// The label value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ServerStarted {
    pub(crate) grpc_method: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ServerEnded {
    pub(crate) grpc_method: String,
    pub(crate) grpc_status: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ClientStarted {
    pub(crate) grpc_method: String,
    pub(crate) grpc_target: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ClientEnded {
    pub(crate) grpc_method: String,
    pub(crate) grpc_target: String,
    pub(crate) grpc_status: &'static str,
}
