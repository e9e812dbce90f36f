//! The device's admin endpoint: pushing plugins to a running device.
//!
//! ```text
//! GET    /_berth/plugins          {"plugins":[{"name","size","sha256","running"}…],
//!                                   "heap":{"used","free"}}   (heap: when the board knows)
//! PUT    /_berth/plugins/<name>   body: the .wasm (Content-Length) → 201 new, 200 replaced
//! DELETE /_berth/plugins/<name>   → 200, 404 when the store has no such plugin
//! ```
//!
//! It is off (those paths are the plugins' like any other, so 404) unless the store
//! image carries an `[admin] token` ([`crate::store`] keeps its SHA-256). Every request
//! needs `Authorization: Bearer <token>`; the token's hash is compared with the stored
//! one in constant time (`subtle`), and anything else is 401 before a byte of body is read.
//!
//! An upload streams from the socket into the store's free slot ([`crate::slots`],
//! through [`crate::store_edit`]), bounded by `[admin] max_upload` and by the slot; it is
//! then read back, compiled, instantiated and set up in the heap that is left, and its
//! registration is assembled with the others'. Only when all of that succeeds is the new
//! image committed and the running set swapped ([`Server::swap`]): requests and
//! WebSocket sessions already running finish on the old version, new ones get the new;
//! the old version's `server-stop` hooks run, then the new one's `server-start` (as on
//! the server's hot swap).
//! A failure is 422 with the reason, and the old image and set stay as they were. A
//! removal is committed the same way. `size` and `sha256` (lower-case hex SHA-256 of the
//! `.wasm`) are read from the committed image, a sector at a time.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use berth_core::engine::Engine;
use berth_core::host::{HostApi, Level};
use berth_core::model::{Event, EventKind, Method, Response, ServerInfo};
use berth_core::pipeline::{Invoker, PluginEntry, Target};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::block::BlockDevice;
use crate::http::head::{body_kind, BodyKind, Head};
use crate::io::{read_until, send, InBuf};
use crate::net::{Connection, Platform};
use crate::plugins::Plugin;
use crate::server::{Live, Server};
use crate::slots::{AbStore, SlotError};
use crate::store;
use crate::store_edit::{Catalog, Edit};

/// Where the endpoint lives.
pub const PREFIX: &str = "/_berth/plugins";

/// The default `[admin] max_upload`: the largest `.wasm` a push may send, in bytes.
pub const DEFAULT_MAX_UPLOAD: usize = 1 << 20;

/// Whether `path` is the admin endpoint's.
pub fn is_admin_path(path: &str) -> bool {
    path == PREFIX
        || path
            .strip_prefix(PREFIX)
            .is_some_and(|r| r.starts_with('/'))
}

/// The store a device pushes plugins into.
pub type DeviceStore = AbStore<Box<dyn BlockDevice>>;

/// The admin endpoint's state: the token's hash, the store and what it holds, and the
/// engine that compiles uploads.
pub struct Admin {
    token_sha256: [u8; 32],
    max_upload: usize,
    engine: Box<dyn Engine>,
    /// Borrowed by one admin request at a time (another gets 409).
    store: RefCell<DeviceStore>,
    /// The committed image's plugins and layout.
    catalog: RefCell<Catalog>,
}

/// A finished admin exchange: the status, and whether the body was read whole (so the
/// connection may serve another request).
type Outcome = (u16, bool);

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::new();
    berth_core::json::write_str(&mut out, s);
    out
}

impl Admin {
    /// The endpoint over `store` (whose committed image `catalog` describes), accepting
    /// `token_sha256`'s token and uploads up to `max_upload` bytes, compiled by `engine`.
    pub fn new(
        token_sha256: [u8; 32],
        max_upload: usize,
        engine: Box<dyn Engine>,
        store: DeviceStore,
        catalog: Catalog,
    ) -> Admin {
        Admin {
            token_sha256,
            max_upload,
            engine,
            store: RefCell::new(store),
            catalog: RefCell::new(catalog),
        }
    }

    fn authorized(&self, head: &Head) -> bool {
        let Some(value) = head.header("authorization") else {
            return false;
        };
        let value = value.trim();
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let hash = store::token_hash(token.trim());
        hash.ct_eq(&self.token_sha256).into()
    }

    /// Answers one admin request (`path`: its decoded path). The connection is kept only
    /// when the outcome says so.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn serve<P: Platform, C: Connection>(
        &self,
        server: &Server<P>,
        conn: &mut C,
        buf: &mut InBuf,
        head: &Head,
        path: &str,
        method: Method,
    ) -> Outcome {
        let has_body = !matches!(body_kind(head, usize::MAX), Ok(BodyKind::Empty));
        let outcome = self.route(server, conn, buf, head, path, method).await;
        let (response, read_whole) = match outcome {
            Ok((response, read_whole)) => (response, read_whole),
            Err((status, why)) => {
                let mut r = Response::error(status, &why);
                if status == 401 {
                    r.headers
                        .push(("www-authenticate".into(), "Bearer realm=\"berth\"".into()));
                }
                if status == 405 {
                    let allow = if path.trim_end_matches('/') == PREFIX {
                        "GET"
                    } else {
                        "PUT, DELETE"
                    };
                    r.headers.push(("allow".into(), allow.into()));
                }
                // A refusal before the body was read leaves it unread: close.
                (r, !has_body)
            }
        };
        let status = response.status;
        let sent = send(conn, response, false, read_whole).await;
        (status, read_whole && sent)
    }

    #[allow(clippy::too_many_arguments)]
    async fn route<P: Platform, C: Connection>(
        &self,
        server: &Server<P>,
        conn: &mut C,
        buf: &mut InBuf,
        head: &Head,
        path: &str,
        method: Method,
    ) -> Result<(Response, bool), (u16, String)> {
        if !self.authorized(head) {
            return Err((401, "a valid admin token is required".into()));
        }
        let rest = path.strip_prefix(PREFIX).unwrap_or_default();
        if rest.is_empty() || rest == "/" {
            if method != Method::Get {
                return Err((405, "Method Not Allowed".into()));
            }
            return Ok((self.list(server)?, true));
        }
        let name = &rest[1..];
        if !store::valid_name(name) {
            return Err((
                400,
                format!(
                    "invalid plugin name (1-{} of a-z, A-Z, 0-9, '-', '_')",
                    store::MAX_NAME
                ),
            ));
        }
        match method {
            Method::Put => self.put(server, conn, buf, head, name).await,
            Method::Delete => Ok((self.remove(server, name).await?, true)),
            _ => Err((405, "Method Not Allowed".into())),
        }
    }

    fn busy() -> (u16, String) {
        (409, "another plugin change is in progress".into())
    }

    fn list<P: Platform>(&self, server: &Server<P>) -> Result<Response, (u16, String)> {
        let mut store = self.store.try_borrow_mut().map_err(|_| Admin::busy())?;
        let catalog = self.catalog.borrow();
        let live = server.live();
        let mut chunk = vec![0u8; 4096];
        let mut json = String::from("{\"plugins\":[");
        for (i, e) in catalog.plugins.iter().enumerate() {
            let mut hasher = Sha256::new();
            let mut done = 0;
            while done < e.wasm_len {
                let n = (e.wasm_len - done).min(chunk.len());
                store
                    .read(e.wasm_at + done, &mut chunk[..n])
                    .map_err(|e| (500, format!("{e}")))?;
                hasher.update(&chunk[..n]);
                done += n;
            }
            let running = live.plugins.iter().any(|p| p.name() == e.name);
            if i > 0 {
                json.push(',');
            }
            json.push_str(&format!(
                "{{\"name\":{},\"size\":{},\"sha256\":\"{}\",\"running\":{running}}}",
                json_str(&e.name),
                e.wasm_len,
                hex(&hasher.finalize())
            ));
        }
        json.push(']');
        // What a push has to fit in, and what pushes left behind: an operator's (and the
        // repeated-push check's) view of the heap.
        let platform = server.platform();
        if let (Some(used), Some(free)) = (platform.heap_used(), platform.heap_free()) {
            json.push_str(&format!(",\"heap\":{{\"used\":{used},\"free\":{free}}}"));
        }
        json.push('}');
        Ok(Response::json(200, json))
    }

    // The store stays borrowed while the upload streams in and the plugin is set up:
    // every other admin request only `try_borrow_mut`s it (→ 409), nothing else touches it.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn put<P: Platform, C: Connection>(
        &self,
        server: &Server<P>,
        conn: &mut C,
        buf: &mut InBuf,
        head: &Head,
        name: &str,
    ) -> Result<(Response, bool), (u16, String)> {
        let len = match body_kind(head, self.max_upload) {
            Ok(BodyKind::Length(n)) => n,
            Ok(BodyKind::Empty) => return Err((400, "the body must be the plugin's .wasm".into())),
            Ok(BodyKind::Chunked) => {
                return Err((411, "an upload needs a Content-Length".into()));
            }
            Err(413) => {
                let max = self.max_upload;
                return Err((413, format!("a plugin may have at most {max} bytes")));
            }
            Err(status) => return Err((status, "bad body framing".into())),
        };
        let mut store = self.store.try_borrow_mut().map_err(|_| Admin::busy())?;
        let old = self.catalog.borrow().clone();
        let replaced = old.get(name).map_or(0, |e| e.end() - e.start);
        let grown = old.len - replaced + len + name.len() + 18;
        if grown > store.capacity() {
            let room = store.capacity();
            return Err((
                413,
                format!("the store's slot holds {room} bytes; this image would need {grown}"),
            ));
        }
        if head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && conn
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return Err((400, "connection lost".into()));
        }
        let slot = |e: SlotError| (500, format!("{e}"));
        let mut edit = Edit::put(&mut store, &old, name, len).map_err(slot)?;
        let mut sha = Sha256::new();
        let timeout = server.options.limits.body_timeout_ms;
        while edit.remaining() > 0 {
            let take = edit.remaining().min(buf.pending().len());
            if take > 0 {
                let bytes = &buf.pending()[..take];
                sha.update(bytes);
                edit.upload(bytes).map_err(slot)?;
                buf.start += take;
                continue;
            }
            // `body_timeout` is for each stretch without bytes: an upload of a few hundred
            // KiB over Wi-Fi may take longer than that in all.
            let deadline = server.platform().now_ms().saturating_add(timeout);
            match read_until(server.platform(), conn, buf.free(), deadline).await {
                None => return Err((408, "the upload stalled".into())),
                Some(Ok(0)) | Some(Err(_)) => return Err((400, "the upload was cut off".into())),
                Some(Ok(n)) => buf.end += n,
            }
        }
        let (pending, catalog) = edit.finish().map_err(slot)?;
        let sha256 = hex(&sha.finalize());
        // Validate: the new image's copy of the plugin must load and `setup` now, in the
        // heap that is left, and fit with the others' registrations.
        let entry = catalog
            .get(name)
            .cloned()
            .ok_or((500, String::from("lost")))?;
        let mut bytes = Vec::new();
        if bytes.try_reserve_exact(len).is_err() {
            return Err((
                422,
                format!("not enough free heap to hold the {len}-byte plugin"),
            ));
        }
        bytes.resize(len, 0);
        store
            .read_pending(&pending, entry.wasm_at, &mut bytes)
            .map_err(slot)?;
        let module = self
            .engine
            .compile(&bytes)
            .map_err(|e| (422, format!("plugin {name}: {e}")))?;
        drop(bytes);
        let api: alloc::sync::Arc<dyn HostApi> = server.host.clone();
        let plugin = Plugin::new(name, module, api, entry.config.clone(), entry.gpio);
        let registration = plugin
            .start()
            .await
            .map_err(|e| (422, format!("plugin {name}: setup failed: {e}")))?;
        let live = server.live();
        let mut entries = live.app.plugins().to_vec();
        let mut plugins = live.plugins.clone();
        let entry = PluginEntry {
            name: name.into(),
            registration,
        };
        let created = match plugins.iter().position(|p| p.name() == name) {
            Some(i) => {
                entries[i] = entry;
                plugins[i] = Rc::new(plugin);
                false
            }
            None => {
                entries.push(entry);
                plugins.push(Rc::new(plugin));
                true
            }
        };
        let app = server
            .assemble(entries)
            .map_err(|e| (422, format!("{e}")))?;
        store.commit(pending).map_err(slot)?;
        *self.catalog.borrow_mut() = catalog;
        server.swap(Live { app, plugins });
        drop(store);
        server.log(
            Level::Info,
            format_args!("admin: plugin {name} pushed ({len} bytes, sha256 {sha256})"),
        );
        hook(
            server,
            &live,
            name,
            EventKind::ServerStop,
            &Event::ServerStop,
        )
        .await;
        drop(live);
        let info = ServerInfo {
            http_addr: server.http_addr.borrow().clone(),
            ws_addr: None,
        };
        let start = Event::ServerStart(info);
        hook(server, &server.live(), name, EventKind::ServerStart, &start).await;
        let status = if created { 201 } else { 200 };
        let json = format!(
            "{{\"name\":{},\"size\":{len},\"sha256\":\"{sha256}\"}}",
            json_str(name)
        );
        Ok((Response::json(status, json), true))
    }

    // The store is dropped before the hook's await (clippy does not see `drop`).
    #[allow(clippy::await_holding_refcell_ref)]
    async fn remove<P: Platform>(
        &self,
        server: &Server<P>,
        name: &str,
    ) -> Result<Response, (u16, String)> {
        let mut store = self.store.try_borrow_mut().map_err(|_| Admin::busy())?;
        let old = self.catalog.borrow().clone();
        if old.get(name).is_none() {
            return Err((404, format!("no plugin {name} in the store")));
        }
        let slot = |e: SlotError| (500, format!("{e}"));
        let (pending, catalog) = Edit::remove(&mut store, &old, name)
            .and_then(Edit::finish)
            .map_err(slot)?;
        let live = server.live();
        let keep: Vec<usize> = (0..live.plugins.len())
            .filter(|&i| live.plugins[i].name() != name)
            .collect();
        let entries = keep
            .iter()
            .map(|&i| live.app.plugins()[i].clone())
            .collect();
        let plugins = keep.iter().map(|&i| live.plugins[i].clone()).collect();
        let app = server
            .assemble(entries)
            .map_err(|e| (422, format!("{e}")))?;
        store.commit(pending).map_err(slot)?;
        *self.catalog.borrow_mut() = catalog;
        server.swap(Live { app, plugins });
        drop(store);
        server.log(Level::Info, format_args!("admin: plugin {name} removed"));
        hook(
            server,
            &live,
            name,
            EventKind::ServerStop,
            &Event::ServerStop,
        )
        .await;
        Ok(Response::json(
            200,
            format!("{{\"removed\":{}}}", json_str(name)),
        ))
    }
}

/// Runs plugin `name`'s `kind` hooks in `live` (nothing when it is not in that set).
async fn hook<P: Platform>(
    server: &Server<P>,
    live: &Live,
    name: &str,
    kind: EventKind,
    event: &Event,
) {
    let Some(index) = live.plugins.iter().position(|p| p.name() == name) else {
        return;
    };
    let targets: Vec<Target> = live.app.hooks(kind).filter(|t| t.plugin == index).collect();
    let mut invoker = server.invoker(live);
    for target in targets {
        let _ = invoker.on_event(target, event).await;
    }
}
