//! The WebSocket baseline: a tokio-tungstenite echo server with no plugin layer, on the
//! same runtime settings as `berth serve`. Like Berth's `/ws/echo` it greets each client
//! with "Welcome!" and answers every message with `Echo: <text>` (binary unchanged), so
//! the load client treats both the same. Usage: `native-ws-echo [PORT]` (default 9001).

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    // Berth's settings: 64 KiB frames and messages, 4 KiB read chunks.
    let config = WebSocketConfig::default()
        .max_frame_size(Some(64 << 10))
        .max_message_size(Some(64 << 10))
        .read_buffer_size(4 << 10);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    if ws.send(Message::text("Welcome!")).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = ws.next().await {
        let reply = match message {
            Message::Text(text) => Message::text(format!("Echo: {}", text.as_str())),
            Message::Binary(bytes) => Message::Binary(bytes),
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9001);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream));
    }
}
