//! Loading a plugin: finding the core module inside the component and checking that it
//! implements the contract, import by import and export by export.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use berth_core::engine::LoadError;
use wasmi::{ExternType, FuncType, ValType};
use wasmparser::{Encoding, Parser, Payload};

use crate::abi::{FlatType, Type, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
use crate::wit::{FuncSig, GUEST_FUNCS, GUEST_PREFIX, HOST_FUNCS, HOST_MODULE};

fn invalid(e: impl core::fmt::Display) -> LoadError {
    LoadError::Invalid(format!("{e}"))
}

/// The bytes of the component's main core module: the top-level module that exports
/// `cabi_realloc`. wit-component also embeds small shim and fixup modules (for imports
/// lowered indirectly); they only shuffle function tables and are not needed here.
pub(crate) fn main_module(component: &[u8]) -> Result<&[u8], LoadError> {
    let mut depth = 0usize;
    let mut modules: Vec<Range<usize>> = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        match payload.map_err(invalid)? {
            Payload::Version { encoding, .. } if depth == 0 && encoding != Encoding::Component => {
                return Err(LoadError::Invalid(String::from(
                    "a core Wasm module, not a component (build it with `berth build`)",
                )));
            }
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                if depth == 0 {
                    modules.push(unchecked_range);
                }
                depth += 1;
            }
            Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            // A Python plugin (componentize-py) imports WASI: refused with the engine
            // to use, rather than as an unknown import further down.
            Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports {
                    let name = import.map_err(invalid)?.name.name;
                    if name.starts_with("wasi:") {
                        return Err(LoadError::needs_wasi("wasmi", name));
                    }
                }
            }
            _ => {}
        }
    }
    for range in modules {
        let bytes = component
            .get(range)
            .ok_or_else(|| invalid("module outside the file"))?;
        if exports_realloc(bytes)? {
            return Ok(bytes);
        }
    }
    Err(LoadError::Contract(String::from(
        "no core module exports `cabi_realloc`",
    )))
}

fn exports_realloc(module: &[u8]) -> Result<bool, LoadError> {
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::ExportSection(exports) = payload.map_err(invalid)? {
            for export in exports {
                if export.map_err(invalid)?.name == "cabi_realloc" {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

fn val_types(flat: &[FlatType]) -> Vec<ValType> {
    flat.iter()
        .map(|f| match f {
            FlatType::I32 => ValType::I32,
            FlatType::I64 => ValType::I64,
        })
        .collect()
}

fn flat_params(sig: &FuncSig) -> Vec<FlatType> {
    let flat = Type::Tuple(sig.params).flat_types();
    if flat.len() > MAX_FLAT_PARAMS {
        alloc::vec![FlatType::I32]
    } else {
        flat
    }
}

/// Whether the function's results go through memory rather than flat.
pub(crate) fn results_in_memory(sig: &FuncSig) -> bool {
    sig.result
        .is_some_and(|t| t.flat_count() > MAX_FLAT_RESULTS)
}

/// Whether the function's parameters go through memory rather than flat.
pub(crate) fn params_in_memory(sig: &FuncSig) -> bool {
    Type::Tuple(sig.params).flat_count() > MAX_FLAT_PARAMS
}

/// The core signature of a guest export (results in memory come back as a pointer).
pub(crate) fn export_type(sig: &FuncSig) -> FuncType {
    let results = match sig.result {
        Some(_) if results_in_memory(sig) => alloc::vec![ValType::I32],
        Some(t) => val_types(&t.flat_types()),
        None => Vec::new(),
    };
    FuncType::new(val_types(&flat_params(sig)), results)
}

/// The core signature of a host import (results in memory go to a caller's pointer).
pub(crate) fn import_type(sig: &FuncSig) -> FuncType {
    let mut params = val_types(&flat_params(sig));
    let results = match sig.result {
        Some(_) if results_in_memory(sig) => {
            params.push(ValType::I32);
            Vec::new()
        }
        Some(t) => val_types(&t.flat_types()),
        None => Vec::new(),
    };
    FuncType::new(params, results)
}

/// Checks the core module against the contract; names everything that is wrong. Returns
/// the host function behind each of the module's imports, in import order.
pub(crate) fn check_contract(module: &wasmi::Module) -> Result<Vec<&'static FuncSig>, LoadError> {
    let mut problems: Vec<String> = Vec::new();
    let expect_func =
        |name: &str, ty: FuncType, problems: &mut Vec<String>| match module.get_export(name) {
            Some(ExternType::Func(actual)) if actual == ty => {}
            Some(ExternType::Func(actual)) => {
                problems.push(format!(
                    "export `{name}` has type {actual:?}, expected {ty:?}"
                ));
            }
            Some(_) => problems.push(format!("export `{name}` is not a function")),
            None => problems.push(format!("missing export `{name}`")),
        };
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        problems.push(String::from("missing export `memory`"));
    }
    let realloc = FuncType::new([ValType::I32; 4], [ValType::I32]);
    expect_func("cabi_realloc", realloc, &mut problems);
    for sig in &GUEST_FUNCS {
        expect_func(
            &format!("{GUEST_PREFIX}{}", sig.name),
            export_type(sig),
            &mut problems,
        );
        let post = format!("cabi_post_{GUEST_PREFIX}{}", sig.name);
        if module.get_export(&post).is_some() {
            expect_func(
                &post,
                FuncType::new(export_type(sig).results().to_vec(), []),
                &mut problems,
            );
        }
    }
    let mut imports = Vec::new();
    for import in module.imports() {
        let (m, name) = (import.module(), import.name());
        let sig = HOST_FUNCS
            .iter()
            .find(|s| m == HOST_MODULE && s.name == name);
        match (sig, import.ty()) {
            (Some(sig), ExternType::Func(actual)) if *actual == import_type(sig) => {
                imports.push(sig)
            }
            (Some(sig), ExternType::Func(actual)) => problems.push(format!(
                "import `{m}#{name}` has type {actual:?}, expected {:?}",
                import_type(sig)
            )),
            _ => problems.push(format!(
                "unknown import `{m}#{name}` (only `{HOST_MODULE}` is provided)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(imports)
    } else {
        Err(LoadError::Contract(problems.join("; ")))
    }
}
