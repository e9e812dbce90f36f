//! `berth.toml` parsing: any text is a config or an error message, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = berth_config::Config::parse(text, Path::new("/srv/berth")) {
        // Whatever parsed must be usable as is.
        for name in config.plugin_config.keys() {
            let _ = config.plugin_pairs(name);
        }
        let _ = config.limits.engine();
    }
});
