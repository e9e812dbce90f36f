//! Small real clients for what an ordinary HTTP library hides: a raw request over a TCP
//! socket (a path sent exactly as written, `..` and all), and a reader of
//! `text/event-stream` bodies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET <target>` exactly as given (no normalisation), with `Connection: close`,
/// and reads the whole response. Bodies must not be chunked (files and errors are not).
pub fn raw_get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// One Server-Sent Event as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Reads events (and heartbeat comments) off an event-stream body.
pub struct SseReader<R: Read> {
    lines: BufReader<R>,
}

/// What the next block of lines was.
#[derive(Debug, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    Comment(String),
}

impl<R: Read> SseReader<R> {
    pub fn new(body: R) -> SseReader<R> {
        SseReader {
            lines: BufReader::new(body),
        }
    }

    /// The next event or comment; `None` at the end of the stream.
    pub fn next_item(&mut self) -> Option<SseItem> {
        let mut event = SseEvent::default();
        let mut data: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            match self.lines.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() && event.id.is_none() && event.event.is_none() {
                    continue;
                }
                event.data = data.join("\n");
                return Some(SseItem::Event(event));
            }
            if let Some(comment) = line.strip_prefix(':') {
                // A comment stands alone between events (the host writes it so).
                let mut blank = String::new();
                let _ = self.lines.read_line(&mut blank);
                return Some(SseItem::Comment(comment.trim().to_string()));
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match field {
                "id" => event.id = Some(value),
                "event" => event.event = Some(value),
                "data" => data.push(value),
                _ => {}
            }
        }
    }

    /// The next event, skipping comments; panics at the end of the stream.
    pub fn next_event(&mut self) -> SseEvent {
        loop {
            match self.next_item() {
                Some(SseItem::Event(e)) => return e,
                Some(SseItem::Comment(_)) => continue,
                None => panic!("the event stream ended"),
            }
        }
    }
}

/// The server process's resident memory, bytes (`VmRSS`; the test servers run in it).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS in /proc/self/status")
}
