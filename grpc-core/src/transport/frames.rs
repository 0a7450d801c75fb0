//! [`FrameScanner`]: finds HTTP/2 frame headers (and the last stream id
//! of GOAWAY frames) in one direction of a connection's bytes as they pass,
//! however they are chunked; payloads are skipped, never copied. The ping
//! policy and the client's GOAWAY watch read connections through it.

/// The length of the client connection preface.
const PREFACE_LEN: usize = 24;
/// The length of a frame header.
const FRAME_HEADER_LEN: usize = 9;
/// The frame types the watchers care about.
pub(crate) const FRAME_DATA: u8 = 0x0;
pub(crate) const FRAME_HEADERS: u8 = 0x1;
pub(crate) const FRAME_SETTINGS: u8 = 0x4;
pub(crate) const FRAME_PING: u8 = 0x6;
const FRAME_GOAWAY: u8 = 0x7;
/// The ACK flag of PING (and SETTINGS) frames.
pub(crate) const FLAG_ACK: u8 = 0x1;

/// The type and flags of one frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHead {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
}

/// What the scanner reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A complete frame header.
    Head(FrameHead),
    /// The last stream id of a GOAWAY frame (after its [`Seen::Head`]).
    GoAway { last_stream_id: u32 },
}

/// Where a scanner is in its byte stream.
#[derive(Clone, Copy)]
enum Position {
    /// Inside the client connection preface.
    Preface { left: usize },
    /// Collecting a frame header.
    Header {
        bytes: [u8; FRAME_HEADER_LEN],
        have: usize,
    },
    /// Collecting the last stream id at the start of a GOAWAY payload.
    GoAway {
        bytes: [u8; 4],
        have: usize,
        left: usize,
    },
    /// Skipping a frame payload.
    Payload { left: usize },
}

const FRAME_START: Position = Position::Header {
    bytes: [0; FRAME_HEADER_LEN],
    have: 0,
};

/// Finds frames in one direction of an HTTP/2 byte stream.
pub(crate) struct FrameScanner {
    position: Position,
}

impl FrameScanner {
    /// Bytes a client sends: the preface, then frames.
    pub(crate) fn after_preface() -> FrameScanner {
        FrameScanner {
            position: Position::Preface { left: PREFACE_LEN },
        }
    }

    /// Bytes a server sends: frames from the first byte.
    pub(crate) fn frames() -> FrameScanner {
        FrameScanner {
            position: FRAME_START,
        }
    }

    /// Calls `seen` for everything `bytes` completes.
    pub(crate) fn scan(&mut self, mut bytes: &[u8], mut seen: impl FnMut(Seen)) {
        while !bytes.is_empty() {
            let (taken, next, found) = step(self.position, bytes);
            bytes = &bytes[taken..];
            self.position = next;
            if let Some(found) = found {
                seen(found);
            }
        }
    }
}

/// One scanning step: the bytes it consumed, the next position, and what
/// it completed, if anything.
fn step(position: Position, bytes: &[u8]) -> (usize, Position, Option<Seen>) {
    match position {
        Position::Preface { left } => {
            let take = left.min(bytes.len());
            let next = match left - take {
                0 => FRAME_START,
                left => Position::Preface { left },
            };
            (take, next, None)
        }
        Position::Payload { left } => {
            let take = left.min(bytes.len());
            (take, skip(left - take), None)
        }
        Position::Header {
            bytes: header,
            have,
        } => header_step(header, have, bytes),
        Position::GoAway {
            bytes: mut id,
            have,
            left,
        } => {
            let take = (4 - have).min(bytes.len());
            id[have..have + take].copy_from_slice(&bytes[..take]);
            let have = have + take;
            if have < 4 {
                return (
                    take,
                    Position::GoAway {
                        bytes: id,
                        have,
                        left,
                    },
                    None,
                );
            }
            let last_stream_id = u32::from_be_bytes(id) & 0x7fff_ffff;
            (take, skip(left - 4), Some(Seen::GoAway { last_stream_id }))
        }
    }
}

fn header_step(
    mut header: [u8; FRAME_HEADER_LEN],
    have: usize,
    bytes: &[u8],
) -> (usize, Position, Option<Seen>) {
    let take = (FRAME_HEADER_LEN - have).min(bytes.len());
    header[have..have + take].copy_from_slice(&bytes[..take]);
    let have = have + take;
    if have < FRAME_HEADER_LEN {
        return (
            take,
            Position::Header {
                bytes: header,
                have,
            },
            None,
        );
    }
    let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let head = FrameHead {
        kind: header[3],
        flags: header[4],
    };
    let next = if head.kind == FRAME_GOAWAY && length >= 8 {
        Position::GoAway {
            bytes: [0; 4],
            have: 0,
            left: length,
        }
    } else {
        skip(length)
    };
    (take, next, Some(Seen::Head(head)))
}

/// Skips `left` payload bytes, then expects a frame header.
fn skip(left: usize) -> Position {
    match left {
        0 => FRAME_START,
        left => Position::Payload { left },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = len.to_be_bytes()[1..].to_vec();
        out.extend([kind, flags, 0, 0, 0, 0]);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn reports_heads_and_goaway_ids_across_any_chunking() {
        let mut wire = frame(0x4, 0, &[0; 6]);
        wire.extend(frame(FRAME_DATA, 1, b"hello"));
        let mut goaway = 0x8000_0007_u32.to_be_bytes().to_vec(); // reserved bit set
        goaway.extend([0, 0, 0, 0, b'b', b'y', b'e']);
        wire.extend(frame(FRAME_GOAWAY, 0, &goaway));
        wire.extend(frame(FRAME_PING, FLAG_ACK, &[1; 8]));
        for chunk in 1..wire.len() {
            let mut scanner = FrameScanner::frames();
            let mut seen = Vec::new();
            for part in wire.chunks(chunk) {
                scanner.scan(part, |found| seen.push(found));
            }
            assert_eq!(
                seen,
                [
                    Seen::Head(FrameHead {
                        kind: 0x4,
                        flags: 0
                    }),
                    Seen::Head(FrameHead {
                        kind: FRAME_DATA,
                        flags: 1
                    }),
                    Seen::Head(FrameHead {
                        kind: FRAME_GOAWAY,
                        flags: 0
                    }),
                    Seen::GoAway { last_stream_id: 7 },
                    Seen::Head(FrameHead {
                        kind: FRAME_PING,
                        flags: FLAG_ACK
                    }),
                ],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_short_goaway_is_skipped_not_misread() {
        let mut wire = frame(FRAME_GOAWAY, 0, &[0, 0, 0, 1]);
        wire.extend(frame(FRAME_DATA, 0, b""));
        let mut seen = Vec::new();
        FrameScanner::frames().scan(&wire, |found| seen.push(found));
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|found| matches!(found, Seen::Head(_))));
    }
}
