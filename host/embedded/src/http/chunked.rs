//! A decoder for `Transfer-Encoding: chunked` request bodies, fed whatever bytes have
//! arrived. It never buffers more than one chunk-size line, and it stops at
//! `max_body_size` (→ 413) instead of collecting a body that is too large.
//!
//! The framing is as strict as hyper's (RFC 9112 §7.1), since a body one parser ends
//! where another does not is a smuggled request: every line ends in CRLF (a bare LF or
//! a bare CR is refused), the size is 1–16 hex digits with nothing before them, only
//! space and tab may follow it before `;`, extensions hold no control characters, and
//! trailers are bounded in total. Written by hand because the field's parsers are
//! either push-style over a whole buffer (httparse's `parse_chunk_size`, which also
//! takes an empty size for 0) or tied to an async runtime (hyper's).

use alloc::vec::Vec;

/// Why a chunked body is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Malformed framing (→ 400).
    Invalid,
    /// The decoded body would exceed the limit (→ 413).
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size line (extensions allowed and ignored).
    Size,
    /// Reading chunk data; this many bytes remain.
    Data(usize),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk, until an empty line.
    Trailer,
    /// The body is complete.
    Done,
}

/// Longest chunk-size line (size, extensions) or trailer line we accept.
const MAX_LINE: usize = 1024;

/// Most trailer bytes in all, as hyper allows.
const MAX_TRAILERS: usize = 16 << 10;

/// Incremental chunked decoder.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    line: Vec<u8>,
    max: usize,
    trailers: usize,
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `max` decoded bytes.
    pub fn new(max: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            line: Vec::new(),
            max,
            trailers: 0,
        }
    }

    /// Whether the terminating chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes bytes from `input`, appending decoded data to `body`. Returns how many
    /// bytes were consumed: less than `input.len()` only once the body is complete (the
    /// rest belongs to the next request).
    pub fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            match self.state {
                State::Size | State::Trailer | State::DataEnd => {
                    let b = input[i];
                    i += 1;
                    if b != b'\n' {
                        if self.line.len() >= MAX_LINE {
                            return Err(ChunkError::Invalid);
                        }
                        self.line.push(b);
                        continue;
                    }
                    let line = core::mem::take(&mut self.line);
                    // CRLF, and no CR anywhere else on the line.
                    let Some(line) = line.strip_suffix(b"\r") else {
                        return Err(ChunkError::Invalid);
                    };
                    if line.contains(&b'\r') {
                        return Err(ChunkError::Invalid);
                    }
                    if self.state == State::Trailer {
                        self.trailers += line.len() + 2;
                        if self.trailers > MAX_TRAILERS {
                            return Err(ChunkError::Invalid);
                        }
                    }
                    self.state = self.after_line(line, body.len())?;
                }
                State::Data(remaining) => {
                    let n = remaining.min(input.len() - i);
                    body.extend_from_slice(&input[i..i + n]);
                    i += n;
                    self.state = if n == remaining {
                        State::DataEnd
                    } else {
                        State::Data(remaining - n)
                    };
                }
                State::Done => break,
            }
        }
        Ok(i)
    }

    fn after_line(&self, line: &[u8], have: usize) -> Result<State, ChunkError> {
        match self.state {
            State::Size => {
                let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                let (size, rest) = line.split_at(digits);
                let rest = trim_ows_start(rest);
                let extension_ok = match rest {
                    [] => true,
                    [b';', ext @ ..] => ext.iter().all(|&b| b == b'\t' || !b.is_ascii_control()),
                    _ => false,
                };
                if size.is_empty() || size.len() > 16 || !extension_ok {
                    return Err(ChunkError::Invalid);
                }
                let text = core::str::from_utf8(size).map_err(|_| ChunkError::Invalid)?;
                let n = u64::from_str_radix(text, 16).map_err(|_| ChunkError::Invalid)?;
                let n = usize::try_from(n).map_err(|_| ChunkError::TooLarge)?;
                if have.saturating_add(n) > self.max {
                    return Err(ChunkError::TooLarge);
                }
                Ok(if n == 0 {
                    State::Trailer
                } else {
                    State::Data(n)
                })
            }
            State::DataEnd if line.is_empty() => Ok(State::Size),
            State::DataEnd => Err(ChunkError::Invalid),
            State::Trailer if line.is_empty() => Ok(State::Done),
            State::Trailer => Ok(State::Trailer),
            State::Data(_) | State::Done => Err(ChunkError::Invalid),
        }
    }
}

/// Skips the space and tab allowed between the size and `;` (hyper's `SizeLws`).
fn trim_ows_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(
        input: &[u8],
        piece: usize,
        max: usize,
    ) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new(max);
        let mut body = Vec::new();
        let mut used = 0;
        for part in input.chunks(piece) {
            let n = d.feed(part, &mut body)?;
            used += n;
            if d.is_done() {
                return Ok((body, used));
            }
            assert_eq!(n, part.len());
        }
        assert!(d.is_done(), "not done");
        Ok((body, used))
    }

    const WIKI: &[u8] =
        b"4\r\nWiki\r\n7;ext=1\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";

    #[test]
    fn decodes_whatever_the_split() {
        for piece in 1..WIKI.len() {
            let (body, used) = decode_in_pieces(WIKI, piece, 1000).unwrap();
            assert_eq!(body, b"Wikipedia in \r\nchunks.", "piece {piece}");
            assert_eq!(&WIKI[used..], b"NEXT", "piece {piece}");
        }
    }

    #[test]
    fn enforces_the_limit_from_the_size_line() {
        assert_eq!(decode_in_pieces(WIKI, 5, 10), Err(ChunkError::TooLarge));
        assert_eq!(
            decode_in_pieces(b"FFFFFFFF\r\n", 3, 10),
            Err(ChunkError::TooLarge)
        );
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"12345678901234567\r\n",
            b"3\r\nabcX\r\n",
            b"-1\r\n",
        ] {
            assert_eq!(
                decode_in_pieces(bad, 2, 100),
                Err(ChunkError::Invalid),
                "{bad:?}"
            );
        }
        let long = [b'1'; 2000];
        assert_eq!(decode_in_pieces(&long, 100, 100), Err(ChunkError::Invalid));
    }

    #[test]
    fn every_line_ends_in_crlf() {
        for bad in [
            &b"3\nabc\r\n0\r\n\r\n"[..],
            b"3\r\nabc\n0\r\n\r\n",
            b"3\r\nabc\r\n0\n\r\n",
            b"3\r\nabc\r\n0\r\n\n",
            b"3\r\nabc\r\n0\r\nX-T: 1\n\r\n",
            b"3\rX\r\nabc\r\n0\r\n\r\n",
            b"3;a\rb\r\nabc\r\n0\r\n\r\n",
        ] {
            assert_eq!(
                decode_in_pieces(bad, 1, 100),
                Err(ChunkError::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn size_lines_as_strict_as_hyper() {
        let ok = |line: &[u8]| {
            let mut input = line.to_vec();
            input.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
            decode_in_pieces(&input, 3, 100).map(|(body, _)| body)
        };
        assert_eq!(ok(b"3"), Ok(b"abc".to_vec()));
        assert_eq!(ok(b"0000000000000003"), Ok(b"abc".to_vec()));
        assert_eq!(ok(b"3 \t ;name=value"), Ok(b"abc".to_vec()));
        assert_eq!(ok(b"3;\tq=\"x y\""), Ok(b"abc".to_vec()));
        for bad in [
            &b" 3"[..],
            b"\t3",
            b"3 x",
            b"3\x0b",
            b"3;a\x00b",
            b"3;a\nb",
            b"00000000000000003",
            b"0x3",
            b"+3",
            b"",
        ] {
            assert_eq!(ok(bad), Err(ChunkError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn trailers_are_bounded() {
        let mut input = b"0\r\n".to_vec();
        for _ in 0..20 {
            input.extend_from_slice(&[b'x'; 1000]);
            input.extend_from_slice(b"\r\n");
        }
        input.extend_from_slice(b"\r\n");
        assert_eq!(decode_in_pieces(&input, 64, 100), Err(ChunkError::Invalid));
    }
}
