//! Options shared by every code path that generates service code.

/// Which halves of a service to generate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Emit {
    /// Only the client stub (`FooStub`) and the method-path module.
    Client,
    /// Only the servicer trait (`FooServicer`), its registration function
    /// and the method-path module.
    Server,
    /// Client and server code (the default).
    #[default]
    Both,
}

impl Emit {
    /// Whether client code is generated.
    pub fn includes_client(self) -> bool {
        matches!(self, Self::Client | Self::Both)
    }

    /// Whether server code is generated.
    pub fn includes_server(self) -> bool {
        matches!(self, Self::Server | Self::Both)
    }
}

/// Options for turning one service into Rust code.
///
/// Used by [`generate_service`](crate::generate_service), the
/// [`ServiceGenerator`](crate::ServiceGenerator), the
/// [`Builder`](crate::Builder) and the protoc plugin alike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodegenOptions {
    emit: Emit,
}

impl CodegenOptions {
    /// Default options: client and server code.
    pub fn new() -> Self {
        Self::default()
    }

    /// Chooses which halves of each service to generate.
    #[must_use]
    pub fn emit(mut self, emit: Emit) -> Self {
        self.emit = emit;
        self
    }

    /// Which halves of each service are generated.
    pub fn emitted(&self) -> Emit {
        self.emit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_halves() {
        assert!(Emit::Both.includes_client() && Emit::Both.includes_server());
        assert!(Emit::Client.includes_client() && !Emit::Client.includes_server());
        assert!(!Emit::Server.includes_client() && Emit::Server.includes_server());
        assert_eq!(CodegenOptions::new().emitted(), Emit::Both);
        assert_eq!(
            CodegenOptions::new().emit(Emit::Server).emitted(),
            Emit::Server
        );
    }
}
