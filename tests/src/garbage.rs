//! A hostile plugin, written by hand: a core module in WAT whose `setup` is honest but
//! whose `handle` returns data that breaks the Canonical ABI on purpose. No compiler
//! would emit these results, so the module is hand-written and wrapped into a
//! component with `wit-component` (which checks its signatures against `wit/`).
//!
//! Routes (`GET`):
//! - `/garbage/ok` → 200 `ok` (the same module answering correctly);
//! - `/garbage/pointer` → a header list whose pointer is past the end of memory;
//! - `/garbage/utf8` → a header name that is not UTF-8;
//! - `/garbage/tag` → a body variant with discriminant 7 (it has 4 cases);
//! - `/garbage/length` → a body of 2 GiB at a valid pointer;
//! - `/garbage/return` → a return pointer outside memory;
//! - `/garbage/align` → a return pointer that is not 4-byte aligned.

use std::fmt::Write as _;

/// The routes, in handler-id order.
pub const ROUTES: [&str; 7] = [
    "/garbage/ok",
    "/garbage/pointer",
    "/garbage/utf8",
    "/garbage/tag",
    "/garbage/length",
    "/garbage/return",
    "/garbage/align",
];

/// Where `setup`'s result lives.
const SETUP_RESULT: u32 = 1024;
/// Where the strings, lists and routes `setup` points at live.
const STATIC_DATA: u32 = 2048;
/// Where each `handle` result lives (24 bytes each, one per route).
const RESPONSES: u32 = 8192;
/// Where `cabi_realloc` starts handing out memory.
const HEAP: u32 = 16384;

/// Lays out little-endian data at fixed addresses.
#[derive(Default)]
struct Image {
    segments: Vec<(u32, Vec<u8>)>,
    next: u32,
}

impl Image {
    fn at(&mut self, addr: u32, bytes: Vec<u8>) {
        self.segments.push((addr, bytes));
    }

    /// Places bytes in the static area (4-aligned); returns their address.
    fn put(&mut self, bytes: &[u8]) -> u32 {
        if self.next == 0 {
            self.next = STATIC_DATA;
        }
        let addr = self.next;
        self.segments.push((addr, bytes.to_vec()));
        self.next = (addr + bytes.len() as u32).div_ceil(4) * 4;
        addr
    }
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A `response` record: status u16 at 0, headers (ptr, len) at 4, body variant at 12
/// (discriminant byte, payload (ptr, len) at 16). 24 bytes.
fn response(status: u16, headers: (u32, u32), tag: u8, payload: (u32, u32)) -> Vec<u8> {
    let mut r = Vec::with_capacity(24);
    r.extend_from_slice(&status.to_le_bytes());
    r.extend_from_slice(&[0, 0]);
    r.extend(words(&[headers.0, headers.1]));
    r.extend_from_slice(&[tag, 0, 0, 0]);
    r.extend(words(&[payload.0, payload.1]));
    r
}

/// The module's text.
pub fn wat() -> String {
    let mut image = Image::default();
    // setup: ok(registration { name, routes, websockets: [], middleware: [], … })
    let name = image.put(b"garbage");
    let get = image.put(&[0]); // method.get
    let mut routes = Vec::new();
    for (handler, path) in ROUTES.iter().enumerate() {
        let path_ptr = image.put(path.as_bytes());
        routes.extend(words(&[
            get,
            1,
            path_ptr,
            path.len() as u32,
            handler as u32,
        ]));
    }
    let routes_ptr = image.put(&routes);
    let mut setup = vec![0u8, 0, 0, 0]; // result::ok
    setup.extend(words(&[name, 7, routes_ptr, ROUTES.len() as u32]));
    setup.extend(words(&[0; 10])); // five empty lists
    image.at(SETUP_RESULT, setup);

    // handle's results, one per route.
    let ok = image.put(b"ok");
    let not_utf8 = image.put(&[0xff, 0xfe, 0xfd]);
    let bad_header = image.put(&words(&[not_utf8, 3, ok, 2]));
    let responses = [
        response(200, (0, 0), 0, (ok, 2)),
        response(200, (0xffff_fff0, 4), 0, (ok, 2)),
        response(200, (bad_header, 1), 0, (ok, 2)),
        response(200, (0, 0), 7, (ok, 2)),
        response(200, (0, 0), 0, (ok, 0x8000_0000)),
    ];
    for (i, r) in responses.into_iter().enumerate() {
        image.at(RESPONSES + 24 * i as u32, r);
    }
    assert!(image.next < RESPONSES, "static data overlaps the responses");

    let mut data = String::new();
    for (addr, bytes) in &image.segments {
        let _ = write!(data, "  (data (i32.const {addr}) \"");
        for b in bytes {
            let _ = write!(data, "\\{b:02x}");
        }
        data.push_str("\")\n");
    }
    let p = "berth:plugin/guest@0.1.0#";
    format!(
        r#"(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const {HEAP}))
  ;; A bump allocator that starts over when the page is full: arguments live for one call.
  (func (export "cabi_realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (if (i32.gt_u (i32.add (local.get $ptr) (local.get $size)) (i32.const 65536))
      (then (local.set $ptr (i32.const {HEAP}))))
    (global.set $next (i32.add (local.get $ptr) (local.get $size)))
    (local.get $ptr))
  (func (export "{p}setup") (param i32 i32) (result i32)
    (i32.const {SETUP_RESULT}))
  ;; The arguments come through memory: the handler id is the first word.
  (func (export "{p}handle") (param $args i32) (result i32)
    (local $h i32)
    (local.set $h (i32.load (local.get $args)))
    (if (i32.lt_u (local.get $h) (i32.const 5))
      (then (return (i32.add (i32.const {RESPONSES}) (i32.mul (local.get $h) (i32.const 24))))))
    (if (i32.eq (local.get $h) (i32.const 5))
      (then (return (i32.const 0xfffffff0))))
    (if (i32.eq (local.get $h) (i32.const 6))
      (then (return (i32.const {RESPONSES_PLUS_2}))))
    unreachable)
  (func (export "{p}before") (param i32) (result i32) unreachable)
  (func (export "{p}after") (param i32) (result i32) unreachable)
  (func (export "{p}on-event")
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) unreachable)
  (func (export "{p}next-chunk") (param i32) (result i32) unreachable)
{data})"#,
        RESPONSES_PLUS_2 = RESPONSES + 2,
    )
}

/// The component: the module with the `plugin` world embedded, then componentized.
pub fn component() -> Vec<u8> {
    let mut module = wat::parse_str(wat()).unwrap_or_else(|e| panic!("garbage.wat: {e}"));
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(crate::repo_root().join("wit"))
        .unwrap_or_else(|e| panic!("wit/: {e}"));
    let world = resolve
        .select_world(&[package], Some("plugin"))
        .unwrap_or_else(|e| panic!("world plugin: {e}"));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap_or_else(|e| panic!("embed the world: {e}"));
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap_or_else(|e| panic!("garbage module: {e:#}"))
        .validate(true)
        .encode()
        .unwrap_or_else(|e| panic!("componentize garbage: {e:#}"))
}
