//! HTTP/2 settings shared by channels and servers.

/// Flow-control and framing knobs for one side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Http2Settings {
    /// Initial per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE).
    pub(crate) stream_window: u32,
    /// Connection-level receive window.
    pub(crate) connection_window: u32,
    /// Largest frame payload we accept (SETTINGS_MAX_FRAME_SIZE).
    pub(crate) max_frame_size: u32,
    /// Largest header list we accept.
    pub(crate) max_header_list_size: u32,
    /// Streams a peer may open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
    /// sent by servers only.
    pub(crate) max_concurrent_streams: u32,
}

/// Streams one client connection may hold open on a server by default
/// (hyper's and tonic's value): each costs a task and up to one message
/// of buffered bytes.
pub(crate) const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 200;

/// Streams reset by the client before the server accepted them, at most.
const PENDING_ACCEPT_RESETS: usize = 100;

/// Streams this side reset that it remembers (for up to a second), so that
/// frames the peer had already sent for them are dropped quietly. h2
/// remembers 50; past that it answers each late frame with a reset of its
/// own and counts it against a limit for the connection's whole life
/// (1024), meant for peers that provoke resets on purpose. An honest peer
/// whose calls are cancelled or ended early by the thousands (each with
/// frames in flight) would reach it and lose the connection; remembering
/// more keeps such frames from counting at all. Each costs one stream
/// entry (a few hundred bytes) for at most a second.
const REMEMBERED_RESETS: usize = 1024;

/// Streams a client opens before it learns the server's limit.
const INITIAL_MAX_SEND_STREAMS: usize = 100;

impl Default for Http2Settings {
    fn default() -> Http2Settings {
        Http2Settings {
            stream_window: 1 << 20,
            connection_window: 2 << 20,
            max_frame_size: 16 << 10,
            max_header_list_size: 16 << 10,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}

impl Http2Settings {
    pub(crate) fn client(&self) -> h2::client::Builder {
        let mut builder = h2::client::Builder::new();
        builder
            .initial_window_size(self.stream_window)
            .initial_connection_window_size(self.connection_window)
            .max_frame_size(self.max_frame_size)
            .max_header_list_size(self.max_header_list_size)
            // Until the server's SETTINGS arrive, open no more streams than
            // RFC 9113 suggests every server allows; h2 would assume no
            // limit, and a burst of calls on a fresh connection would get
            // REFUSED_STREAM from a server that caps streams.
            .initial_max_send_streams(INITIAL_MAX_SEND_STREAMS)
            .max_concurrent_reset_streams(REMEMBERED_RESETS)
            // The lifetime limit on resets h2 sends for the peer's protocol
            // errors protects servers from clients that provoke resets to
            // start work past the stream limit ("MadeYouReset"); a client
            // has no such work to protect, and the limit would close a
            // long-lived connection after enough cancelled calls.
            .max_local_error_reset_streams(None)
            .enable_push(false);
        builder
    }

    pub(crate) fn server(&self) -> h2::server::Builder {
        let mut builder = h2::server::Builder::new();
        builder
            .initial_window_size(self.stream_window)
            .initial_connection_window_size(self.connection_window)
            .max_frame_size(self.max_frame_size)
            .max_header_list_size(self.max_header_list_size)
            .max_concurrent_streams(self.max_concurrent_streams)
            // Streams the client reset before we accepted them: h2's guard
            // against rapid-reset floods (GOAWAY ENHANCE_YOUR_CALM past it).
            // h2's default of 20 is hit by honest clients that cancel many
            // calls while the server is busy; this still bounds the work.
            .max_pending_accept_reset_streams(PENDING_ACCEPT_RESETS)
            // Late frames for streams we ended do not count as abuse; the
            // lifetime limit on resets for real protocol errors stays.
            .max_concurrent_reset_streams(REMEMBERED_RESETS);
        builder
    }
}
