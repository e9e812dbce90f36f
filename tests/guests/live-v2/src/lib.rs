//! The hot-swap tests' `live` plugin, version 2 (see `../live.rs`).
const VERSION: u32 = 2;
const TRAP: bool = false;
include!("../../live.rs");
