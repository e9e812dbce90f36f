//! Checks the hand-written type descriptors in `berth_engine_wasmi::wit` against
//! `wit/plugin.wit`, parsed by wit-parser: shapes, names, sizes, alignments and every
//! function signature. If the WIT changes, this fails until `wit.rs` follows.

use berth_engine_wasmi::abi::Type;
use berth_engine_wasmi::wit::{self, FuncSig};
use wit_parser::{Resolve, SizeAlign, Type as WType, TypeDefKind, TypeId};

struct Wit {
    resolve: Resolve,
    sizes: SizeAlign,
}

impl Wit {
    fn load() -> Wit {
        let mut resolve = Resolve::new();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        resolve.push_dir(&dir).expect("parse wit/");
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        Wit { resolve, sizes }
    }

    fn interface(&self, name: &str) -> wit_parser::InterfaceId {
        self.resolve
            .interfaces
            .iter()
            .find(|(_, i)| i.name.as_deref() == Some(name))
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("no interface {name}"))
    }

    fn named(&self, iface: &str, name: &str) -> TypeId {
        let id = self.interface(iface);
        *self.resolve.interfaces[id]
            .types
            .get(name)
            .unwrap_or_else(|| panic!("no type {iface}.{name}"))
    }

    /// Follows aliases (`type x = y`, `use`).
    fn unalias(&self, mut ty: WType) -> WType {
        while let WType::Id(id) = ty {
            match &self.resolve.types[id].kind {
                TypeDefKind::Type(inner) => ty = *inner,
                _ => break,
            }
        }
        ty
    }

    /// Asserts that `ours` describes `theirs`; `at` names the place for messages.
    fn check(&self, at: &str, ours: &Type, theirs: WType) {
        let theirs = self.unalias(theirs);
        assert_eq!(
            ours.size() as usize,
            self.sizes.size(&theirs).size_wasm32(),
            "size of {at}"
        );
        assert_eq!(
            ours.align() as usize,
            self.sizes.align(&theirs).align_wasm32(),
            "align of {at}"
        );
        let kind = match theirs {
            WType::Id(id) => &self.resolve.types[id].kind,
            prim => {
                let expected = match prim {
                    WType::Bool => Type::Bool,
                    WType::U8 => Type::U8,
                    WType::U16 => Type::U16,
                    WType::U32 => Type::U32,
                    WType::U64 => Type::U64,
                    WType::S8 => Type::S8,
                    WType::S16 => Type::S16,
                    WType::S32 => Type::S32,
                    WType::S64 => Type::S64,
                    WType::String => Type::String,
                    other => panic!("{at}: unsupported WIT type {other:?}"),
                };
                assert_eq!(*ours, expected, "{at}");
                return;
            }
        };
        match (ours, kind) {
            (Type::Record(fields), TypeDefKind::Record(r)) => {
                assert_eq!(fields.len(), r.fields.len(), "field count of {at}");
                for (f, wf) in fields.iter().zip(&r.fields) {
                    assert_eq!(f.name, wf.name, "field of {at}");
                    self.check(&format!("{at}.{}", f.name), &f.ty, wf.ty);
                }
            }
            (Type::Tuple(ts), TypeDefKind::Tuple(t)) => {
                assert_eq!(ts.len(), t.types.len(), "arity of {at}");
                for (i, (a, b)) in ts.iter().zip(&t.types).enumerate() {
                    self.check(&format!("{at}.{i}"), a, *b);
                }
            }
            (Type::Variant(cases), TypeDefKind::Variant(v)) => {
                assert_eq!(cases.len(), v.cases.len(), "case count of {at}");
                for (c, wc) in cases.iter().zip(&v.cases) {
                    assert_eq!(c.name, wc.name, "case of {at}");
                    match (&c.ty, wc.ty) {
                        (Some(a), Some(b)) => self.check(&format!("{at}::{}", c.name), a, b),
                        (None, None) => {}
                        _ => panic!("{at}::{}: payload presence differs", c.name),
                    }
                }
            }
            (Type::Enum(names), TypeDefKind::Enum(e)) => {
                let theirs: Vec<&str> = e.cases.iter().map(|c| c.name.as_str()).collect();
                assert_eq!(names.to_vec(), theirs, "cases of {at}");
            }
            (Type::Option(t), TypeDefKind::Option(w)) => self.check(&format!("{at}?"), t, *w),
            (Type::List(t), TypeDefKind::List(w)) => self.check(&format!("{at}[]"), t, *w),
            (Type::Result { ok, err }, TypeDefKind::Result(r)) => {
                for (side, a, b) in [("ok", ok, r.ok), ("err", err, r.err)] {
                    match (a, b) {
                        (Some(a), Some(b)) => self.check(&format!("{at}.{side}"), a, b),
                        (None, None) => {}
                        _ => panic!("{at}.{side}: presence differs"),
                    }
                }
            }
            (ours, theirs) => panic!("{at}: {ours:?} does not describe a WIT {}", theirs.as_str()),
        }
    }

    fn check_funcs(&self, iface: &str, sigs: &[FuncSig]) {
        let id = self.interface(iface);
        let funcs = &self.resolve.interfaces[id].functions;
        assert_eq!(funcs.len(), sigs.len(), "number of functions in {iface}");
        for (sig, (name, f)) in sigs.iter().zip(funcs) {
            assert_eq!(sig.name, name, "function order in {iface}");
            let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(
                sig.param_names.to_vec(),
                names,
                "parameters of {iface}.{name}"
            );
            assert_eq!(
                sig.params.len(),
                f.params.len(),
                "parameters of {iface}.{name}"
            );
            for (ours, p) in sig.params.iter().zip(&f.params) {
                self.check(&format!("{iface}.{name}({})", p.name), ours, p.ty);
            }
            match (&sig.result, f.result) {
                (Some(a), Some(b)) => self.check(&format!("{iface}.{name} result"), a, b),
                (None, None) => {}
                _ => panic!("{iface}.{name}: result presence differs"),
            }
        }
    }
}

#[test]
fn named_types_match_the_wit() {
    let w = Wit::load();
    let named: &[(&str, &str, Type)] = &[
        ("types", "handler-id", wit::HANDLER_ID),
        ("types", "method", wit::METHOD),
        ("types", "pairs", wit::PAIRS),
        ("types", "request", wit::REQUEST),
        ("types", "body", wit::BODY),
        ("types", "response", wit::RESPONSE),
        ("types", "route", wit::ROUTE),
        ("types", "ws-route", wit::WS_ROUTE),
        ("types", "middleware", wit::MIDDLEWARE),
        ("types", "event-kind", wit::EVENT_KIND),
        ("types", "hook", wit::HOOK),
        ("types", "timer", wit::TIMER),
        ("types", "static-mount", wit::STATIC_MOUNT),
        ("types", "registration", wit::REGISTRATION),
        ("types", "proceed", wit::PROCEED),
        ("types", "before-outcome", wit::BEFORE_OUTCOME),
        ("types", "ws-payload", wit::WS_PAYLOAD),
        ("types", "server-info", wit::SERVER_INFO),
        ("types", "ws-connect", wit::WS_CONNECT),
        ("types", "ws-message", wit::WS_MESSAGE),
        ("types", "ws-disconnect", wit::WS_DISCONNECT),
        ("types", "event", wit::EVENT),
        ("types", "refusal", wit::REFUSAL),
        ("types", "event-outcome", wit::EVENT_OUTCOME),
        ("host", "level", wit::LEVEL),
        ("host", "scope", wit::SCOPE),
        ("host", "ws-error", wit::WS_ERROR),
        ("host", "device-error", wit::DEVICE_ERROR),
        ("host", "memory-stats", wit::MEMORY_STATS),
    ];
    for (iface, name, ours) in named {
        w.check(
            &format!("{iface}.{name}"),
            ours,
            WType::Id(w.named(iface, name)),
        );
    }
}

#[test]
fn function_signatures_match_the_wit() {
    let w = Wit::load();
    w.check_funcs("guest", &wit::GUEST_FUNCS);
    w.check_funcs("host", &wit::HOST_FUNCS);
}
