use super::*;
use crate::block::MemDevice;
use crate::store::{pack, Entry, File, Folder, Image, Mount};
use crate::store_edit::{Catalog, Edit};
use crate::store_index::StoreIndex;
use alloc::vec;
use berth_core::device::GpioGrant;

/// `len` bytes that look like a Wasm file and differ per `seed`.
fn wasm(len: usize, seed: u8) -> Vec<u8> {
    let mut w = b"\0asm\x0d\0\x01\0".to_vec();
    w.extend((0..len.saturating_sub(8)).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    w
}

fn first_image(a: &[u8], b: &[u8]) -> Vec<u8> {
    pack(&Image {
        plugins: vec![
            Entry {
                name: "alpha",
                config: vec![("k".into(), "v".into())],
                gpio: GpioGrant::from_bits(1 << 3),
                dirs: vec!["www"],
                wasm: a,
            },
            Entry {
                name: "beta",
                config: Pairs::new(),
                gpio: GpioGrant::NONE,
                dirs: vec![],
                wasm: b,
            },
        ],
        folders: vec![Folder {
            dir: "www",
            files: vec![File {
                path: "index.html",
                content_type: "text/html",
                bytes: b"<p>hi</p>",
            }],
        }],
        mounts: vec![Mount {
            prefix: "/s",
            dir: "www",
            max_age: 5,
        }],
        admin: Some(store::AdminEntry {
            token_sha256: store::token_hash("secret"),
            max_upload: 4096,
        }),
    })
    .unwrap()
}

use berth_core::model::Pairs;

/// The active image, read whole.
fn active_image(dev: MemDevice) -> (Vec<u8>, AbStore<MemDevice>) {
    let mut store = AbStore::open(dev).unwrap();
    let active = store.active().expect("an active image");
    let mut image = vec![0; active.len];
    store.read(0, &mut image).unwrap();
    (image, store)
}

fn catalog_of(image: &[u8]) -> Catalog {
    Catalog::of(&StoreIndex::of(image).unwrap(), image.len())
}

/// Replaces (or adds) `name` with `wasm`, committing it.
fn put(dev: &mut MemDevice, name: &str, wasm: &[u8]) -> Result<Catalog, SlotError> {
    let (image, _) = active_image(dev.clone());
    let old = catalog_of(&image);
    let mut store = AbStore::open(&mut *dev)?;
    let mut edit = Edit::put(&mut store, &old, name, wasm.len())?;
    // Uploaded in odd pieces, as a socket delivers them.
    for chunk in wasm.chunks(700) {
        edit.upload(chunk)?;
    }
    let (pending, catalog) = edit.finish()?;
    store.commit(pending)?;
    Ok(catalog)
}

#[test]
fn a_blank_device_has_no_image_and_format_commits_one() {
    let dev = MemDevice::new(512, 64);
    assert_eq!(AbStore::open(dev.clone()).unwrap().active(), None);
    let image = first_image(&wasm(1000, 1), &wasm(3000, 2));
    let dev = format(dev, &image).unwrap();
    let (read, store) = active_image(dev);
    assert_eq!(read, image);
    assert_eq!(store.active().map(|a| (a.slot, a.seq)), Some((0, 1)));
    assert!(AbStore::open(MemDevice::new(512, 3)).is_err());
}

#[test]
fn put_replaces_keeps_config_and_the_catalog_matches_the_image() {
    let (a, b) = (wasm(1000, 1), wasm(3000, 2));
    let mut dev = format(MemDevice::new(512, 64), &first_image(&a, &b)).unwrap();
    let new_a = wasm(2222, 9);
    let catalog = put(&mut dev, "alpha", &new_a).unwrap();
    let (image, store) = active_image(dev.clone());
    assert_eq!(store.active().map(|a| (a.slot, a.seq)), Some((1, 2)));
    assert_eq!(catalog_of(&image), catalog);
    let parsed = store::parse(&image).unwrap();
    assert_eq!(parsed.plugins[0].wasm, &new_a[..]);
    assert_eq!(parsed.plugins[0].config, vec![("k".into(), "v".into())]);
    assert_eq!(parsed.plugins[0].dirs, vec!["www"]);
    assert_eq!(parsed.plugins[1].wasm, &b[..]);
    assert_eq!(parsed.mounts.len(), 1);
    let admin = parsed.admin.expect("[admin] kept");
    assert_eq!(admin.token_sha256, store::token_hash("secret"));
    assert_eq!(admin.max_upload, 4096);
    // A new plugin goes last, with nothing granted; the next change goes back to slot A.
    let c = wasm(5000, 3);
    let catalog = put(&mut dev, "gamma", &c).unwrap();
    let (image, store) = active_image(dev.clone());
    assert_eq!(store.active().map(|a| (a.slot, a.seq)), Some((0, 3)));
    assert_eq!(catalog_of(&image), catalog);
    let parsed = store::parse(&image).unwrap();
    let names: Vec<_> = parsed.plugins.iter().map(|p| p.name).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(parsed.plugins[2].wasm, &c[..]);
    assert!(parsed.plugins[2].config.is_empty() && parsed.plugins[2].gpio.is_empty());
    // Removing one.
    let old = catalog;
    let mut store = AbStore::open(&mut dev).unwrap();
    let (pending, catalog) = Edit::remove(&mut store, &old, "beta")
        .unwrap()
        .finish()
        .unwrap();
    store.commit(pending).unwrap();
    let (image, _) = active_image(dev);
    assert_eq!(catalog_of(&image), catalog);
    let names: Vec<_> = store::parse(&image)
        .unwrap()
        .plugins
        .iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["alpha", "gamma"]);
}

#[test]
fn an_upload_larger_than_a_slot_is_refused_and_changes_nothing() {
    let image = first_image(&wasm(100, 1), &wasm(100, 2));
    let mut dev = format(MemDevice::new(512, 16), &image).unwrap();
    let err = put(&mut dev, "big", &wasm(8 * 512, 4)).unwrap_err();
    assert_eq!(err, SlotError::Full { capacity: 7 * 512 });
    assert_eq!(active_image(dev).0, image);
}

/// Cuts the power after every possible number of sector writes of one change, the
/// sector being written then torn after `torn` bytes: the device boots the old image
/// whole, or (once the commit record is whole) the new.
fn torn_at_every_sector(sector: usize, torn: usize) {
    let (a, b) = (wasm(1500, 1), wasm(2600, 2));
    let old = first_image(&a, &b);
    let base = format(MemDevice::new(sector, 96), &old).unwrap();
    // Two changes in a row, so both slots are written over torn.
    let mut before = base.clone();
    put(&mut before, "alpha", &wasm(900, 7)).unwrap();
    let (old, _) = active_image(before.clone());
    let mut done = before.clone();
    let start = done.writes;
    let new_wasm = wasm(4100, 8);
    put(&mut done, "beta", &new_wasm).unwrap();
    let (new, _) = active_image(done.clone());
    let total = done.writes - start;
    assert!(total >= 4, "{total} writes");
    for cut in 0..=total {
        let mut dev = before.clone();
        dev.cut_after(cut);
        dev.torn_bytes = torn;
        let result = put(&mut dev, "beta", &new_wasm);
        dev.restore_power();
        let (booted, store) = active_image(dev);
        if cut < total {
            assert_eq!(result.unwrap_err(), SlotError::Block(BlockError::PowerCut));
        } else {
            assert!(result.is_ok());
        }
        // The record is the last write: torn after its bytes, it is whole all the same.
        let committed = cut == total || (cut + 1 == total && torn >= RECORD_LEN);
        let (want, seq) = if committed { (&new, 3) } else { (&old, 2) };
        assert!(
            booted == *want,
            "cut after {cut} of {total} writes, {torn} torn bytes"
        );
        assert_eq!(store.active().map(|a| a.seq), Some(seq));
    }
}

#[test]
fn a_power_cut_at_any_sector_of_a_change_boots_the_previous_image_512() {
    for torn in [0, 1, 12, 23, 24, 256, 511] {
        torn_at_every_sector(512, torn);
    }
}

#[test]
fn a_power_cut_at_any_sector_of_a_change_boots_the_previous_image_4096() {
    for torn in [0, 12, 2048] {
        torn_at_every_sector(4096, torn);
    }
}

#[test]
fn a_damaged_active_image_falls_back_to_the_other_slot() {
    let image = first_image(&wasm(1000, 1), &wasm(1000, 2));
    let mut dev = format(MemDevice::new(512, 64), &image).unwrap();
    put(&mut dev, "alpha", &wasm(1200, 5)).unwrap();
    // Slot B (sectors 32..) holds the new image: flip a bit in its body.
    dev.data[33 * 512 + 100] ^= 1;
    let (booted, store) = active_image(dev.clone());
    assert_eq!(booted, image);
    assert_eq!(store.active().map(|a| a.slot), Some(0));
    // A damaged record counts as no record.
    dev.data[0] ^= 0x80;
    let mut flipped = dev.clone();
    flipped.data[33 * 512 + 100] ^= 1;
    assert_eq!(AbStore::open(dev).unwrap().active(), None);
    assert_eq!(
        AbStore::open(flipped).unwrap().active().map(|a| a.slot),
        Some(1)
    );
}
