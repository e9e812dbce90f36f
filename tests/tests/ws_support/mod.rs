//! WebSocket clients for the tests: tokio-tungstenite for well-behaved clients, and a raw
//! TCP client that writes frames by hand, for the peers that break the rules.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single expected event may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs an async test body on a fresh runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(f)
}

/// Connects with tokio-tungstenite (which may send messages larger than the server takes).
pub async fn connect(url: &str) -> Ws {
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (ws, response) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    assert_eq!(response.status(), 101);
    ws
}

/// The HTTP status a refused upgrade got.
pub async fn refused_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => panic!("{url}: upgrade was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("{url}: {e}"),
    }
}

/// The next data message (pings and pongs are skipped).
pub async fn recv(ws: &mut Ws) -> Message {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a message");
        match next {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(message)) => return message,
            Some(Err(e)) => panic!("socket error: {e}"),
            None => panic!("socket closed"),
        }
    }
}

/// The next message, which must be text.
pub async fn recv_text(ws: &mut Ws) -> String {
    match recv(ws).await {
        Message::Text(text) => text.as_str().to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// The next message, parsed as JSON.
pub async fn recv_json(ws: &mut Ws) -> serde_json::Value {
    let text = recv_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Sends text.
pub async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

/// Sends JSON.
pub async fn send_json(ws: &mut Ws, value: serde_json::Value) {
    send(ws, &value.to_string()).await;
}

/// Starts the close handshake with 1000.
pub async fn close_normally(ws: &mut Ws) {
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    ws.close(Some(frame)).await.expect("close");
}

/// Reads until the server's close frame; returns its code and reason.
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for the close frame");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.as_str().to_string())
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error before the close frame: {e}"),
            None => panic!("socket ended without a close frame"),
        }
    }
}

/// A raw client: the handshake by hand, then frames by hand.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    /// Opens `path` on `addr`; `recv_buffer` shrinks the socket's receive buffer (a client
    /// that does not read fills up sooner).
    pub async fn connect(addr: SocketAddr, path: &str, recv_buffer: Option<u32>) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let mut stream = socket.connect(addr).await.expect("connect");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        // Read the response head byte by byte: nothing after it may be consumed.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
                .await
                .expect("handshake timed out")
                .expect("read");
            assert_eq!(n, 1, "connection closed during the handshake");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "handshake failed: {head}");
        assert!(
            head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "wrong accept key: {head}"
        );
        Raw { stream }
    }

    /// Writes one masked client frame.
    pub async fn frame(&mut self, fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) {
        self.write_frame(fin, rsv1, opcode, payload, Some([0x12, 0x34, 0x56, 0x78]))
            .await;
    }

    /// Writes one client frame, masked with `mask` or (against the rules) not at all.
    pub async fn write_frame(
        &mut self,
        fin: bool,
        rsv1: bool,
        opcode: u8,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) {
        let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
        let mask_bit = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(mask_bit | n as u8),
            n if n < 65536 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(mask) => {
                out.extend_from_slice(&mask);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        // The peer may already have closed (that is what some tests provoke).
        let _ = self.stream.write_all(&out).await;
    }

    /// Reads one server frame: its opcode and payload.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).await.ok()?;
        assert_eq!(head[1] & 0x80, 0, "server frames are never masked");
        let len = match head[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).await.ok()?;
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).await.ok()?;
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some((head[0] & 0x0F, payload))
    }

    /// Reads frames (skipping data and pings, answering nothing) until the close frame;
    /// returns its code.
    pub async fn expect_close(&mut self) -> u16 {
        let read = async {
            loop {
                match self.read_frame().await {
                    Some((0x8, payload)) if payload.len() >= 2 => {
                        return u16::from_be_bytes([payload[0], payload[1]])
                    }
                    Some((0x8, _)) => return 1005,
                    Some(_) => continue,
                    None => panic!("connection ended without a close frame"),
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("timed out waiting for the close frame")
    }
}

/// Seed 000's chat room, as one session of four clients on `url` (its Rust and Python
/// plugins both serve it): names, rooms, a message reaching only its room, the
/// default room, and a member leaving.
pub async fn seed000_chat_session(url: &str) {
    let (mut alice, mut bob, mut carol) =
        (connect(url).await, connect(url).await, connect(url).await);
    send_json(&mut alice, json!({"type": "set_name", "name": "alice"})).await;
    recv_json(&mut alice).await;
    for (ws, room) in [(&mut alice, "dev"), (&mut bob, "dev"), (&mut carol, "ops")] {
        send_json(ws, json!({"action": "join", "room": room})).await;
        assert_eq!(
            recv_json(ws).await,
            json!({"action": "joined", "room": room})
        );
    }
    send_json(&mut alice, json!({"action": "message", "text": "hi dev"})).await;
    assert_eq!(recv_json(&mut alice).await, json!({"action": "sent"}));
    assert_eq!(
        recv_json(&mut bob).await,
        json!({"action": "message", "from": "alice", "text": "hi dev"})
    );
    // bob never set a name: the seed's ws:connect made him "anonymous".
    send_json(&mut bob, json!({"action": "message", "text": "hello"})).await;
    assert_eq!(recv_json(&mut bob).await, json!({"action": "sent"}));
    assert_eq!(
        recv_json(&mut alice).await,
        json!({"action": "message", "from": "anonymous", "text": "hello"})
    );
    // carol (another room) got nothing: her next message is her own ping's pong.
    send_json(&mut carol, json!({"type": "ping"})).await;
    assert_eq!(recv_json(&mut carol).await, json!({"type": "pong"}));

    // A message without a room is acknowledged and reaches nobody; the default
    // room is "general".
    let mut dave = connect(url).await;
    send_json(&mut dave, json!({"action": "message", "text": "anyone?"})).await;
    assert_eq!(recv_json(&mut dave).await, json!({"action": "sent"}));
    send_json(&mut dave, json!({"action": "join"})).await;
    assert_eq!(
        recv_json(&mut dave).await,
        json!({"action": "joined", "room": "general"})
    );

    // bob leaves: alice's messages reach nobody, and nothing breaks.
    bob.close(None).await.expect("close");
    drop(bob);
    send_json(&mut alice, json!({"action": "message", "text": "alone?"})).await;
    assert_eq!(recv_json(&mut alice).await, json!({"action": "sent"}));
}
