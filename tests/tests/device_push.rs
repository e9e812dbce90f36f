//! Pushing plugins to a running device, on the embedded runtime's own loop on a desktop
//! socket: the store is the A/B layout on an in-memory block device, booted the way the
//! QEMU image and the firmware boot (`Server::boot_reading`, then `enable_admin`).
//!
//! The hot-swap semantics: a push replaces the set new requests get, a WebSocket opened
//! before it keeps its version, the timers are re-planned, a plugin whose `setup` traps
//! is 422 with the old one still serving, and a plugin that fails at boot is skipped
//! (listed as not running) instead of stopping the device. (QEMU's `cargo xtask qemu
//! --example push` drives the same endpoint with `berth device` and real reboots.)

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_embedded::block::{BlockDevice, MemDevice};
use berth_embedded::desktop::{self, StdPlatform, TcpListener};
use berth_embedded::slots::{self, AbStore};
use berth_embedded::store::{self, AdminEntry, Entry, Image};
use berth_embedded::store_edit::Catalog;
use berth_embedded::{Admin, GpioGrant, Options, PluginReader, Server, StoreIndex};
use berth_engine_wasmi::WasmiEngine;
use berth_tests::{guests, plugins};
use serde_json::{json, Value};

#[path = "support/ws_client.rs"]
#[allow(dead_code)]
mod ws_client;
use ws_client::WsClient;

const TOKEN: &str = "desk-token";

struct Reader<'a> {
    store: &'a mut AbStore<Box<dyn BlockDevice>>,
    index: &'a StoreIndex,
    buf: Vec<u8>,
}

impl PluginReader for Reader<'_> {
    fn read(&mut self, i: usize) -> Result<&[u8], String> {
        let p = &self.index.plugins[i];
        self.buf.resize(p.len, 0);
        self.store
            .read(p.offset, &mut self.buf)
            .map_err(|e| e.to_string())?;
        Ok(&self.buf)
    }
}

/// What the plugins logged (`plugin: message`).
type Logs = Arc<Mutex<Vec<String>>>;

/// A device booted from a store holding `plugins`, serving on a loopback port until
/// the returned flag is set.
fn device(plugins: &[(&str, &[u8])]) -> (SocketAddr, Arc<AtomicBool>) {
    let (addr, stop, _) = device_logged(plugins);
    (addr, stop)
}

fn device_logged(plugins: &[(&str, &[u8])]) -> (SocketAddr, Arc<AtomicBool>, Logs) {
    let logs: Logs = Arc::default();
    let sink = logs.clone();
    let image = store::pack(&Image {
        plugins: plugins
            .iter()
            .map(|(name, wasm)| Entry {
                name,
                config: Vec::new(),
                gpio: GpioGrant::NONE,
                dirs: Vec::new(),
                wasm,
            })
            .collect(),
        admin: Some(AdminEntry {
            token_sha256: store::token_hash(TOKEN),
            max_upload: 1 << 20,
        }),
        ..Image::default()
    })
    .expect("pack");
    let dev = slots::format(MemDevice::new(512, 2 * 4097), &image).expect("format");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut store = AbStore::open(Box::new(dev) as Box<dyn BlockDevice>).expect("open");
        let len = store.active().expect("committed").len;
        let mut image = vec![0; len];
        store.read(0, &mut image).expect("read");
        let mut index = StoreIndex::of(&image).expect("index");
        let catalog = Catalog::of(&index, len);
        let configs = index.take_configs();
        let sources = index.sources(configs);
        let mut reader = Reader {
            store: &mut store,
            index: &index,
            buf: Vec::new(),
        };
        let options = Options::device();
        let engine = Box::new(WasmiEngine::new(options.limits.engine()));
        let platform = Arc::new(StdPlatform::new(Box::new(move |plugin, _, message| {
            if !plugin.is_empty() {
                let line = format!("{plugin}: {message}");
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        })));
        let mut server =
            Server::boot_reading(&*engine, platform, options, &sources, &mut reader).expect("boot");
        drop(reader);
        let hash = store::token_hash(TOKEN);
        server.enable_admin(Admin::new(hash, 1 << 20, engine, store, catalog));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        tx.send(listener.local_addr().expect("addr")).expect("send");
        desktop::run(&server, &listener, flag);
    });
    (rx.recv().expect("the device started"), stop, logs)
}

/// Waits until `line` is among the plugins' log lines.
fn logged(logs: &Logs, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|l| l == line)
    {
        assert!(Instant::now() < deadline, "no {line:?} in {logs:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("http://{addr}{path}"))
        .send()
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn put(addr: SocketAddr, name: &str, wasm: &[u8]) -> (u16, Value) {
    let r = client()
        .put(format!("http://{addr}/_berth/plugins/{name}"))
        .bearer_auth(TOKEN)
        .body(wasm.to_vec())
        .send()
        .expect("PUT");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn listed(addr: SocketAddr) -> Vec<(String, bool)> {
    let r = client()
        .get(format!("http://{addr}/_berth/plugins"))
        .bearer_auth(TOKEN)
        .send()
        .expect("list");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().expect("JSON");
    v["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").into(),
                p["running"] == true,
            )
        })
        .collect()
}

#[test]
fn a_push_swaps_new_requests_while_an_open_websocket_keeps_its_version() {
    let (addr, stop, logs) = device_logged(&[("live", guests::LIVE_V1)]);
    assert_eq!(get(addr, "/live"), (200, json!({"version": 1})));
    logged(&logs, "live: live v1 started");
    let mut ws = WsClient::connect(addr, "/live/ws");
    ws.send_text("a");
    assert_eq!(ws.recv(), (1, b"v1: a".to_vec()));

    let (status, body) = put(addr, "live", guests::LIVE_V2);
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(addr, "/live"), (200, json!({"version": 2})));
    // The old version's server-stop hook ran, then the new one's server-start.
    logged(&logs, "live: live v1 stopped");
    logged(&logs, "live: live v2 started");
    // The session opened on v1 stays on v1 to its end; a new one gets v2.
    ws.send_text("b");
    assert_eq!(ws.recv(), (1, b"v1: b".to_vec()));
    let mut ws2 = WsClient::connect(addr, "/live/ws");
    ws2.send_text("c");
    assert_eq!(ws2.recv(), (1, b"v2: c".to_vec()));
    // The timers were re-planned: v2's timer writes the tick now.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if get(addr, "/live/tick").1 == json!({"tick": "v2"}) {
            break;
        }
        assert!(Instant::now() < deadline, "v2's timer never ticked");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_plugin_whose_setup_traps_is_422_and_the_old_version_serves() {
    let (addr, stop) = device(&[("live", guests::LIVE_V1), ("hello", plugins::HELLO)]);
    let (status, body) = put(addr, "live", guests::LIVE_TRAP);
    assert_eq!(status, 422, "{body}");
    let why = body["error"].as_str().unwrap_or_default();
    assert!(why.contains("setup"), "{why}");
    assert_eq!(get(addr, "/live"), (200, json!({"version": 1})));
    // Nothing was committed: the list is as it was.
    assert_eq!(
        listed(addr),
        [("live".to_string(), true), ("hello".to_string(), true)]
    );
    // A new plugin goes last; removing it takes its routes away.
    let (status, _) = put(addr, "users", plugins::USERS);
    assert_eq!(status, 201);
    assert_eq!(get(addr, "/api/users"), (200, json!({"users": []})));
    let r = client()
        .delete(format!("http://{addr}/_berth/plugins/users"))
        .bearer_auth(TOKEN)
        .send()
        .expect("DELETE");
    assert_eq!(r.status(), 200);
    assert_eq!(get(addr, "/api/users").0, 404);
    assert_eq!(get(addr, "/hello").0, 200);
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_plugin_that_fails_at_boot_is_skipped_not_fatal() {
    let (addr, stop) = device(&[("live", guests::LIVE_TRAP), ("hello", plugins::HELLO)]);
    assert_eq!(get(addr, "/hello").0, 200);
    assert_eq!(get(addr, "/live").0, 404);
    assert_eq!(
        listed(addr),
        [("live".to_string(), false), ("hello".to_string(), true)]
    );
    // The stored, broken plugin is replaced by a working one.
    assert_eq!(put(addr, "live", guests::LIVE_V2).0, 201);
    assert_eq!(get(addr, "/live"), (200, json!({"version": 2})));
    stop.store(true, Ordering::Relaxed);
}
