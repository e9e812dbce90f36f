//! The registry's rules: rooms, data, queue accounting, first close wins.

use super::*;
use alloc::vec;

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn reg(send_queue: usize) -> WsRegistry<&'static str> {
    WsRegistry::new(10, send_queue)
}

#[test]
fn rooms_broadcast_and_leave_on_end() {
    let mut r = reg(1 << 20);
    let (a, b, c) = (r.open().unwrap(), r.open().unwrap(), r.open().unwrap());
    r.join(a, "general").unwrap();
    r.join(b, "general").unwrap();
    assert_eq!(r.room_members("general"), vec![a, b]);
    assert_eq!(r.broadcast(Some("general"), &"hi", 2, Some(a)), 1);
    assert_eq!(r.poll(b, &cx()), Poll::Ready(Outbox::Messages(vec!["hi"])));
    assert!(r.poll(a, &cx()).is_pending(), "the sender was excluded");
    assert_eq!(r.broadcast(None, &"all", 3, None), 3);
    r.end(b);
    assert_eq!(r.room_members("general"), vec![a]);
    assert_eq!(r.send(b, "x", 1), Err(WsError::NoSuchConnection));
    r.leave(a, "general").unwrap();
    assert!(r.room_members("general").is_empty());
    assert_eq!(r.len(), 2);
    let _ = c;
}

#[test]
fn empty_messages_are_bounded_by_their_item_cost() {
    let mut r = reg(10 * ITEM_OVERHEAD);
    let a = r.open().unwrap();
    let mut queued = 0;
    while r.send(a, "", 0).is_ok() {
        queued += 1;
        assert!(queued <= 10, "empty messages queue without bound");
    }
    assert_eq!(queued, 10);
    // Overflow closes with 1008 and drops the queue.
    assert_eq!(r.queued(a), 0);
    assert_eq!(
        r.poll(a, &cx()),
        Poll::Ready(Outbox::Close(1008, "Send queue full".into()))
    );
    assert_eq!(r.send(a, "", 0), Err(WsError::NoSuchConnection));
}

#[test]
fn an_empty_queue_takes_one_message_of_any_size() {
    let mut r = reg(100);
    let a = r.open().unwrap();
    r.send(a, "big", 1000).unwrap();
    assert_eq!(r.send(a, "y", 1), Err(WsError::QueueFull));
}

#[test]
fn first_close_wins_and_repeated_closes_cost_nothing() {
    let mut r = reg(1 << 20);
    let a = r.open().unwrap();
    r.send(a, "before", 6).unwrap();
    for i in 0..10_000 {
        r.close(a, 1000 + (i % 3), "bye").unwrap();
    }
    assert_eq!(r.queued(a), 6 + ITEM_OVERHEAD, "closes are not queued");
    assert_eq!(r.send(a, "after", 5), Err(WsError::NoSuchConnection));
    assert_eq!(
        r.poll(a, &cx()),
        Poll::Ready(Outbox::Messages(vec!["before"]))
    );
    assert_eq!(
        r.poll(a, &cx()),
        Poll::Ready(Outbox::Close(1000, "bye".into()))
    );
    assert_eq!(r.poll_close(a, &cx()), Poll::Ready((1000, "bye".into())));
}

#[test]
fn close_reasons_are_cut_on_a_character_boundary() {
    let long = "é".repeat(100); // 200 bytes
    let cut = close_reason(&long);
    assert!(
        cut.len() <= MAX_CLOSE_REASON && cut.len() == 122,
        "{}",
        cut.len()
    );
    assert_eq!(close_reason("short"), "short");
    let mut r = reg(1 << 20);
    let a = r.open().unwrap();
    r.close(a, 1000, &"x".repeat(500)).unwrap();
    assert_eq!(r.closing(a).unwrap().1.len(), MAX_CLOSE_REASON);
}

#[test]
fn only_sendable_close_codes_pass() {
    let sendable: Vec<u16> = (0..=u16::MAX).filter(|c| sendable_close_code(*c)).collect();
    assert_eq!(sendable.len(), 4 + 5 + 2000);
    for bad in [0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, u16::MAX] {
        assert!(!sendable_close_code(bad), "{bad}");
        assert_eq!(plugin_close(bad, "r"), (1000, "r", true));
    }
    assert_eq!(plugin_close(4000, "r"), (4000, "r", false));
}

#[test]
fn the_connection_cap_is_enforced_and_data_dies_with_the_connection() {
    let mut r: WsRegistry<&str> = WsRegistry::new(1, 1024);
    let a = r.open().unwrap();
    assert_eq!(r.open(), Err(RegisterError::Full));
    r.data_set(a, "username", Some("alice".into())).unwrap();
    assert_eq!(r.data_get(a, "username").as_deref(), Some("alice"));
    r.end(a);
    assert_eq!(r.data_get(a, "username"), None);
    assert!(r.open().is_ok());
}

#[test]
fn data_and_rooms_are_held_within_the_budget() {
    // Room for two entries of 1-byte keys and 1-byte values, or two rooms.
    let mut r = WsRegistry::<&str>::new(10, 1 << 20).with_budget(2 * (2 + ITEM_OVERHEAD), 2);
    let a = r.open().unwrap();
    r.data_set(a, "k", Some("v".into())).unwrap();
    // Rewriting a key at the same size, and removing one, never fails.
    r.data_set(a, "k", Some("w".into())).unwrap();
    r.data_set(a, "j", Some("v".into())).unwrap();
    r.data_set(a, "j", None).unwrap();
    r.data_set(a, "j", Some("v".into())).unwrap();
    // A third entry, even an empty one, is over: its cost is not zero.
    assert_eq!(
        r.data_set(a, "", Some(String::new())),
        Err(WsError::QueueFull)
    );
    assert_eq!(r.data_get(a, ""), None, "nothing was stored");
    assert_eq!(
        r.poll(a, &cx()),
        Poll::Ready(Outbox::Close(
            CLOSE_OVER_BUDGET.0,
            CLOSE_OVER_BUDGET.1.into()
        ))
    );

    // Rooms count by number, and their names count as data.
    let b = r.open().unwrap();
    r.join(b, "x").unwrap();
    r.join(b, "x").unwrap();
    r.join(b, "y").unwrap();
    assert_eq!(r.join(b, "z"), Err(WsError::QueueFull));
    assert!(r.room_members("z").is_empty());
    let c = r.open().unwrap();
    r.data_set(c, "k", Some("v".into())).unwrap();
    r.join(c, "r").unwrap();
    assert_eq!(r.join(c, "s"), Err(WsError::QueueFull), "over the bytes");
    // Leaving gives the room's share back.
    let d = r.open().unwrap();
    r.join(d, "x").unwrap();
    r.join(d, "y").unwrap();
    r.leave(d, "x").unwrap();
    r.leave(d, "x").unwrap();
    r.join(d, "z").unwrap();
    assert_eq!(r.room_members("z"), vec![d]);
}

#[test]
fn an_id_base_offsets_ids_and_what_a_connection_holds_is_listed() {
    let base = 3u64 << 40;
    let mut r: WsRegistry<&'static str> = WsRegistry::new(10, 1 << 20).with_id_base(base);
    let (a, b) = (r.open().unwrap(), r.open().unwrap());
    assert_eq!((a, b), (base + 1, base + 2));
    r.join(a, "x").unwrap();
    r.join(a, "y").unwrap();
    r.data_set(a, "name", Some("ann".into())).unwrap();
    assert_eq!(r.rooms_of(a), vec![String::from("x"), String::from("y")]);
    assert_eq!(r.data_keys(a), vec![String::from("name")]);
    assert!(r.rooms_of(b).is_empty() && r.data_keys(b).is_empty());
    let rooms: Vec<(&str, usize)> = r.rooms().map(|(room, m)| (room, m.len())).collect();
    assert_eq!(rooms, vec![("x", 1), ("y", 1)]);
    r.end(a);
    assert!(r.rooms_of(a).is_empty() && r.rooms().next().is_none());
}
