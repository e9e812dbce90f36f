//! The hot-swap tests' `live` plugin, version 3, whose setup traps (see `../live.rs`).
const VERSION: u32 = 3;
const TRAP: bool = true;
include!("../../live.rs");
