//! `size`-style numbers straight from an ELF's section headers (no binutils needed), for
//! the bare-metal images (`cargo xtask qemu`, `cargo xtask firmware`).

use std::path::Path;

use anyhow::{bail, Result};

/// Bytes of an image, as `size` would split them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Code and read-only data (flash on a microcontroller).
    pub text: u64,
    /// Initialised writable data (stored in the image, copied to RAM at boot).
    pub data: u64,
    /// Zero-initialised or uninitialised RAM (static heaps included).
    pub bss: u64,
    /// RAM the linker script leaves to the stack (`.stack`), when it says so.
    pub stack: u64,
}

/// Sections that only mark address ranges (free RAM, a gap between flash mappings) and
/// hold nothing of the image: riscv-rt's `.heap` and `.stack`, esp-hal's `.stack` and
/// `.text_gap`.
const LAYOUT_MARKERS: &[&str] = &[".heap", ".stack", ".text_gap"];

/// Reads the section headers of the 32-bit little-endian ELF at `elf`.
pub fn sizes(elf: &Path) -> Result<Sizes> {
    let b = std::fs::read(elf)?;
    if b.len() < 52 || &b[..4] != b"\x7fELF" || b[4] != 1 || b[5] != 1 {
        bail!("{} is not a 32-bit little-endian ELF", elf.display());
    }
    let u16_at = |o: usize| -> Result<usize> {
        match b.get(o..o + 2) {
            Some(s) => Ok(u16::from_le_bytes([s[0], s[1]]) as usize),
            None => bail!("{}: truncated ELF", elf.display()),
        }
    };
    let u32_at = |o: usize| -> Result<u64> {
        match b.get(o..o + 4) {
            Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as u64),
            None => bail!("{}: truncated ELF", elf.display()),
        }
    };
    let (shoff, shentsize, shnum) = (u32_at(32)? as usize, u16_at(46)?, u16_at(48)?);
    let names = u32_at(shoff + u16_at(50)? * shentsize + 16)? as usize;
    let mut sizes = Sizes::default();
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        let name_at = names + u32_at(sh)? as usize;
        let name = b
            .get(name_at..)
            .and_then(|rest| rest.split(|&c| c == 0).next())
            .and_then(|n| std::str::from_utf8(n).ok())
            .unwrap_or("");
        let (kind, flags, size) = (u32_at(sh + 4)?, u32_at(sh + 8)?, u32_at(sh + 20)?);
        if name == ".stack" {
            sizes.stack = size;
        }
        if LAYOUT_MARKERS.contains(&name) {
            continue;
        }
        let (alloc, write) = (flags & 0x2 != 0, flags & 0x1 != 0);
        match (alloc, kind, write) {
            (false, _, _) => {}
            (true, 8, _) => sizes.bss += size, // NOBITS
            (true, _, true) => sizes.data += size,
            (true, _, false) => sizes.text += size,
        }
    }
    Ok(sizes)
}
