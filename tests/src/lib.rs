//! End-to-end test support for rustgrpc.
