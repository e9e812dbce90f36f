//! The plugin store image a device reads from flash: any bytes parse to entries or an
//! error (never a panic, never a read past the image), and whatever parses packs back to
//! an image that parses to the same entries. The input is tried as it is, and as a body
//! under a header with the right length and CRC, so the fuzzer reaches the entry parser
//! instead of stopping at the checksum.
#![no_main]

use berth_embedded::store::{image_len, pack, parse, MAGIC};
use libfuzzer_sys::fuzz_target;

fn check(image: &[u8]) {
    let _ = image_len(image);
    if let Ok(entries) = parse(image) {
        if let Ok(again) = pack(&entries) {
            assert_eq!(parse(&again).expect("a packed image parses"), entries);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let Some((&count, body)) = data.split_first() else {
        return;
    };
    let mut image = MAGIC.to_vec();
    image.extend_from_slice(&u32::from(count % 8).to_le_bytes());
    image.extend_from_slice(&(body.len() as u32).to_le_bytes());
    image.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    image.extend_from_slice(body);
    check(&image);
});
