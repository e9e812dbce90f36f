//! Requests lowered into the guest straight from berth-core's model, without a copy.
//!
//! `bindgen!`'s exports take the generated `types::request`, which owns its strings: a
//! call made through them first clones every string and list of the core [`m::Request`]
//! into it, once per plugin call — a request through four middleware is cloned seven
//! times — and then the canonical ABI copies the clone into the guest's memory. The
//! mirrors here have the same WIT shape but borrow their fields, so lowering reads the
//! core request in place and the one copy left is the one into the guest.
//!
//! The typed functions are made with `TypedFunc::new_unchecked` over the export's
//! `Func`, as `bindgen!`'s own accessors do; [`check`] typechecks each signature against
//! the component once, when an instance is made, so the unchecked construction per call
//! rests on a check that was made.

use berth_core::model as m;
use wasmtime::component::{ComponentType, Func, Lower, TypedFunc};
use wasmtime::AsContext;

use crate::bindings::{t, Plugin, ToWit};

/// `types::request`, borrowed from an [`m::Request`].
#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct RequestRef<'a> {
    id: u64,
    method: t::Method,
    path: &'a str,
    query: &'a str,
    #[component(name = "query-pairs")]
    query_pairs: &'a [(String, String)],
    params: &'a [(String, String)],
    headers: &'a [(String, String)],
    body: &'a [u8],
    #[component(name = "remote-addr")]
    remote_addr: &'a str,
}

impl<'a> RequestRef<'a> {
    pub(crate) fn of(req: &'a m::Request) -> RequestRef<'a> {
        RequestRef {
            id: req.id,
            method: req.method.to_wit(),
            path: &req.path,
            query: &req.query,
            query_pairs: &req.query_pairs,
            params: &req.params,
            headers: &req.headers,
            body: &req.body,
            remote_addr: &req.remote_addr,
        }
    }
}

/// `types::response` with borrowed headers. (The body variant is cloned: the derive
/// takes no lifetime on a variant, and a response body on its way into an after-
/// middleware is the smaller part.)
#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct ResponseRef<'a> {
    status: u16,
    headers: &'a [(String, String)],
    body: t::Body,
}

impl<'a> ResponseRef<'a> {
    pub(crate) fn of(resp: &'a m::Response) -> ResponseRef<'a> {
        ResponseRef {
            status: resp.status,
            headers: &resp.headers,
            body: resp.body.to_wit(),
        }
    }
}

type HandleSig<'a> = (u32, RequestRef<'a>);
type AfterSig<'a> = (u32, RequestRef<'a>, ResponseRef<'a>);

/// The three request exports, as typed functions over the borrowed mirrors.
pub(crate) struct RequestExports {
    handle: Func,
    before: Func,
    after: Func,
}

/// Typechecks the borrowed signatures against the instance's exports (once per
/// instance); the per-call [`TypedFunc`]s below rely on it.
pub(crate) fn check(store: &impl AsContext, plugin: &Plugin) -> wasmtime::Result<RequestExports> {
    let guest = plugin.berth_plugin_guest();
    let (handle, before, after) = (
        *guest.func_handle().func(),
        *guest.func_before().func(),
        *guest.func_after().func(),
    );
    handle.typed::<HandleSig<'static>, (t::Response,)>(store)?;
    before.typed::<HandleSig<'static>, (t::BeforeOutcome,)>(store)?;
    after.typed::<AfterSig<'static>, (t::Response,)>(store)?;
    Ok(RequestExports {
        handle,
        before,
        after,
    })
}

// The one `unsafe` in the engine: `TypedFunc::new_unchecked`, the constructor `bindgen!`'s
// own accessors use. A checked `Func::typed` per call would walk the whole request type
// (field names included) on every call, about what the copy it saves costs.
#[allow(unsafe_code)]
impl RequestExports {
    /// `guest.handle`.
    pub(crate) fn handle<'a>(&self) -> TypedFunc<HandleSig<'a>, (t::Response,)> {
        // SAFETY: `check` typechecked this signature against this function.
        unsafe { TypedFunc::new_unchecked(self.handle) }
    }

    /// `guest.before`.
    pub(crate) fn before<'a>(&self) -> TypedFunc<HandleSig<'a>, (t::BeforeOutcome,)> {
        // SAFETY: as above.
        unsafe { TypedFunc::new_unchecked(self.before) }
    }

    /// `guest.after`.
    pub(crate) fn after<'a>(&self) -> TypedFunc<AfterSig<'a>, (t::Response,)> {
        // SAFETY: as above.
        unsafe { TypedFunc::new_unchecked(self.after) }
    }
}
