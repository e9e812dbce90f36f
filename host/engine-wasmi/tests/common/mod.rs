//! Shared test helpers: the test guest component, a test host, and requests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use berth_core::engine::EngineLimits;
use berth_core::host::{HostApi, Level, PluginHost};
use berth_core::model::{Method, Request, WsPayload};
use berth_core::state::{MemoryStore, StdClock, Store};

/// Builds `tests/guest` for wasm32-unknown-unknown and componentizes it (once per run).
pub fn guest_component() -> &'static [u8] {
    static COMPONENT: OnceLock<Vec<u8>> = OnceLock::new();
    COMPONENT.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guest/Cargo.toml");
        let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmi-test-guest");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "--manifest-path",
            ])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("RUSTFLAGS", "-C link-arg=-zstack-size=16384")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo for the test guest");
        assert!(
            status.success(),
            "building the test guest failed (is wasm32-unknown-unknown installed?)"
        );
        let core = std::fs::read(
            target_dir.join("wasm32-unknown-unknown/release/berth_wasmi_test_guest.wasm"),
        )
        .expect("read the test guest");
        wit_component::ComponentEncoder::default()
            .module(&core)
            .expect("guest module")
            .validate(true)
            .encode()
            .expect("componentize the test guest")
    })
}

/// A host that records logs and keeps state in memory.
#[derive(Default)]
pub struct TestHost {
    pub store: MemoryStore<StdClock>,
    pub logs: Mutex<Vec<(String, Level, String)>>,
}

impl HostApi for TestHost {
    fn log(&self, plugin: &str, level: Level, message: &str) {
        self.logs
            .lock()
            .expect("logs")
            .push((plugin.into(), level, message.into()));
    }
    fn store(&self) -> &dyn Store {
        &self.store
    }
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
    fn random_u64(&self) -> u64 {
        4
    }
    fn publish(&self, topic: &str, _data: &str, event: Option<&str>, _id: Option<&str>) -> u32 {
        u32::from(topic == "topic" && event == Some("ev")) * 3
    }
    fn ws_send(&self, _conn: u64, _msg: WsPayload) -> Result<(), berth_core::host::WsError> {
        Err(berth_core::host::WsError::NoSuchConnection)
    }
}

pub fn host() -> (Arc<TestHost>, PluginHost) {
    let api = Arc::new(TestHost::default());
    let host = PluginHost::new(api.clone(), "test");
    (api, host)
}

pub fn limits() -> EngineLimits {
    EngineLimits {
        call_timeout_ms: 200,
        memory_bytes: 8 << 20,
        ..EngineLimits::default()
    }
}

pub fn get(path: &str) -> Request {
    Request {
        id: 7,
        method: Method::Get,
        path: path.into(),
        query: String::new(),
        query_pairs: vec![],
        params: vec![],
        headers: vec![("host".into(), "localhost".into())],
        body: vec![],
        remote_addr: "127.0.0.1:5000".into(),
    }
}
