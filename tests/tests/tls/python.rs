//! Python grpcio over TLS, both ways (placeholder, filled below).
