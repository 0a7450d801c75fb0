//! A raw HTTP/2 peer over a blocking TCP socket, for attack tests: it writes
//! any frame, valid or not (the `h2` crate refuses to), and a reader thread
//! decodes what the server sends back into [`Event`]s.
//!
//! Header blocks are written with [`HeaderBlock`] (HPACK literals without
//! Huffman coding, plus raw bytes for tricks) and decoded with an HPACK
//! decoder, so the server's statuses can be checked.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types.
pub mod kind {
    /// DATA
    pub const DATA: u8 = 0x0;
    /// HEADERS
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING
    pub const PING: u8 = 0x6;
    /// GOAWAY
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub mod flag {
    /// END_STREAM (DATA, HEADERS)
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING)
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, CONTINUATION)
    pub const END_HEADERS: u8 = 0x4;
}

/// HTTP/2 error codes.
pub mod reason {
    /// NO_ERROR
    pub const NO_ERROR: u32 = 0x0;
    /// PROTOCOL_ERROR
    pub const PROTOCOL_ERROR: u32 = 0x1;
    /// FLOW_CONTROL_ERROR
    pub const FLOW_CONTROL_ERROR: u32 = 0x3;
    /// FRAME_SIZE_ERROR
    pub const FRAME_SIZE_ERROR: u32 = 0x6;
    /// REFUSED_STREAM
    pub const REFUSED_STREAM: u32 = 0x7;
    /// CANCEL
    pub const CANCEL: u32 = 0x8;
    /// COMPRESSION_ERROR
    pub const COMPRESSION_ERROR: u32 = 0x9;
    /// ENHANCE_YOUR_CALM
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
}

/// One frame: a 9-byte header and a payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS frame with `params` (id, value).
pub fn settings(params: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(params.len() * 6);
    for (id, value) in params {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(kind::SETTINGS, 0, 0, &payload)
}

/// A SETTINGS acknowledgement.
pub fn settings_ack() -> Vec<u8> {
    frame(kind::SETTINGS, flag::ACK, 0, &[])
}

/// A PING (not an ack).
pub fn ping(payload: [u8; 8]) -> Vec<u8> {
    frame(kind::PING, 0, 0, &payload)
}

/// An RST_STREAM.
pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(kind::RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// A WINDOW_UPDATE.
pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(kind::WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// A HEADERS frame carrying a whole block (END_HEADERS set).
pub fn headers(stream: u32, block: &[u8], end_stream: bool) -> Vec<u8> {
    let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
    frame(kind::HEADERS, flags, stream, block)
}

/// A DATA frame.
pub fn data(stream: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    let flags = if end_stream { flag::END_STREAM } else { 0 };
    frame(kind::DATA, flags, stream, payload)
}

/// One gRPC length-prefixed message with a declared length that may lie.
pub fn grpc_prefix(compressed: bool, declared_len: u32) -> [u8; 5] {
    let len = declared_len.to_be_bytes();
    [u8::from(compressed), len[0], len[1], len[2], len[3]]
}

/// Builds an HPACK header block from literals (never indexed, no Huffman)
/// and raw bytes.
#[derive(Clone, Debug, Default)]
pub struct HeaderBlock(Vec<u8>);

impl HeaderBlock {
    /// An empty block.
    pub fn new() -> HeaderBlock {
        HeaderBlock::default()
    }

    /// The headers of a gRPC POST to `path` (authority `localhost`),
    /// each pseudo header and `content-type` / `te` replaceable by
    /// [`HeaderBlock::grpc_with`].
    pub fn grpc(path: &str) -> HeaderBlock {
        HeaderBlock::grpc_with(path, &[])
    }

    /// Like [`HeaderBlock::grpc`], with `overrides` replacing (or, with an
    /// empty value `"\0"`, removing) the default headers, and any other
    /// names appended.
    pub fn grpc_with(path: &str, overrides: &[(&str, &str)]) -> HeaderBlock {
        let defaults = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ];
        let mut block = HeaderBlock::new();
        for (name, value) in defaults {
            match overrides.iter().find(|(n, _)| *n == name) {
                Some((_, "\0")) => {}
                Some((_, value)) => block = block.literal(name, value),
                None => block = block.literal(name, value),
            }
        }
        for (name, value) in overrides {
            if !defaults.iter().any(|(n, _)| n == name) {
                block = block.literal(name, value);
            }
        }
        block
    }

    /// Appends a literal field without indexing, new name.
    pub fn literal(self, name: &str, value: &str) -> HeaderBlock {
        self.literal_bytes(name.as_bytes(), value.as_bytes())
    }

    /// Appends a literal field without indexing, new name, from bytes.
    pub fn literal_bytes(mut self, name: &[u8], value: &[u8]) -> HeaderBlock {
        self.0.push(0x00);
        put_string(&mut self.0, name);
        put_string(&mut self.0, value);
        self
    }

    /// Appends a literal field *with* incremental indexing (it enters the
    /// server's dynamic table).
    pub fn indexed_literal(mut self, name: &str, value: &str) -> HeaderBlock {
        self.0.push(0x40);
        put_string(&mut self.0, name.as_bytes());
        put_string(&mut self.0, value.as_bytes());
        self
    }

    /// Appends raw bytes (HPACK tricks).
    pub fn raw(mut self, bytes: &[u8]) -> HeaderBlock {
        self.0.extend_from_slice(bytes);
        self
    }

    /// The encoded block.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An HPACK integer with an `n`-bit prefix whose high bits are `first`.
pub fn hpack_int(out: &mut Vec<u8>, first: u8, prefix_bits: u8, mut value: u64) {
    let max = (1u64 << prefix_bits) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    hpack_int(out, 0x00, 7, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// What the server sent, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete header block (HEADERS + CONTINUATIONs).
    Headers {
        /// The stream.
        stream: u32,
        /// Decoded fields (lossy UTF-8).
        fields: Vec<(String, String)>,
        /// END_STREAM was set.
        end_stream: bool,
    },
    /// A DATA frame.
    Data {
        /// The stream.
        stream: u32,
        /// The payload.
        payload: Vec<u8>,
        /// END_STREAM was set.
        end_stream: bool,
    },
    /// RST_STREAM.
    Reset {
        /// The stream.
        stream: u32,
        /// The error code.
        code: u32,
    },
    /// GOAWAY.
    GoAway {
        /// Last stream the server processed.
        last_stream: u32,
        /// The error code.
        code: u32,
        /// Debug data (lossy UTF-8).
        debug: String,
    },
    /// A PING; `ack` for acknowledgements.
    Ping {
        /// ACK flag.
        ack: bool,
    },
    /// SETTINGS; `ack` for acknowledgements.
    Settings {
        /// ACK flag.
        ack: bool,
        /// (id, value) pairs.
        params: Vec<(u16, u32)>,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// The stream (0: connection).
        stream: u32,
        /// The increment.
        increment: u32,
    },
    /// Bytes that are not HTTP/2 frames (an HTTP/1.1 answer, say), or a
    /// header block the decoder could not read.
    Garbage(Vec<u8>),
    /// The server closed the connection (EOF or reset).
    Closed,
}

/// How a gRPC stream ended, as seen by [`RawConn::outcome`].
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Every header block of the stream, in order.
    pub header_blocks: Vec<Vec<(String, String)>>,
    /// Concatenated DATA payloads.
    pub data: Vec<u8>,
    /// The RST_STREAM code, when the stream was reset.
    pub reset: Option<u32>,
    /// The GOAWAY code, when the connection went away first.
    pub goaway: Option<u32>,
    /// The connection closed before the stream ended.
    pub closed: bool,
}

impl Outcome {
    /// A header's value in the last header block (the trailers, or the
    /// only block of a Trailers-Only response).
    pub fn last(&self, name: &str) -> Option<&str> {
        let block = self.header_blocks.last()?;
        block
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `grpc-status` the stream ended with, if it ended with one.
    pub fn grpc_status(&self) -> Option<u32> {
        self.last("grpc-status")?.parse().ok()
    }

    /// The `:status` of the first header block.
    pub fn http_status(&self) -> Option<&str> {
        let block = self.header_blocks.first()?;
        block
            .iter()
            .find(|(n, _)| n == ":status")
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/2 client connection.
pub struct RawConn {
    writer: Arc<Mutex<TcpStream>>,
    events: Receiver<Event>,
    /// Events read by `wait_*` helpers but not consumed, in order.
    seen: Vec<Event>,
}

/// Options of the reader thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// Acknowledge the server's SETTINGS and hand back the flow-control
    /// window of every DATA frame (a well-behaved peer).
    Settings,
    /// Never acknowledge anything.
    Never,
}

impl RawConn {
    /// Connects to `127.0.0.1:port` without sending anything.
    pub fn connect(port: u16, acks: Acks) -> RawConn {
        RawConn::connect_sending(port, acks, &[])
    }

    /// Connects to `127.0.0.1:port` and writes `first` before the reader
    /// starts (so no acknowledgement can come before a preface).
    pub fn connect_sending(port: u16, acks: Acks, first: &[u8]) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
        RawConn::start(stream, acks, first)
    }

    /// Plays the server: accepts one connection on `listener`, reads the
    /// client preface and sends an empty SETTINGS. The peer's frames
    /// (requests included) arrive as [`Event`]s; its SETTINGS are acked.
    pub fn accept(listener: &std::net::TcpListener) -> RawConn {
        let (mut stream, _) = listener.accept().expect("accept a client");
        let mut preface = [0u8; PREFACE.len()];
        stream.read_exact(&mut preface).expect("read the preface");
        assert_eq!(&preface[..], PREFACE, "not an HTTP/2 client");
        RawConn::start(stream, Acks::Settings, &settings(&[]))
    }

    fn start(mut stream: TcpStream, acks: Acks, first: &[u8]) -> RawConn {
        let _ = stream.write_all(first);
        let _ = stream.set_nodelay(true);
        let reader = stream.try_clone().expect("clone the socket");
        let writer = Arc::new(Mutex::new(stream));
        let (tx, events) = mpsc::channel();
        let ack_writer = Arc::clone(&writer);
        std::thread::spawn(move || read_loop(reader, tx, ack_writer, acks));
        RawConn {
            writer,
            events,
            seen: Vec::new(),
        }
    }

    /// Connects and sends the preface and an empty SETTINGS, acknowledging
    /// the server's SETTINGS.
    pub fn handshake(port: u16) -> RawConn {
        RawConn::handshake_with(port, &[])
    }

    /// Connects and sends the preface and SETTINGS with `params`.
    pub fn handshake_with(port: u16, params: &[(u16, u32)]) -> RawConn {
        let mut hello = PREFACE.to_vec();
        hello.extend(settings(params));
        RawConn::connect_sending(port, Acks::Settings, &hello)
    }

    /// Writes bytes; false once the server has closed the socket.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        let mut stream = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .is_ok()
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&self) {
        let stream = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = stream.shutdown(Shutdown::Write);
    }

    /// The next event the peer sends, waiting up to `timeout`; it is also
    /// kept in [`RawConn::seen`].
    pub fn next(&mut self, timeout: Duration) -> Option<Event> {
        self.next_event(Instant::now() + timeout)
    }

    fn next_event(&mut self, deadline: Instant) -> Option<Event> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(left) {
            Ok(event) => {
                self.seen.push(event.clone());
                Some(event)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                if self.seen.last() != Some(&Event::Closed) {
                    self.seen.push(Event::Closed);
                }
                Some(Event::Closed)
            }
        }
    }

    /// Waits up to `timeout` for an event matching `pick`; the events seen
    /// so far stay in [`RawConn::seen`].
    pub fn wait_for(&mut self, timeout: Duration, pick: impl Fn(&Event) -> bool) -> Option<Event> {
        if let Some(event) = self.seen.iter().find(|e| pick(e)) {
            return Some(event.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let event = self.next_event(deadline)?;
            if pick(&event) {
                return Some(event);
            }
            if event == Event::Closed {
                return None;
            }
        }
    }

    /// Waits for a GOAWAY; its code.
    pub fn wait_goaway(&mut self, timeout: Duration) -> Option<u32> {
        match self.wait_for(timeout, |e| matches!(e, Event::GoAway { .. }))? {
            Event::GoAway { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Waits until the server closes the connection; true when it did.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        self.wait_for(timeout, |e| *e == Event::Closed).is_some()
    }

    /// Every event read so far.
    pub fn seen(&self) -> &[Event] {
        &self.seen
    }

    /// Reads until `stream` ends (END_STREAM, RST_STREAM, GOAWAY that
    /// excludes it, or the connection closing) or `timeout` passes.
    pub fn outcome(&mut self, stream: u32, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let mut outcome = Outcome::default();
        let mut index = 0;
        loop {
            let event = if index < self.seen.len() {
                index += 1;
                self.seen[index - 1].clone()
            } else {
                match self.next_event(deadline) {
                    Some(event) => {
                        index = self.seen.len();
                        event
                    }
                    None => return outcome,
                }
            };
            match event {
                Event::Headers {
                    stream: s,
                    fields,
                    end_stream,
                } if s == stream => {
                    outcome.header_blocks.push(fields);
                    if end_stream {
                        return outcome;
                    }
                }
                Event::Data {
                    stream: s,
                    payload,
                    end_stream,
                } if s == stream => {
                    outcome.data.extend(payload);
                    if end_stream {
                        return outcome;
                    }
                }
                Event::Reset { stream: s, code } if s == stream => {
                    outcome.reset = Some(code);
                    return outcome;
                }
                Event::GoAway {
                    code, last_stream, ..
                } => {
                    outcome.goaway = Some(code);
                    if last_stream < stream {
                        return outcome;
                    }
                }
                Event::Closed => {
                    outcome.closed = true;
                    return outcome;
                }
                _ => {}
            }
        }
    }
}

impl Drop for RawConn {
    fn drop(&mut self) {
        let stream = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Reads frames until the socket closes.
fn read_loop(
    mut reader: TcpStream,
    tx: mpsc::Sender<Event>,
    writer: Arc<Mutex<TcpStream>>,
    acks: Acks,
) {
    let mut decoder = fluke_hpack::Decoder::new();
    // A header block being assembled: stream, END_STREAM, bytes.
    let mut block: Option<(u32, bool, Vec<u8>)> = None;
    loop {
        let mut head = [0u8; 9];
        if let Err(error) = reader.read_exact(&mut head) {
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                let _ = reader.set_nonblocking(true);
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
                if !rest.is_empty() {
                    let _ = tx.send(Event::Garbage(rest));
                }
            }
            break;
        }
        if head.starts_with(b"HTTP/") {
            let mut rest = head.to_vec();
            let _ = reader.read_to_end(&mut rest);
            let _ = tx.send(Event::Garbage(rest));
            break;
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        if reader.read_exact(&mut payload).is_err() {
            break;
        }
        let event = match kind {
            kind::HEADERS | kind::CONTINUATION => {
                let (sid, end_stream, mut bytes) = match block.take() {
                    Some(open) => open,
                    None => (stream, flags & flag::END_STREAM != 0, Vec::new()),
                };
                bytes.extend_from_slice(headers_fragment(kind, flags, &payload));
                if flags & flag::END_HEADERS == 0 {
                    block = Some((sid, end_stream, bytes));
                    continue;
                }
                match decoder.decode(&bytes) {
                    Ok(fields) => Event::Headers {
                        stream: sid,
                        fields: fields
                            .into_iter()
                            .map(|(n, v)| {
                                (
                                    String::from_utf8_lossy(&n).into_owned(),
                                    String::from_utf8_lossy(&v).into_owned(),
                                )
                            })
                            .collect(),
                        end_stream,
                    },
                    Err(_) => Event::Garbage(bytes),
                }
            }
            kind::DATA => {
                if acks == Acks::Settings && !payload.is_empty() {
                    // A well-behaved reader: hand the window back at once.
                    let mut updates = window_update(0, len as u32);
                    updates.extend(window_update(stream, len as u32));
                    let mut stream = writer.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = stream.write_all(&updates);
                }
                Event::Data {
                    stream,
                    payload: data_payload(flags, &payload).to_vec(),
                    end_stream: flags & flag::END_STREAM != 0,
                }
            }
            kind::RST_STREAM if len == 4 => Event::Reset {
                stream,
                code: be32(&payload[..4]),
            },
            kind::GOAWAY if len >= 8 => Event::GoAway {
                last_stream: be32(&payload[..4]) & 0x7fff_ffff,
                code: be32(&payload[4..8]),
                debug: String::from_utf8_lossy(&payload[8..]).into_owned(),
            },
            kind::PING => Event::Ping {
                ack: flags & flag::ACK != 0,
            },
            kind::SETTINGS => {
                let ack = flags & flag::ACK != 0;
                if !ack && acks == Acks::Settings {
                    let mut stream = writer.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = stream.write_all(&settings_ack());
                }
                Event::Settings {
                    ack,
                    params: payload
                        .chunks_exact(6)
                        .map(|c| (u16::from_be_bytes([c[0], c[1]]), be32(&c[2..6])))
                        .collect(),
                }
            }
            kind::WINDOW_UPDATE if len == 4 => Event::WindowUpdate {
                stream,
                increment: be32(&payload[..4]) & 0x7fff_ffff,
            },
            _ => continue,
        };
        if tx.send(event).is_err() {
            return;
        }
    }
    let _ = tx.send(Event::Closed);
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The header block fragment of a HEADERS (minus padding and priority) or
/// CONTINUATION payload.
fn headers_fragment(kind: u8, flags: u8, payload: &[u8]) -> &[u8] {
    if kind == kind::CONTINUATION {
        return payload;
    }
    let mut body = payload;
    let mut pad = 0usize;
    if flags & 0x8 != 0 && !body.is_empty() {
        pad = body[0] as usize;
        body = &body[1..];
    }
    if flags & 0x20 != 0 && body.len() >= 5 {
        body = &body[5..];
    }
    &body[..body.len().saturating_sub(pad)]
}

fn data_payload(flags: u8, payload: &[u8]) -> &[u8] {
    if flags & 0x8 != 0 && !payload.is_empty() {
        let pad = payload[0] as usize;
        let body = &payload[1..];
        return &body[..body.len().saturating_sub(pad)];
    }
    payload
}

/// Resident memory of this process in bytes (`VmRSS`), 0 when unknown.
pub fn rss_bytes() -> u64 {
    proc_status_kib("VmRSS:") * 1024
}

/// Threads of this process (`/proc/self/task`).
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |dir| dir.count())
}

/// Open file descriptors of this process (`/proc/self/fd`).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn proc_status_kib(field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
