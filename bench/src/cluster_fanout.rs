//! The cluster benchmark's broadcast client (`cargo xtask bench`, `bench_cluster.rs`).
//!
//! ```text
//! cluster-fanout URL_A URL_B CLIENTS MESSAGES
//! ```
//!
//! Opens CLIENTS connections to seed 000's chat (the `chat` plugin on the dedicated
//! WebSocket port), alternating between node A and node B, all in one room; then one
//! more client on A sends MESSAGES chat messages, one at a time, each once every
//! client has heard the previous one. Prints the p50 and p99, in milliseconds, of the
//! time from a send to its arrival at each client on node B (the cross-node hop).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Result<Value> {
    while let Some(message) = ws.next().await {
        match message? {
            Message::Text(t) => return Ok(serde_json::from_str(&t)?),
            Message::Close(frame) => bail!("closed by the server: {frame:?}"),
            _ => continue,
        }
    }
    bail!("connection ended")
}

async fn joined(url: &str) -> Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("connect {url}"))?;
    let join = json!({"action": "join", "room": "bench"}).to_string();
    ws.send(Message::text(join)).await?;
    while next_json(&mut ws).await?["action"] != "joined" {}
    Ok(ws)
}

async fn fanout(a: &str, b: &str, clients: usize, messages: usize) -> Result<()> {
    let mut listeners = Vec::with_capacity(clients);
    for i in 0..clients {
        let on_b = i % 2 == 1;
        listeners.push((on_b, joined(if on_b { b } else { a }).await?));
    }
    // The sender's acks (`sent`) are read and dropped, so its queue never fills.
    let (mut sender, mut acks) = joined(a).await?.split();
    tokio::spawn(async move { while acks.next().await.is_some() {} });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, String, Instant)>();
    for (on_b, mut ws) in listeners {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(v) = next_json(&mut ws).await {
                if v["action"] == "message" {
                    let text = v["text"].as_str().unwrap_or_default().to_string();
                    let _ = tx.send((on_b, text, Instant::now()));
                }
            }
        });
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(messages * clients / 2);
    for m in 0..=messages {
        let text = format!("m{m}");
        let sent = Instant::now();
        let msg = json!({"action": "message", "text": text}).to_string();
        sender.send(Message::text(msg)).await?;
        let mut heard = 0;
        while heard < clients {
            let (on_b, got, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .with_context(|| format!("message {m}: {heard} of {clients} heard it"))?
                .context("every listener ended")?;
            if got != text {
                continue;
            }
            heard += 1;
            // Message 0 is the warm-up.
            if on_b && m > 0 {
                latencies.push(at.duration_since(sent).as_secs_f64() * 1000.0);
            }
        }
    }
    latencies.sort_by(|x, y| x.total_cmp(y));
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!("{:.3} {:.3}", pick(0.5), pick(0.99));
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, a, b, clients, messages] = args.as_slice() else {
        bail!("usage: cluster-fanout URL_A URL_B CLIENTS MESSAGES");
    };
    let (clients, messages) = (clients.parse()?, messages.parse()?);
    if clients < 2 || messages < 1 {
        bail!("need at least 2 clients and 1 message");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(fanout(a, b, clients, messages))
}
