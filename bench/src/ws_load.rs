//! A WebSocket load client for the benchmarks.
//!
//! ```text
//! ws-load echo URL CONNS MESSAGES   # CONNS clients each do MESSAGES round trips;
//!                                   # prints messages/s
//! ws-load idle URL CONNS PID        # opens CONNS idle clients, prints the RSS growth
//!                                   # of process PID per connection, in bytes
//! ```
//!
//! Clients expect a greeting first (Berth's `/ws/echo` and `native-ws-echo` both send
//! "Welcome!"), then one answer per message.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: &str) -> Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("connect {url}"))?;
    next_data(&mut ws).await.context("greeting")?;
    Ok(ws)
}

async fn next_data(ws: &mut Ws) -> Result<Message> {
    while let Some(message) = ws.next().await {
        match message? {
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(frame) => bail!("closed by the server: {frame:?}"),
            data => return Ok(data),
        }
    }
    bail!("connection ended")
}

async fn echo(url: &str, conns: usize, messages: usize) -> Result<()> {
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        clients.push(open(url).await?);
    }
    let payload = "x".repeat(32);
    let started = Instant::now();
    let tasks = clients.into_iter().map(|mut ws| {
        let payload = payload.clone();
        tokio::spawn(async move {
            for _ in 0..messages {
                ws.send(Message::text(payload.clone())).await?;
                next_data(&mut ws).await?;
            }
            anyhow::Ok(())
        })
    });
    for task in futures_util::future::join_all(tasks).await {
        task??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("{:.0}", (conns * messages) as f64 / elapsed);
    Ok(())
}

fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kib * 1024)
}

async fn idle(url: &str, conns: usize, pid: u32) -> Result<()> {
    // Warm up (worker threads, pools), then measure what the idle connections add.
    let warm = open(url).await?;
    drop(warm);
    let before = rss_bytes(pid)?;
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        clients.push(open(url).await?);
    }
    let after = rss_bytes(pid)?;
    println!("{}", after.saturating_sub(before) / conns as u64);
    drop(clients);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Result<usize> {
        args.get(i)
            .context("missing argument")?
            .parse()
            .context("not a number")
    };
    match args.first().map(String::as_str) {
        Some("echo") => echo(args.get(1).context("URL")?, num(2)?, num(3)?).await,
        Some("idle") => idle(args.get(1).context("URL")?, num(2)?, num(3)? as u32).await,
        _ => bail!("usage: ws-load echo URL CONNS MESSAGES | ws-load idle URL CONNS PID"),
    }
}
