//! The hot-swap tests' `live` plugin, version 1 (see `../live.rs`).
const VERSION: u32 = 1;
const TRAP: bool = false;
include!("../../live.rs");
