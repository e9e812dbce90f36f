//! The per-plugin heap profile (`cargo xtask qemu --profile`): before the real load,
//! each plugin is compiled on its own and then instantiated on its own, and the UART gets
//! what each kept and the peak while it was made. Everything is dropped again before
//! the real load, whose figures the run reports as usual.

use alloc::sync::Arc;

use berth_core::engine::Engine;
use berth_core::host::{HostApi, PluginHost};
use berth_embedded::{EmbeddedHost, Options, PluginSource, ReadPlugin};

use crate::heap::HEAP;
use crate::platform::QemuPlatform;
use crate::println;

/// Prints `profile: NAME module KEPT (peak +P) instance KEPT (peak +P)` per plugin.
pub fn run(
    engine: &dyn Engine,
    platform: &Arc<QemuPlatform>,
    options: &Options,
    sources: &[PluginSource<'_>],
    read: ReadPlugin<'_>,
) {
    let api: Arc<dyn HostApi> = Arc::new(EmbeddedHost::new(platform.clone(), &options.limits));
    for (i, src) in sources.iter().enumerate() {
        let bytes = match read.read(i) {
            Ok(bytes) => bytes,
            Err(e) => {
                println!("profile: {}: {e}", src.name);
                continue;
            }
        };
        let base = HEAP.used();
        HEAP.reset_peak();
        let module = match engine.compile(bytes) {
            Ok(m) => m,
            Err(e) => {
                println!("profile: {}: {e}", src.name);
                continue;
            }
        };
        let module_kept = HEAP.used() - base;
        let module_peak = HEAP.peak() - base;
        let with_module = HEAP.used();
        HEAP.reset_peak();
        let instance = module.instantiate(PluginHost::new(api.clone(), src.name));
        let instance_kept = HEAP.used() - with_module;
        let instance_peak = HEAP.peak() - with_module;
        match instance {
            Ok(_) => println!(
                "profile: {} module {} B kept (peak +{} B), instance {} B kept (peak +{} B), {} B of Wasm",
                src.name,
                module_kept,
                module_peak,
                instance_kept,
                instance_peak,
                bytes.len()
            ),
            Err(e) => println!("profile: {}: cannot instantiate: {e}", src.name),
        }
    }
    HEAP.reset_peak();
}
