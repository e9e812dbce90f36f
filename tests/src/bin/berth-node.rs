//! One server node for the cluster suite (`tests/tests/cluster.rs`), in a process of its
//! own so a test can SIGKILL it: `berth-node <berth.toml>` serves that file, prints
//! `listening <addr> <ws addr> <admin addr>` once bound (`-` for a listener it does not
//! have), and shuts down gracefully when its stdin closes.

use std::io::{BufRead, Write};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: berth-node <berth.toml>");
    let config = berth_server::Config::load(path.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,cluster=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let server = match berth_server::Server::start(config).await {
            Ok(server) => server,
            Err(e) => {
                // A refusal the tests expect (bad password, untrusted certificate).
                eprintln!("berth-node: cannot start: {e}");
                std::process::exit(1);
            }
        };
        let or_dash =
            |a: Option<std::net::SocketAddr>| a.map_or("-".to_string(), |a| a.to_string());
        println!(
            "listening {} {} {}",
            server.local_addr(),
            or_dash(server.ws_addr()),
            or_dash(server.admin_addr())
        );
        std::io::stdout().flush().expect("stdout");
        let (closed_tx, closed) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            // Until the test drops our stdin.
            for _ in std::io::stdin().lock().lines() {}
            let _ = closed_tx.send(());
        });
        server
            .run(async {
                let _ = closed.await;
            })
            .await
            .expect("serve");
    });
}
