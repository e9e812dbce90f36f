use super::*;
use alloc::vec;

fn entry<'a>(name: &'a str, config: Pairs, gpio: &[u8], wasm: &'a [u8]) -> Entry<'a> {
    Entry {
        name,
        config,
        gpio: GpioGrant::from_pins(gpio).unwrap(),
        dirs: vec![],
        wasm,
    }
}

fn folder() -> Folder<'static> {
    Folder {
        dir: "www",
        files: vec![
            File {
                path: "index.html",
                content_type: "text/html; charset=utf-8",
                bytes: b"<h1>hi</h1>",
            },
            File {
                path: "css/site.css",
                content_type: "text/css; charset=utf-8",
                bytes: b"body{}",
            },
        ],
    }
}

fn sample() -> Vec<u8> {
    let cfg: Pairs = vec![("greeting".into(), "Ahoy".into())];
    let mut chat = entry("chat", cfg, &[2, 8], b"\0asm-chat-bytes");
    chat.dirs = vec!["www"];
    pack(&Image {
        plugins: vec![entry("hello", Pairs::new(), &[], b"\0asm-hello"), chat],
        folders: vec![folder()],
        mounts: vec![Mount {
            prefix: "/static",
            dir: "www",
            max_age: 60,
        }],
        admin: None,
    })
    .unwrap()
}

#[test]
fn round_trip_with_trailing_erased_flash() {
    let mut image = sample();
    assert_eq!(image_len(&image[..HEADER_LEN]), Ok(image.len()));
    image.extend_from_slice(&[0xFF; 100]);
    let parsed = parse(&image).unwrap();
    let entries = &parsed.plugins;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].name, "hello");
    assert!(entries[0].config.is_empty());
    assert!(entries[0].gpio.is_empty());
    assert!(entries[0].dirs.is_empty());
    assert_eq!(entries[0].wasm, b"\0asm-hello");
    assert_eq!(entries[1].config, vec![("greeting".into(), "Ahoy".into())]);
    assert_eq!(entries[1].gpio.pins().collect::<Vec<_>>(), [2, 8]);
    assert_eq!(entries[1].dirs, ["www"]);
    assert_eq!(parsed.folders, [folder()]);
    assert_eq!(parsed.mounts[0].prefix, "/static");
    assert_eq!(parsed.mounts[0].max_age, 60);
}

#[test]
fn damage_is_detected() {
    let image = sample();
    assert_eq!(parse(&[0xFF; 64]), Err(StoreError::NoImage));
    for old in [b"BERTHPK1", b"BERTHPK2"] {
        let mut old_image = image.clone();
        old_image[..8].copy_from_slice(old);
        assert_eq!(parse(&old_image), Err(StoreError::NoImage));
    }
    assert_eq!(parse(&image[..10]), Err(StoreError::Truncated));
    assert_eq!(parse(&image[..image.len() - 1]), Err(StoreError::Truncated));
    for i in HEADER_LEN..image.len() {
        let mut bad = image.clone();
        bad[i] ^= 0x40;
        assert_eq!(parse(&bad), Err(StoreError::Checksum), "byte {i}");
    }
}

fn with_body(count: u32, body: &[u8]) -> Vec<u8> {
    let mut image = MAGIC.to_vec();
    image.extend_from_slice(&count.to_le_bytes());
    image.extend_from_slice(&(body.len() as u32).to_le_bytes());
    image.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    image.extend_from_slice(body);
    image
}

#[test]
fn lengths_are_checked_even_with_a_valid_crc() {
    // An entry that claims more wasm than there is, with a matching CRC.
    let mut body = vec![1, 0, b'x', 0, 0];
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&100u32.to_le_bytes());
    assert_eq!(
        parse(&with_body(1, &body)),
        Err(StoreError::Corrupt("wasm bytes"))
    );
    // A folder that claims a file longer than the image.
    let mut body = vec![1, 0, 1, 0, b'w', 1, 0, 0, 0, 1, 0, b'a', 0, 0];
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        parse(&with_body(0, &body)),
        Err(StoreError::Corrupt("file bytes"))
    );
    // A mount of a folder that is not there.
    let body = [0, 0, 1, 0, 1, 0, b'/', 1, 0, b'w', 0, 0, 0, 0];
    assert_eq!(
        parse(&with_body(0, &body)),
        Err(StoreError::Corrupt("mount of a folder the image lacks"))
    );
}

#[test]
fn pack_refuses_bad_input() {
    let e = |name, wasm| entry(name, Pairs::new(), &[], wasm);
    let plugins = |plugins| Image {
        plugins,
        ..Image::default()
    };
    assert!(pack(&plugins(vec![e("bad name", b"\0asm")])).is_err());
    assert!(pack(&plugins(vec![e("", b"\0asm")])).is_err());
    assert!(pack(&plugins(vec![e("x", b"ELF")])).is_err());
    assert!(pack(&plugins(vec![e("x", b"\0asm"), e("x", b"\0asm")])).is_err());
    let mut granted = e("x", b"\0asm");
    granted.dirs = vec!["nowhere"];
    assert!(pack(&plugins(vec![granted])).is_err());
    let mount = Image {
        mounts: vec![Mount {
            prefix: "/s",
            dir: "nowhere",
            max_age: 0,
        }],
        ..Image::default()
    };
    assert!(pack(&mount).is_err());
    for path in ["../x", ".env", "a//b", ""] {
        let f = Image {
            folders: vec![Folder {
                dir: "www",
                files: vec![File {
                    path,
                    content_type: "text/plain",
                    bytes: b"",
                }],
            }],
            ..Image::default()
        };
        assert!(pack(&f).is_err(), "{path:?}");
    }
    assert_eq!(
        parse(&pack(&Image::default()).unwrap()),
        Ok(Image::default())
    );
}
