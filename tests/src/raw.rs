//! A raw HTTP/1.1 client over a plain `TcpStream`: the limit tests need to send heads no
//! well-behaved client would (a 2 KiB request line, 11 headers, half a head), and to see
//! exactly what comes back: the status line, the headers, or the connection closing.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long any single read may block before the test fails.
const WAIT: Duration = Duration::from_secs(10);

/// One response as it came off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// Header names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body (read by `Content-Length`; responses here are never chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What reading from the connection found.
#[derive(Debug)]
pub enum Reply {
    /// A whole response.
    Response(RawResponse),
    /// The server closed (or reset) the connection; the bytes it sent before.
    Closed(Vec<u8>),
}

/// A raw connection.
pub struct RawHttp {
    stream: TcpStream,
    /// Bytes read past the last response.
    buffered: Vec<u8>,
}

impl RawHttp {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> RawHttp {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawHttp {
            stream,
            buffered: Vec::new(),
        }
    }

    /// The socket, for reads of a response that never ends (an event stream).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Writes bytes; the server may already have closed, which later reads will show.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `GET <path>` with a `Host` header and reads the response.
    pub fn get(&mut self, path: &str) -> RawResponse {
        let request = format!("GET {path} HTTP/1.1\r\nHost: berth.test\r\n\r\n");
        self.send(request.as_bytes()).expect("send");
        self.response()
    }

    /// Reads one response; panics when the connection closes first.
    pub fn response(&mut self) -> RawResponse {
        match self.read() {
            Reply::Response(r) => r,
            Reply::Closed(bytes) => panic!(
                "connection closed instead of a response; got {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }

    /// Reads one response, or sees the connection close.
    pub fn read(&mut self) -> Reply {
        loop {
            if let Some(response) = self.parse() {
                return Reply::Response(response);
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Reply::Closed(std::mem::take(&mut self.buffered)),
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Reply::Closed(std::mem::take(&mut self.buffered))
                }
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// Waits for the server to close the connection; returns how long that took and
    /// whatever it sent first.
    pub fn closed_after(&mut self) -> (Duration, Vec<u8>) {
        let started = Instant::now();
        loop {
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return (started.elapsed(), std::mem::take(&mut self.buffered)),
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return (started.elapsed(), std::mem::take(&mut self.buffered))
                }
                Err(e) => panic!("the connection stayed open ({e})"),
            }
        }
    }

    /// Parses a whole response out of the buffer, if there is one.
    fn parse(&mut self) -> Option<RawResponse> {
        let end = self.buffered.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.buffered[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        if self.buffered.len() < body_start + length {
            return None;
        }
        let body = self.buffered[body_start..body_start + length].to_vec();
        self.buffered.drain(..body_start + length);
        Some(RawResponse {
            status_line,
            headers,
            body,
        })
    }
}
