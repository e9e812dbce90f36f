//! An RFC 6455 server-side codec: the handshake key, frame encoding, and an incremental
//! decoder that reassembles fragmented messages under the frame and message limits.
//!
//! ## Why our own codec
//!
//! The maintained `no_std` candidate, `embedded-websocket`, parses the upgrade request
//! itself and frames through its own read buffer and a `futures` Sink/Stream API. Berth
//! must decide the upgrade *before* the 101 with the same parsed head the router saw
//! (a `ws:connect` hook may refuse with an HTTP status), must refuse a frame from its
//! header alone when it exceeds `ws_max_frame` (close 1009) and reassemble fragments
//! only up to `ws_max_message`, streaming payload bytes so that a frame never has to fit
//! the connection's small read buffer. That is about 250 lines over two well-kept crates
//! (`sha1`, `base64`) for the handshake; the decoder below is a pure function of the
//! bytes fed to it, tested byte by byte.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Frame opcodes.
pub mod op {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// Close codes the host uses itself.
pub mod code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Going away (server stopping).
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// No status code was present (reported, never sent).
    pub const NO_STATUS: u16 = 1005;
    /// The connection dropped without a close frame (reported, never sent).
    pub const ABNORMAL: u16 = 1006;
    /// Invalid UTF-8 in a text message.
    pub const INVALID_DATA: u16 = 1007;
    /// Policy violation (the send queue overflowed).
    pub const POLICY: u16 = 1008;
    /// A frame or message over the limits.
    pub const TOO_BIG: u16 = 1009;
    /// The peer stopped answering pings.
    pub const UNRESPONSIVE: u16 = 1011;
}

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` answer to a key.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Appends one unmasked (server-to-client) frame with FIN set.
pub fn encode(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame; the reason is cut (at a character boundary) to fit the
/// 125-byte control-frame limit.
pub fn encode_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    encode(out, op::CLOSE, &payload);
}

/// What the peer sent, once whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message.
    Text(String),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close frame: its code (1005 when absent) and reason.
    Close(u16, String),
}

/// A protocol failure: close the connection with this code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The close code to send.
    pub code: u16,
    /// Why, for the close frame and the log.
    pub reason: &'static str,
}

const fn fail(code: u16, reason: &'static str) -> Failure {
    Failure { code, reason }
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    opcode: u8,
    fin: bool,
    mask: [u8; 4],
    remaining: usize,
    offset: usize,
}

/// Incremental frame decoder and message reassembler for one connection.
#[derive(Debug)]
pub struct Decoder {
    max_frame: usize,
    max_message: usize,
    frame: Option<Frame>,
    /// The data message being assembled: whether it is text, and its bytes so far.
    message: Option<(bool, Vec<u8>)>,
    control: Vec<u8>,
}

impl Decoder {
    /// A decoder enforcing `ws_max_frame` and `ws_max_message`.
    pub fn new(max_frame: usize, max_message: usize) -> Decoder {
        Decoder {
            max_frame,
            max_message,
            frame: None,
            message: None,
            control: Vec::new(),
        }
    }

    /// Consumes bytes from `input`. Returns how many it consumed and, when they completed
    /// a message or control frame, that item (call again with the rest).
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Incoming>), Failure> {
        let mut used = 0;
        if self.frame.is_none() {
            match self.header(input)? {
                None => return Ok((0, None)),
                Some(n) => used = n,
            }
        }
        let Some(mut frame) = self.frame else {
            return Ok((used, None));
        };
        let take = frame.remaining.min(input.len() - used);
        let chunk = &input[used..used + take];
        let sink = if frame.opcode >= op::CLOSE {
            &mut self.control
        } else {
            match &mut self.message {
                Some((_, bytes)) => bytes,
                None => return Err(fail(code::PROTOCOL, "continuation without a message")),
            }
        };
        sink.extend(
            chunk
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ frame.mask[(frame.offset + i) % 4]),
        );
        used += take;
        frame.remaining -= take;
        frame.offset += take;
        if frame.remaining > 0 {
            self.frame = Some(frame);
            return Ok((used, None));
        }
        self.frame = None;
        Ok((used, self.finish(frame)?))
    }

    /// Parses a frame header at the start of `input`; `None` if it is not all there.
    fn header(&mut self, input: &[u8]) -> Result<Option<usize>, Failure> {
        if input.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (input[0], input[1]);
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        if b0 & 0x70 != 0 {
            return Err(fail(code::PROTOCOL, "reserved bits set"));
        }
        if b1 & 0x80 == 0 {
            return Err(fail(code::PROTOCOL, "client frames must be masked"));
        }
        let (len, at) = match b1 & 0x7F {
            126 if input.len() >= 4 => (u64::from(u16::from_be_bytes([input[2], input[3]])), 4),
            127 if input.len() >= 10 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&input[2..10]);
                (u64::from_be_bytes(be), 10)
            }
            126 | 127 => return Ok(None),
            n => (u64::from(n), 2),
        };
        if input.len() < at + 4 {
            return Ok(None);
        }
        let control = opcode >= op::CLOSE;
        match opcode {
            op::CONTINUATION | op::TEXT | op::BINARY | op::CLOSE | op::PING | op::PONG => {}
            _ => return Err(fail(code::PROTOCOL, "unknown opcode")),
        }
        if control && (!fin || len > 125) {
            return Err(fail(code::PROTOCOL, "invalid control frame"));
        }
        if len > self.max_frame as u64 {
            return Err(fail(code::TOO_BIG, "frame too large"));
        }
        let len = len as usize;
        match (opcode, &mut self.message) {
            (op::CONTINUATION, None) => {
                return Err(fail(code::PROTOCOL, "continuation without a message"))
            }
            (op::CONTINUATION, Some((_, bytes))) => {
                if bytes.len().saturating_add(len) > self.max_message {
                    return Err(fail(code::TOO_BIG, "message too large"));
                }
            }
            (op::TEXT | op::BINARY, Some(_)) => {
                return Err(fail(code::PROTOCOL, "new message inside a fragmented one"))
            }
            (op::TEXT | op::BINARY, None) => {
                if len > self.max_message {
                    return Err(fail(code::TOO_BIG, "message too large"));
                }
                self.message = Some((opcode == op::TEXT, Vec::with_capacity(len)));
            }
            _ => self.control.clear(),
        }
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&input[at..at + 4]);
        self.frame = Some(Frame {
            opcode,
            fin,
            mask,
            remaining: len,
            offset: 0,
        });
        Ok(Some(at + 4))
    }

    /// A frame's payload is complete: produce the item it finishes, if any.
    fn finish(&mut self, frame: Frame) -> Result<Option<Incoming>, Failure> {
        match frame.opcode {
            op::PING => Ok(Some(Incoming::Ping(core::mem::take(&mut self.control)))),
            op::PONG => Ok(Some(Incoming::Pong)),
            op::CLOSE => close_payload(&core::mem::take(&mut self.control)).map(Some),
            _ if !frame.fin => Ok(None),
            _ => match self.message.take() {
                Some((true, bytes)) => String::from_utf8(bytes)
                    .map(|s| Some(Incoming::Text(s)))
                    .map_err(|_| fail(code::INVALID_DATA, "text is not UTF-8")),
                Some((false, bytes)) => Ok(Some(Incoming::Binary(bytes))),
                None => Err(fail(code::PROTOCOL, "continuation without a message")),
            },
        }
    }
}

/// Whether a peer may send this close code (RFC 6455 §7.4).
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

fn close_payload(payload: &[u8]) -> Result<Incoming, Failure> {
    match payload {
        [] => Ok(Incoming::Close(code::NO_STATUS, String::new())),
        [_] => Err(fail(code::PROTOCOL, "truncated close code")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(fail(code::PROTOCOL, "invalid close code"));
            }
            let reason = core::str::from_utf8(reason)
                .map_err(|_| fail(code::INVALID_DATA, "close reason is not UTF-8"))?;
            Ok(Incoming::Close(code, reason.into()))
        }
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
