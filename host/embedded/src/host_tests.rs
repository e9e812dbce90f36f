use super::*;
use alloc::vec;
use berth_core::state::StateError;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::Waker;

/// A platform whose clock the test moves by hand.
#[derive(Default)]
struct Manual {
    now: AtomicU64,
}

impl Platform for Manual {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
    fn unix_ms(&self) -> u64 {
        1_700_000_000_000 + self.now_ms()
    }
    fn random_u64(&self) -> u64 {
        4
    }
    fn log(&self, _: &str, _: Level, _: fmt::Arguments<'_>) {}
    async fn sleep_until(&self, _: u64) {}
}

fn host(queue: usize) -> (Arc<Manual>, EmbeddedHost<Manual>) {
    let p = Arc::new(Manual::default());
    let limits = Limits {
        ws_send_queue: queue,
        ..Limits::default()
    };
    (p.clone(), EmbeddedHost::new(p, &limits))
}

fn drain<T>(poll: Poll<Result<Vec<T>, ()>>) -> Result<Vec<T>, ()> {
    match poll {
        Poll::Ready(r) => r,
        Poll::Pending => Ok(Vec::new()),
    }
}

fn text(s: &str) -> WsPayload {
    WsPayload::Text(s.into())
}

#[test]
fn store_ttl_incr_and_keys() {
    let (clock, host) = host(100);
    let s = host.store();
    s.set("p", "a/1", b"x".to_vec(), Some(100)).unwrap();
    s.set("p", "a/2", b"y".to_vec(), None).unwrap();
    s.set("p", "b/1", b"z".to_vec(), None).unwrap();
    assert_eq!(s.keys("p", "a/").unwrap(), ["a/1", "a/2"]);
    assert_eq!(s.incr("p", "n", 2), Ok(2));
    assert_eq!(s.incr("p", "n", -5), Ok(-3));
    assert_eq!(s.incr("p", "a/2", 1), Err(StateError::NotAnInteger));
    clock.now.store(100, Ordering::Relaxed);
    assert_eq!(s.get("p", "a/1").unwrap(), None, "expired at its deadline");
    assert_eq!(s.keys("p", "a/").unwrap(), ["a/2"]);
    assert!(s.delete("p", "a/2").unwrap());
    assert!(!s.delete("p", "a/2").unwrap());
    s.set("p", "t", b"5".to_vec(), Some(10)).unwrap();
    assert_eq!(s.incr("p", "t", 1), Ok(6));
    clock.now.store(111, Ordering::Relaxed);
    assert_eq!(s.get("p", "t").unwrap(), None, "incr keeps the expiry");
}

#[test]
fn store_quota_comes_from_the_limits() {
    let p = Arc::new(Manual::default());
    let limits = Limits {
        state_max_keys: 2,
        ..Limits::default()
    };
    let host = EmbeddedHost::new(p, &limits);
    let s = host.store();
    s.set("p", "a", Vec::new(), None).unwrap();
    s.set("p", "b", Vec::new(), None).unwrap();
    assert_eq!(
        s.set("p", "c", Vec::new(), None),
        Err(StateError::TooManyKeys { max: 2 })
    );
}

#[test]
fn ws_send_rooms_and_broadcast() {
    let (_, host) = host(1000);
    let mut cx = Context::from_waker(Waker::noop());
    let (a, b, c) = (host.ws_open(), host.ws_open(), host.ws_open());
    host.ws_join(a, "general").unwrap();
    host.ws_join(b, "general").unwrap();
    assert_eq!(host.ws_room_members("general"), [a, b]);
    assert_eq!(host.ws_broadcast(Some("general"), text("hi"), Some(a)), 1);
    assert_eq!(host.ws_broadcast(None, text("all"), None), 3);
    assert_eq!(
        drain(host.ws_poll(b, &mut cx)).unwrap(),
        [
            Outgoing::Message(text("hi")),
            Outgoing::Message(text("all"))
        ]
    );
    assert_eq!(
        drain(host.ws_poll(a, &mut cx)).unwrap(),
        [Outgoing::Message(text("all"))]
    );
    assert!(host.ws_poll(a, &mut cx).is_pending());
    host.ws_send(c, text("direct")).unwrap();
    host.ws_close(c, 1000, "bye").unwrap();
    // First close wins; later ones queue nothing.
    for _ in 0..1000 {
        host.ws_close(c, 4000, "again").unwrap();
    }
    assert_eq!(
        drain(host.ws_poll(c, &mut cx)).unwrap(),
        [
            Outgoing::Message(text("all")),
            Outgoing::Message(text("direct")),
        ]
    );
    assert_eq!(
        drain(host.ws_poll(c, &mut cx)).unwrap(),
        [Outgoing::Close(1000, "bye".into())]
    );
    host.ws_leave(b, "general").unwrap();
    assert_eq!(host.ws_room_members("general"), [a]);
    host.ws_end(a);
    assert_eq!(host.ws_send(a, text("x")), Err(WsError::NoSuchConnection));
    assert_eq!(host.ws_room_members("general"), [] as [u64; 0]);
    assert_eq!(host.ws_count(), 2);
}

#[test]
fn ws_data_lives_with_the_connection() {
    let (_, host) = host(1000);
    let a = host.ws_open();
    host.ws_data_set(a, "user", Some("ada".into())).unwrap();
    assert_eq!(host.ws_data_get(a, "user").as_deref(), Some("ada"));
    host.ws_data_set(a, "user", None).unwrap();
    assert_eq!(host.ws_data_get(a, "user"), None);
    host.ws_end(a);
    assert_eq!(
        host.ws_data_set(a, "user", Some("x".into())),
        Err(WsError::NoSuchConnection)
    );
}

#[test]
fn a_full_queue_overflows_once_and_for_all() {
    let (_, host) = host(200);
    let mut cx = Context::from_waker(Waker::noop());
    let a = host.ws_open();
    host.ws_send(a, text("12345")).unwrap();
    host.ws_send(a, text("12345")).unwrap();
    // Empty messages cost their overhead: they cannot queue without bound either.
    assert_eq!(host.ws_send(a, text("")), Err(WsError::QueueFull));
    assert_eq!(host.ws_broadcast(None, text("x"), None), 0);
    assert_eq!(
        drain(host.ws_poll(a, &mut cx)),
        Ok(vec![Outgoing::Close(1008, "Send queue full".into())])
    );
}

#[test]
fn publish_reaches_subscribers_of_the_topic() {
    let (_, host) = host(1000);
    let mut cx = Context::from_waker(Waker::noop());
    let s1 = host.sse_subscribe("sensors");
    let s2 = host.sse_subscribe("other");
    assert_eq!(host.publish("sensors", "a\nb", Some("temp"), Some("7")), 1);
    assert_eq!(
        drain(host.sse_poll(s1, &mut cx)).unwrap(),
        ["id: 7\nevent: temp\ndata: a\ndata: b\n\n"]
    );
    assert!(host.sse_poll(s2, &mut cx).is_pending());
    host.sse_end(s1);
    assert_eq!(host.publish("sensors", "x", None, None), 0);
    host.sse_end(s2);
    // Replay keeps `sensors`; `other` had nothing left and went with its subscriber.
    assert_eq!(host.sse_topics(), 1);
}

#[test]
fn sse_fields_cannot_inject_lines() {
    assert_eq!(
        sse_event("d", Some("a\nevent: b"), Some("1\r\n")),
        "id: 1\nevent: aevent: b\ndata: d\n\n"
    );
    assert_eq!(sse_event("", None, None), "data: \n\n");
    // A bare CR ends a data line, as the client's parser reads it: it cannot start a
    // field of its own.
    assert_eq!(
        sse_event("a\rid: 9", None, None),
        "data: a\ndata: id: 9\n\n"
    );
}

/// A board with pins and a heap: the simulated bank and fixed figures.
#[derive(Default)]
struct Board {
    manual: Manual,
    pins: berth_core::device::SimulatedPins,
}

impl Platform for Board {
    fn now_ms(&self) -> u64 {
        self.manual.now_ms()
    }
    fn unix_ms(&self) -> u64 {
        self.manual.unix_ms()
    }
    fn random_u64(&self) -> u64 {
        4
    }
    fn log(&self, _: &str, _: Level, _: fmt::Arguments<'_>) {}
    async fn sleep_until(&self, _: u64) {}
    fn gpio_write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.pins.write(pin, high)
    }
    fn gpio_read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.pins.read(pin)
    }
    fn heap_free(&self) -> Option<u64> {
        Some(1000)
    }
    fn heap_used(&self) -> Option<u64> {
        Some(24)
    }
}

#[test]
fn devices_reach_the_platform_and_default_to_unsupported() {
    let (_, bare) = host(100);
    assert_eq!(bare.gpio_write("p", 2, true), Err(DeviceError::Unsupported));
    assert_eq!(bare.gpio_read("p", 2), Err(DeviceError::Unsupported));
    assert_eq!(bare.memory(), MemoryStats::default());

    let board = EmbeddedHost::new(Arc::new(Board::default()), &Limits::default());
    assert_eq!(board.gpio_write("p", 2, true), Ok(()));
    assert_eq!(board.gpio_read("p", 2), Ok(true));
    assert_eq!(board.gpio_read("p", 3), Ok(false));
    assert_eq!(board.gpio_write("p", 99, true), Err(DeviceError::NoSuchPin));
    assert_eq!(
        board.memory(),
        MemoryStats {
            free: 1000,
            used: 24
        }
    );
}

#[test]
fn memory_collect_frees_expired_state() {
    let (clock, host) = host(100);
    host.store()
        .set("p", "gone", b"x".to_vec(), Some(10))
        .unwrap();
    host.store().set("p", "kept", b"y".to_vec(), None).unwrap();
    clock.now.store(50, Ordering::Relaxed);
    assert_eq!(host.store.purge_expired(), 1);
    assert_eq!(host.store.purge_expired(), 0);
    host.store()
        .set("p", "gone", b"x".to_vec(), Some(10))
        .unwrap();
    clock.now.store(100, Ordering::Relaxed);
    host.memory_collect("p");
    assert_eq!(host.store.usage("p").0, 1, "only `kept` is left");
}
