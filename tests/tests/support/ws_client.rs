//! A minimal blocking WebSocket client for the black-box tests: handshake, masked
//! frames out, unmasked frames in. Test-only; every failure panics with context.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct WsClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl WsClient {
    /// Connects and upgrades; panics unless the server answers 101 with the right accept.
    pub fn connect(addr: SocketAddr, path: &str) -> WsClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut w = stream.try_clone().expect("clone");
        write!(
            w,
            "GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("handshake");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("handshake response");
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        WsClient { stream, reader }
    }

    fn send(&mut self, op: u8, payload: &[u8]) {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | op];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).expect("send frame");
    }

    pub fn send_text(&mut self, text: &str) {
        self.send(1, text.as_bytes());
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send(2, data);
    }

    pub fn ping(&mut self, data: &[u8]) {
        self.send(9, data);
    }

    /// The next frame: opcode and payload.
    pub fn recv(&mut self) -> (u8, Vec<u8>) {
        let mut h = [0u8; 2];
        self.reader.read_exact(&mut h).expect("frame header");
        assert_eq!(h[1] & 0x80, 0, "server frames are unmasked");
        let len = match h[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                self.reader.read_exact(&mut b).expect("len16");
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.reader.read_exact(&mut b).expect("len64");
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.reader.read_exact(&mut payload).expect("payload");
        (h[0] & 0x0F, payload)
    }

    /// The next frame as JSON text.
    pub fn recv_json(&mut self) -> serde_json::Value {
        let (op, payload) = self.recv();
        assert_eq!(op, 1, "text frame expected, got {op}: {payload:?}");
        serde_json::from_slice(&payload).expect("JSON message")
    }

    /// Sends a close and returns the code of the server's answering close frame.
    pub fn close(&mut self, code: u16) -> Option<u16> {
        self.send(8, &code.to_be_bytes());
        loop {
            let (op, payload) = self.recv();
            if op == 8 {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    }
}
