use super::*;
use alloc::vec;

/// A client frame: masked with a fixed key.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Feeds `input` in pieces of `piece` bytes; collects every item or the failure.
fn decode(input: &[u8], piece: usize) -> Result<Vec<Incoming>, Failure> {
    let mut d = Decoder::new(1 << 17, 1 << 18);
    let mut items = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    for part in input.chunks(piece) {
        buf.extend_from_slice(part);
        loop {
            let (used, item) = d.feed(&buf)?;
            buf.drain(..used);
            match item {
                Some(item) => items.push(item),
                None if used == 0 || buf.is_empty() => break,
                None => {}
            }
        }
    }
    assert!(buf.is_empty(), "unconsumed {buf:?}");
    Ok(items)
}

#[test]
fn rfc_handshake_example() {
    // RFC 6455 §1.3.
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn masked_text_whatever_the_split() {
    let mut input = client_frame(0x81, b"Hello");
    input.extend(client_frame(0x82, &[1, 2, 3]));
    input.extend(client_frame(0x89, b"p"));
    input.extend(client_frame(0x8A, b""));
    for piece in 1..=input.len() {
        assert_eq!(
            decode(&input, piece).unwrap(),
            vec![
                Incoming::Text("Hello".into()),
                Incoming::Binary(vec![1, 2, 3]),
                Incoming::Ping(b"p".to_vec()),
                Incoming::Pong
            ],
            "piece {piece}"
        );
    }
}

#[test]
fn lengths_16_and_64_bit() {
    let mid = vec![b'a'; 300];
    let big = vec![b'b'; 70_000];
    let mut input = client_frame(0x82, &mid);
    input.extend(client_frame(0x82, &big));
    for piece in [1, 7, 1000, input.len()] {
        let items = decode(&input, piece).unwrap();
        assert_eq!(
            items,
            vec![Incoming::Binary(mid.clone()), Incoming::Binary(big.clone())]
        );
    }
}

#[test]
fn fragments_are_reassembled_around_control_frames() {
    let mut input = client_frame(0x01, b"Hel");
    input.extend(client_frame(0x89, b"x"));
    input.extend(client_frame(0x00, b"lo "));
    input.extend(client_frame(0x80, "wörld".as_bytes()));
    for piece in 1..=input.len() {
        assert_eq!(
            decode(&input, piece).unwrap(),
            vec![
                Incoming::Ping(b"x".to_vec()),
                Incoming::Text("Hello wörld".into())
            ]
        );
    }
}

#[test]
fn close_frames() {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    assert_eq!(
        decode(&client_frame(0x88, &payload), 3).unwrap(),
        vec![Incoming::Close(1000, "bye".into())]
    );
    assert_eq!(
        decode(&client_frame(0x88, b""), 1).unwrap(),
        vec![Incoming::Close(1005, String::new())]
    );
    assert_eq!(decode(&client_frame(0x88, &[3]), 1).unwrap_err().code, 1002);
    assert_eq!(
        decode(&client_frame(0x88, &1005u16.to_be_bytes()), 1)
            .unwrap_err()
            .code,
        1002
    );
    let mut bad = 1000u16.to_be_bytes().to_vec();
    bad.push(0xff);
    assert_eq!(decode(&client_frame(0x88, &bad), 1).unwrap_err().code, 1007);
}

#[test]
fn protocol_errors() {
    let code = |input: Vec<u8>| decode(&input, 1).unwrap_err().code;
    // Reserved bits, unknown opcode, unmasked, fragmented or long control frames.
    assert_eq!(code(client_frame(0xC1, b"x")), 1002);
    assert_eq!(code(client_frame(0x83, b"x")), 1002);
    assert_eq!(code(vec![0x81, 0x01, b'x']), 1002);
    assert_eq!(code(client_frame(0x09, b"x")), 1002);
    assert_eq!(code(client_frame(0x89, &[0; 126])), 1002);
    // Continuation without a start, a new message inside a fragmented one.
    assert_eq!(code(client_frame(0x80, b"x")), 1002);
    let mut input = client_frame(0x01, b"a");
    input.extend(client_frame(0x81, b"b"));
    assert_eq!(code(input), 1002);
    // Invalid UTF-8 in a text message.
    assert_eq!(code(client_frame(0x81, &[0xC3, 0x28])), 1007);
}

#[test]
fn limits_are_checked_from_the_header() {
    let mut d = Decoder::new(10, 15);
    // Only the header of an 11-byte frame: refused before any payload arrives.
    let header = &client_frame(0x82, &[0; 11])[..6];
    assert_eq!(d.feed(header).unwrap_err().code, 1009);
    // Fragments within the frame limit that together pass the message limit.
    let mut d = Decoder::new(10, 15);
    let first = client_frame(0x02, &[0; 10]);
    assert_eq!(d.feed(&first).unwrap(), (first.len(), None));
    let second = client_frame(0x80, &[0; 6]);
    assert_eq!(d.feed(&second[..6]).unwrap_err().code, 1009);
    // A 64-bit length with the top bit set is far over any limit.
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    huge.extend_from_slice(&[0; 4]);
    assert_eq!(Decoder::new(10, 15).feed(&huge).unwrap_err().code, 1009);
}

#[test]
fn encoding() {
    let mut out = Vec::new();
    encode(&mut out, op::TEXT, b"hi");
    assert_eq!(out, [0x81, 2, b'h', b'i']);
    let mut out = Vec::new();
    encode(&mut out, op::BINARY, &[0; 300]);
    assert_eq!(&out[..4], &[0x82, 126, 1, 44]);
    let mut out = Vec::new();
    encode(&mut out, op::BINARY, &[0; 70_000]);
    assert_eq!(&out[..10], &[0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    let mut out = Vec::new();
    encode_close(&mut out, 1000, &"é".repeat(100));
    assert_eq!(
        out[1], 124,
        "2 + 122 bytes: the reason is cut at a char boundary"
    );
    assert!(core::str::from_utf8(&out[4..]).is_ok());
}
