//! WASI 0.2 for the components that import it (Python plugins: componentize-py links
//! CPython against `wasi:cli`, `wasi:io`, `wasi:clocks`, `wasi:random` and the rest).
//!
//! Nothing is granted: no preopened folders, no environment, no arguments, no stdin, no
//! sockets (TCP, UDP and name lookup are switched off, and no address would pass the
//! default check anyway). Clocks and randomness work. What the guest writes to stdout
//! and stderr becomes its log lines (`info` and `warn`), one per line, under the
//! plugin's name — `print()` in a Python handler is a log line.
//!
//! A component that imports nothing from `wasi:` never sees any of this: it is linked
//! and instantiated exactly as before (see [`imports_wasi`]).

use std::sync::{Arc, Mutex};

use berth_core::host::{Level, PluginHost};
use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::StoreData;

/// The longest log line kept from stdout or stderr; a longer one is logged in pieces of
/// this size, so a guest that never writes a newline cannot make the host buffer grow.
const MAX_LINE: usize = 4096;

/// Whether a component imports any WASI interface (a `wasi:` import at its top level:
/// componentize-py's output imports a dozen; a Rust plugin built by `berth build`, none).
pub fn imports_wasi(bytes: &[u8]) -> bool {
    use wasmparser::{Parser, Payload};
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentImportSection(imports)) if depth == 0 => {
                if imports
                    .into_iter()
                    .flatten()
                    .any(|i| i.name.name.starts_with("wasi:"))
                {
                    return true;
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// One instance's WASI context and the resource table its streams and pollables live in.
pub struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiState {
    /// A context that grants nothing but clocks, randomness, and stdout/stderr as logs.
    pub fn new(host: &PluginHost) -> WasiState {
        let mut builder = WasiCtx::builder();
        builder
            .stdout(LogSink::new(host.clone(), Level::Info))
            .stderr(LogSink::new(host.clone(), Level::Warn))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        WasiState {
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let host = &self.host;
        let state = self
            .wasi
            .get_or_insert_with(|| Box::new(WasiState::new(host)));
        WasiCtxView {
            ctx: &mut state.ctx,
            table: &mut state.table,
        }
    }
}

/// stdout or stderr of one instance: bytes gathered into lines, each line logged at
/// `level` under the plugin's name. Every stream WASI opens on it shares the buffer.
#[derive(Clone)]
struct LogSink {
    host: PluginHost,
    level: Level,
    line: Arc<Mutex<Vec<u8>>>,
}

impl LogSink {
    fn new(host: PluginHost, level: Level) -> LogSink {
        LogSink {
            host,
            level,
            line: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn write_bytes(&self, mut bytes: &[u8]) {
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        while !bytes.is_empty() {
            let room = MAX_LINE - line.len();
            let take = match bytes.iter().position(|&b| b == b'\n') {
                Some(nl) if nl <= room => nl + 1,
                _ => bytes.len().min(room),
            };
            line.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if line.last() == Some(&b'\n') || line.len() >= MAX_LINE {
                self.emit(&mut line);
            }
        }
    }

    fn emit(&self, line: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            self.host.log(self.level, text);
        }
        line.clear();
    }
}

impl Drop for LogSink {
    /// The last, unterminated line is logged when the instance goes away.
    fn drop(&mut self) {
        if Arc::strong_count(&self.line) == 1 {
            let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
            if !line.is_empty() {
                let mut rest = std::mem::take(&mut *line);
                self.emit(&mut rest);
            }
        }
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogSink {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable: a line is logged (or cut at MAX_LINE) as soon as it is whole.
        Ok(MAX_LINE)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogSink {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogSink {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
