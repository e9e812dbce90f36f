//! What `cargo xtask qemu` tells the image at boot, without a command line: QEMU's
//! generic loader (`-device loader,addr=…,data=…`) writes three words at [`ADDR`] before
//! the hart starts — a magic number, the heap cap in bytes, and flags. Without them (a
//! plain `qemu-system-riscv32 -kernel`), the RAM there is zero and the defaults apply:
//! the whole 16 MiB measuring heap, no profile.

/// Just above the 120 MiB that `memory.x` gives the image (QEMU puts the device tree
/// higher up, at the top of the 128 MiB).
pub const ADDR: usize = 0x8780_0000;
/// `BRTH`, little-endian: the words after it are meant for this image.
const MAGIC: u32 = u32::from_le_bytes(*b"BRTH");
/// Flag: before loading, measure each plugin's module and instance on their own.
const PROFILE: u32 = 1;

/// The boot settings.
pub struct BootConfig {
    /// Bytes of heap to run in.
    pub heap: usize,
    /// Whether to print the per-plugin heap profile.
    pub profile: bool,
}

/// Reads the settings the loader left (or the defaults).
pub fn read() -> BootConfig {
    let words = ADDR as *const u32;
    // SAFETY: RAM of the virt board outside the image (see `ADDR`), written only by
    // QEMU's loader before reset.
    let (magic, heap, flags) = unsafe {
        (
            words.read_volatile(),
            words.add(1).read_volatile(),
            words.add(2).read_volatile(),
        )
    };
    if magic != MAGIC {
        return BootConfig {
            heap: crate::heap::HEAP_SIZE,
            profile: false,
        };
    }
    BootConfig {
        heap: if heap == 0 {
            crate::heap::HEAP_SIZE
        } else {
            heap as usize
        },
        profile: flags & PROFILE != 0,
    }
}
