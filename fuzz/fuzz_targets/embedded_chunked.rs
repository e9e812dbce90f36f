//! The embedded runtime's chunked-body decoder: any bytes, split anywhere, decode to the
//! same body and the same end (or the same refusal), never past `max`, never a panic.
#![no_main]

use berth_embedded::http::chunked::{ChunkError, ChunkedDecoder};
use libfuzzer_sys::fuzz_target;

fn decode(input: &[u8], piece: usize, max: usize) -> Result<Option<(Vec<u8>, usize)>, ChunkError> {
    let mut d = ChunkedDecoder::new(max);
    let mut body = Vec::new();
    let mut used = 0;
    for part in input.chunks(piece.max(1)) {
        let n = d.feed(part, &mut body)?;
        assert!(n <= part.len());
        assert!(body.len() <= max, "decoded past the limit");
        used += n;
        if d.is_done() {
            return Ok(Some((body, used)));
        }
        assert_eq!(n, part.len(), "stopped early without being done");
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let max = 4096;
    let whole = decode(input, input.len(), max);
    let split = decode(input, usize::from(piece % 16) + 1, max);
    assert_eq!(whole, split);
});
