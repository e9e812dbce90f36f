//! Builds the real plugins with the real toolchain (slow the first time: it compiles the
//! plugin workspace into `plugins/target`).

use std::fs;
use std::path::{Path, PathBuf};

use berth_build::{build, BuildError, BuildOptions};
use wasmparser::Parser;

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")
}

/// The plugin target dir the test suite's build script also uses, so the plugins are
/// compiled once per workspace target dir, not once per test.
fn shared_target() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("berth-plugins")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-build-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn hello_becomes_a_component() {
    let out = temp_dir("hello");
    let opts = BuildOptions {
        out_dir: Some(out.clone()),
        target_dir: Some(shared_target()),
        ..BuildOptions::default()
    };
    let built = build(&plugins_dir().join("hello"), &opts).expect("hello builds");
    assert_eq!(built.len(), 1);
    let hello = &built[0];
    assert_eq!(hello.name, "hello");
    assert_eq!(hello.path, out.join("hello.wasm"));
    let bytes = fs::read(&hello.path).expect("written");
    assert_eq!(bytes, hello.component);
    assert!(Parser::is_component(&bytes), "not a component");
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .expect("valid component");
    assert!(bytes.len() < 100_000, "hello is {} bytes", bytes.len());
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn whole_workspace_in_one_go() {
    let dir = plugins_dir();
    let opts = BuildOptions {
        target_dir: Some(shared_target()),
        ..BuildOptions::default()
    };
    let built = build(&dir, &opts).expect("plugins build");
    let names: Vec<&str> = built.iter().map(|b| b.name.as_str()).collect();
    for expected in [
        "auth",
        "cors",
        "hello",
        "logger",
        "metrics",
        "micro-api",
        "misbehave",
        "rate-limit",
        "users",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for b in &built {
        assert_eq!(
            b.path,
            fs::canonicalize(&dir)
                .expect("dir")
                .join(format!("{}.wasm", b.name))
        );
        assert!(
            Parser::is_component(&b.component),
            "{} is not a component",
            b.name
        );
        eprintln!(
            "{:>12} {:>7} bytes (core {:>7})",
            b.name,
            b.component.len(),
            b.core_size
        );
    }
}

#[test]
fn compile_errors_name_the_crate_and_show_rustc_output() {
    let dir = temp_dir("broken");
    fs::create_dir_all(dir.join("src")).expect("src");
    fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"broken-plugin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .expect("manifest");
    fs::write(
        dir.join("src/lib.rs"),
        "pub fn f() -> u32 { \"not a number\" }\n",
    )
    .expect("lib");
    let opts = BuildOptions {
        out_dir: Some(dir.join("out")),
        ..BuildOptions::default()
    };
    let err = build(&dir, &opts).expect_err("does not compile");
    let text = err.to_string();
    assert!(matches!(err, BuildError::Compile { .. }), "{text}");
    assert!(text.contains("broken-plugin"), "{text}");
    assert!(text.contains("mismatched types"), "{text}");
    assert!(text.contains("src/lib.rs"), "{text}");
    let _ = fs::remove_dir_all(&dir);
}

/// A stand-in for `wasm-opt` (a shell script): it records its arguments and writes
/// `output` (the input unchanged when `None`) where `-o` says, or fails with `fail`.
#[cfg(unix)]
fn fake_wasm_opt(dir: &Path, fail: Option<&str>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let tool = dir.join("wasm-opt");
    let body = match fail {
        Some(why) => format!("#!/bin/sh\necho \"{why}\" >&2\nexit 1\n"),
        None => format!(
            "#!/bin/sh\necho \"$@\" > {args}\nin=\"\"\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    -o) out=\"$2\"; shift ;;\n    -*) ;;\n    *) in=\"$1\" ;;\n  esac\n  shift\ndone\ncp \"$in\" \"$out\"\n",
            args = dir.join("args").display()
        ),
    };
    fs::write(&tool, body).expect("write the stand-in");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    tool
}

#[cfg(unix)]
#[test]
fn wasm_opt_runs_over_the_core_module_before_componentizing() {
    let out = temp_dir("wasm-opt");
    let opts = BuildOptions {
        out_dir: Some(out.clone()),
        target_dir: Some(shared_target()),
        wasm_opt: Some(fake_wasm_opt(&out, None)),
        ..BuildOptions::default()
    };
    let built = build(&plugins_dir().join("hello"), &opts).expect("hello builds");
    let args = fs::read_to_string(out.join("args")).expect("the tool ran");
    for flag in berth_build::WASM_OPT_FLAGS {
        assert!(args.contains(flag), "{flag} missing from `{args}`");
    }
    assert!(args.contains(" -o "), "{args}");
    assert!(Parser::is_component(&built[0].component), "not a component");

    // A tool that refuses the module fails the build, with what it printed.
    let opts = BuildOptions {
        wasm_opt: Some(fake_wasm_opt(&out, Some("cannot read one-byte pages"))),
        ..opts
    };
    match build(&plugins_dir().join("hello"), &opts) {
        Err(e @ BuildError::WasmOpt { .. }) => {
            let text = e.to_string();
            assert!(text.contains("hello"), "{text}");
            assert!(text.contains("cannot read one-byte pages"), "{text}");
        }
        other => panic!("expected a wasm-opt error, got {other:?}"),
    }
    // And one that is not there says so.
    let opts = BuildOptions {
        wasm_opt: Some(out.join("no-such-wasm-opt")),
        ..opts
    };
    assert!(matches!(
        build(&plugins_dir().join("hello"), &opts),
        Err(BuildError::Spawn { .. })
    ));
    let _ = fs::remove_dir_all(&out);
}
