//! The SSE rules: wire format, replay, bounds, leaving.

use super::*;
use alloc::format;
use alloc::vec;
use core::task::Waker;

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn table(settings: SseSettings) -> SseTable<String> {
    SseTable::new(settings)
}

fn publish(t: &mut SseTable<String>, topic: &str, data: &str, id: Option<&str>) -> Published {
    let frame = format_event(data, None, id);
    let size = frame.len();
    t.publish(topic, frame, size, id)
}

#[test]
fn every_line_break_in_data_ends_a_data_line() {
    assert_eq!(format_event("x", None, None), "data: x\n\n");
    assert_eq!(format_event("", None, None), "data: \n\n");
    for data in ["a\nb\nc", "a\rb\rc", "a\r\nb\r\nc", "a\rb\nc", "a\r\nb\rc"] {
        assert_eq!(
            format_event(data, None, None),
            "data: a\ndata: b\ndata: c\n\n",
            "{data:?}"
        );
    }
    assert_eq!(
        format_event("a\n\rb", None, None),
        "data: a\ndata: \ndata: b\n\n"
    );
    assert_eq!(format_event("a\r", None, None), "data: a\ndata: \n\n");
    assert_eq!(
        format_event("d", Some("temp\revent: x"), Some("7\r\n\0")),
        "id: 7\nevent: tempevent: x\ndata: d\n\n"
    );
    // Whatever the input, the only line breaks are the format's own LFs.
    let nasty = "\r\r\n\n\r x \r\n";
    let out = format_event(nasty, Some(nasty), Some(nasty));
    assert!(!out.contains('\r'));
    assert!(out.lines().all(|l| l.is_empty()
        || l.starts_with("data: ")
        || l.starts_with("id: ")
        || l.starts_with("event: ")));
}

#[test]
fn replay_after_last_event_id() {
    let mut t = table(SseSettings {
        replay: 3,
        ..SseSettings::default()
    });
    for i in 1..=4 {
        publish(&mut t, "t", &format!("e{i}"), Some(&i.to_string()));
    }
    let (_, replayed) = t.subscribe("t", Some("2")).unwrap();
    assert_eq!(replayed, vec!["id: 3\ndata: e3\n\n", "id: 4\ndata: e4\n\n"]);
    // An id no longer kept replays everything kept.
    assert_eq!(t.subscribe("t", Some("1")).unwrap().1.len(), 3);
    assert!(t.subscribe("t", None).unwrap().1.is_empty());
}

#[test]
fn replay_bytes_are_capped_per_topic() {
    let mut t = table(SseSettings {
        replay: 1000,
        replay_bytes: 1000,
        ..SseSettings::default()
    });
    for i in 0..100 {
        publish(&mut t, "t", &"x".repeat(100), Some(&i.to_string()));
        assert!(t.replay_bytes() <= 1000);
    }
    // An event larger than the cap is delivered but not kept.
    publish(&mut t, "u", &"x".repeat(2000), None);
    assert_eq!(t.topic_count(), 1);
}

#[test]
fn topics_without_subscribers_or_replay_are_dropped_and_capped() {
    let mut t = table(SseSettings {
        replay: 0,
        max_topics: 4,
        ..SseSettings::default()
    });
    for i in 0..10_000 {
        publish(&mut t, &format!("random-{i}"), "x", None);
    }
    assert_eq!(t.topic_count(), 0, "no subscriber, no replay: nothing kept");

    let mut t = table(SseSettings {
        max_topics: 4,
        ..SseSettings::default()
    });
    for i in 0..10_000 {
        publish(&mut t, &format!("random-{i}"), "x", None);
    }
    assert_eq!(t.topic_count(), 4, "replay-only topics stop at the cap");
    // A subscriber still gets its topic (subscribers are bounded by connections).
    let (s, _) = t.subscribe("live", None).unwrap();
    assert_eq!(publish(&mut t, "live", "hi", None).reached, 1);
    assert_eq!(
        t.poll(s, &cx()),
        Poll::Ready(SsePoll::Events(vec![format_event("hi", None, None)]))
    );
}

#[test]
fn a_subscriber_leaves_with_its_connection() {
    let mut t = table(SseSettings {
        replay: 0,
        ..SseSettings::default()
    });
    let (a, _) = t.subscribe("t", None).unwrap();
    assert_eq!(t.topic_count(), 1);
    t.unsubscribe(a);
    assert_eq!(t.topic_count(), 0);
    assert_eq!(publish(&mut t, "t", "x", None).reached, 0);
    assert_eq!(t.poll(a, &cx()), Poll::Ready(SsePoll::Ended));
}

#[test]
fn a_subscriber_that_falls_behind_is_dropped() {
    let mut t = table(SseSettings {
        queue: 2,
        ..SseSettings::default()
    });
    let (slow, _) = t.subscribe("s", None).unwrap();
    assert_eq!(publish(&mut t, "s", "1", None).reached, 1);
    assert_eq!(publish(&mut t, "s", "2", None).reached, 1);
    let third = publish(&mut t, "s", "3", None);
    assert_eq!((third.reached, third.lagged), (0, vec![slow]));
    assert_eq!(t.subscribers("s"), 0);
    assert_eq!(t.poll(slow, &cx()), Poll::Ready(SsePoll::Lagged));
    // Byte bound too: one big event fits an empty queue, the next does not.
    let mut t = table(SseSettings {
        queue_bytes: 200,
        ..SseSettings::default()
    });
    let (s, _) = t.subscribe("s", None).unwrap();
    publish(&mut t, "s", &"x".repeat(500), None);
    assert_eq!(publish(&mut t, "s", "y", None).lagged, vec![s]);
}

#[test]
fn close_ends_every_subscription() {
    let mut t = table(SseSettings::default());
    let (a, _) = t.subscribe("t", None).unwrap();
    assert!(t.poll(a, &cx()).is_pending());
    t.close();
    assert_eq!(t.poll(a, &cx()), Poll::Ready(SsePoll::Ended));
    assert!(t.subscribe("t", None).is_none());
    assert_eq!(publish(&mut t, "t", "x", None).reached, 0);
}

#[test]
fn heartbeat_is_due_a_period_after_the_last_send() {
    let mut h = Heartbeat::new(1000, 100);
    assert_eq!(h.deadline(), 1100);
    assert!(!h.due(1099));
    h.reset(1050);
    assert!(!h.due(1100));
    assert!(h.due(1150));
    assert_eq!(h.deadline(), 1250);
}
