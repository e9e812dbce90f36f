//! The server's log events, captured in-process as JSON lines (one global subscriber per
//! test binary, installed by the first [`capture`]): for the suites that check what an
//! operator's log shows (the expired-certificate warning, request ids on access and
//! plugin lines).

use std::sync::{Mutex, OnceLock};

/// The captured lines of this test binary.
pub struct Logs(&'static Mutex<Vec<u8>>);

impl Logs {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// The captured events, parsed (JSON: `target`, `level`, `fields`…).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Starts capturing (INFO and above) once; every call returns the same buffer.
pub fn capture() -> Logs {
    static BUFFER: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    let buffer = *BUFFER.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        use tracing_subscriber::util::SubscriberInitExt;
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .with_writer(move || Writer(buffer))
            .finish()
            .try_init();
        buffer
    });
    Logs(buffer)
}

struct Writer(&'static Mutex<Vec<u8>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
