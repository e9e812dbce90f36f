//! Streamed bodies that are still open: `Response::stream` registers an iterator here
//! and the host pulls it chunk by chunk through `guest.next-chunk`.

use std::cell::RefCell;

type Chunks = Box<dyn Iterator<Item = Vec<u8>>>;

#[derive(Default)]
struct Streams {
    // Few streams are open at once: a list is smaller code than a map.
    open: Vec<(u32, Chunks)>,
    next: u32,
}

thread_local! {
    static STREAMS: RefCell<Streams> = RefCell::new(Streams::default());
}

/// Registers a streamed body; returns its id for `body::stream`.
pub(crate) fn add(chunks: Chunks) -> u32 {
    STREAMS.with(|s| {
        let mut s = s.borrow_mut();
        s.next = s.next.wrapping_add(1);
        let id = s.next;
        s.open.push((id, chunks));
        id
    })
}

/// The next chunk of `stream`; `None` when it ended (it is then forgotten) or is unknown.
pub(crate) fn next(stream: u32) -> Option<Vec<u8>> {
    // Take the iterator out while it runs, so it may itself call into the SDK.
    let mut chunks = STREAMS.with(|s| {
        let mut s = s.borrow_mut();
        let at = s.open.iter().position(|(id, _)| *id == stream)?;
        Some(s.open.swap_remove(at).1)
    })?;
    let next = chunks.next();
    if next.is_some() {
        STREAMS.with(|s| s.borrow_mut().open.push((stream, chunks)));
    }
    next
}

/// Forgets every open stream (a fresh `setup`).
pub(crate) fn clear() {
    STREAMS.with(|s| s.borrow_mut().open.clear());
}
