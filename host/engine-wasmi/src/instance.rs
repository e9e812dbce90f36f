//! A live plugin instance: a `wasmi::Store` with the guest's exports resolved once.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use berth_core::engine::{CallError, CallFuture, Instance};
use berth_core::model::{
    BeforeOutcome, Event, EventOutcome, HandlerId, Pairs, Registration, Request, Response,
};
use wasmi::{Func, Memory, Store, Val};

use crate::abi::{
    self, lift_flat, load, lower_flat, store, Flat, FlatReader, LiftBudget, Type, Value,
};
use crate::convert as cv;
use crate::imports::{to_flat, to_val};
use crate::lift::Lift;
use crate::load::{params_in_memory, results_in_memory};
use crate::lower;
use crate::runtime::{run, HostState, Realloc, WasmiMemory};
use crate::wit::FuncSig;

/// One guest export, resolved.
pub(crate) struct Export {
    pub sig: &'static FuncSig,
    pub func: Func,
    /// `cabi_post_*`, when the guest has one.
    pub post: Option<Func>,
    pub params_in_memory: bool,
    pub results_in_memory: bool,
    /// The parameter tuple's (size, alignment) and field offsets, worked out once: the
    /// walk over the contract's types was a few percent of every call.
    pub params_layout: (u32, u32),
    pub param_offsets: Vec<u32>,
}

impl Export {
    pub(crate) fn new(sig: &'static FuncSig, func: Func, post: Option<Func>) -> Export {
        Export {
            sig,
            func,
            post,
            params_in_memory: params_in_memory(sig),
            results_in_memory: results_in_memory(sig),
            params_layout: Type::Tuple(sig.params).layout(),
            param_offsets: abi::field_offsets(sig.params.iter())
                .map(|(at, _)| at)
                .collect(),
        }
    }
}

/// A call's arguments: values, or the request (and response) the pipeline lends.
enum Args<'a> {
    Values(Vec<Value>),
    Request {
        handler: u32,
        req: &'a Request,
        resp: Option<&'a Response>,
    },
}

impl Args<'_> {
    fn into_values(self) -> Vec<Value> {
        match self {
            Args::Values(values) => values,
            Args::Request { handler, req, resp } => {
                let mut values = alloc::vec![Value::U32(handler), cv::request(req)];
                values.extend(resp.map(cv::response));
                values
            }
        }
    }
}

/// Indices into [`WasmiInstance::exports`], in [`crate::wit::GUEST_FUNCS`] order.
const SETUP: usize = 0;
const HANDLE: usize = 1;
const BEFORE: usize = 2;
const AFTER: usize = 3;
const ON_EVENT: usize = 4;
const NEXT_CHUNK: usize = 5;

/// A plugin instance on wasmi. Any error poisons it: later calls fail at once.
pub struct WasmiInstance {
    pub(crate) store: Store<HostState>,
    pub(crate) memory: Memory,
    pub(crate) realloc: Realloc,
    pub(crate) exports: [Export; 6],
    pub(crate) poisoned: bool,
    /// Reused argument buffers.
    pub(crate) flat: Vec<Flat>,
    pub(crate) vals: Vec<Val>,
}

/// How a call's result is read out of the guest, before its `cabi_post_*` frees it.
type Lifter<R> = fn(&[u8], &Export, Flat, &mut LiftBudget) -> Result<R, CallError>;

/// The generic lift: a [`Value`] of the export's result type, flat or through memory.
fn value(
    mem: &[u8],
    export: &Export,
    flat: Flat,
    budget: &mut LiftBudget,
) -> Result<Value, CallError> {
    let ty = export
        .sig
        .result
        .ok_or_else(|| abi::malformed("missing result"))?;
    if export.results_in_memory {
        load(mem, &ty, flat.as_i32() as u32, budget)
    } else {
        lift_flat(mem, &ty, &mut FlatReader::new(&[flat]), budget)
    }
}

/// A model type the guest returns through memory (`response`, `before-outcome`,
/// `event-outcome`),
/// lifted without a [`Value`] tree ([`crate::lift`]).
fn model<T: Lift>(
    mem: &[u8],
    export: &Export,
    flat: Flat,
    budget: &mut LiftBudget,
) -> Result<T, CallError> {
    debug_assert!(export.sig.result == Some(T::TYPE));
    if !export.results_in_memory {
        return Err(abi::malformed("result not returned through memory"));
    }
    T::lift(mem, flat.as_i32() as u32, budget)
}

impl WasmiInstance {
    /// Calls export `which` with `args` (in its parameter order) and lifts its result
    /// with `lift`.
    async fn call<R>(
        &mut self,
        which: usize,
        args: Args<'_>,
        lift: Lifter<R>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Trap(String::from(
                "instance unusable after an earlier error",
            )));
        }
        self.poisoned = true;
        let result = self.call_inner(which, args, lift).await?;
        self.poisoned = false;
        Ok(result)
    }

    async fn call_inner<R>(
        &mut self,
        which: usize,
        args: Args<'_>,
        lift: Lifter<R>,
    ) -> Result<R, CallError> {
        let export = &self.exports[which];
        let sig = export.sig;
        if sig.result.is_none() {
            return Err(abi::malformed("missing result"));
        }
        let fuel = self.store.data_mut().deadline.start();
        self.store
            .set_fuel(fuel)
            .map_err(|e| crate::runtime::map_error(&e))?;

        // Lower the arguments: flat, or as a tuple in guest memory.
        let tuple = Type::Tuple(sig.params);
        self.flat.clear();
        let mut mem = WasmiMemory {
            ctx: &mut self.store,
            memory: self.memory,
            realloc: self.realloc,
        };
        if export.params_in_memory {
            let (size, align) = export.params_layout;
            let ptr = abi::GuestMemory::alloc(&mut mem, align, size)?;
            match args {
                Args::Request { handler, req, resp } => {
                    lower::request_args(&mut mem, ptr, &export.param_offsets, handler, req, resp)?
                }
                args => store(&mut mem, &tuple, &Value::Record(args.into_values()), ptr)?,
            }
            self.flat.push(Flat::I32(ptr as i32));
        } else {
            let args = Value::Record(args.into_values());
            lower_flat(&mut mem, &tuple, &args, &mut self.flat)?;
        }
        self.vals.clear();
        self.vals.extend(self.flat.iter().copied().map(to_val));

        let mut results = [Val::I32(0)];
        let func = export.func;
        run(&mut self.store, &func, &self.vals, &mut results).await?;

        // Lift, then let the guest free what it returned.
        let mem = self.memory.data(&self.store);
        let mut budget = LiftBudget::for_memory(mem);
        let lifted = lift(mem, export, to_flat(&results[0])?, &mut budget)?;
        if let Some(post) = export.post {
            run(&mut self.store, &post, &[results[0].clone()], &mut []).await?;
        }
        Ok(lifted)
    }
}

impl Instance for WasmiInstance {
    fn setup<'a>(&'a mut self, config: &'a Pairs) -> CallFuture<'a, Result<Registration, String>> {
        Box::pin(async move {
            let v = self
                .call(SETUP, Args::Values(alloc::vec![cv::pairs(config)]), value)
                .await?;
            cv::to_setup_result(v)
        })
    }

    fn handle<'a>(&'a mut self, handler: HandlerId, req: &'a Request) -> CallFuture<'a, Response> {
        Box::pin(async move {
            let args = Args::Request {
                handler,
                req,
                resp: None,
            };
            self.call(HANDLE, args, model).await
        })
    }

    fn before<'a>(
        &'a mut self,
        handler: HandlerId,
        req: &'a Request,
    ) -> CallFuture<'a, BeforeOutcome> {
        Box::pin(async move {
            let args = Args::Request {
                handler,
                req,
                resp: None,
            };
            self.call(BEFORE, args, model).await
        })
    }

    fn after<'a>(
        &'a mut self,
        handler: HandlerId,
        req: &'a Request,
        resp: &'a Response,
    ) -> CallFuture<'a, Response> {
        Box::pin(async move {
            let args = Args::Request {
                handler,
                req,
                resp: Some(resp),
            };
            self.call(AFTER, args, model).await
        })
    }

    fn on_event<'a>(
        &'a mut self,
        handler: HandlerId,
        event: &'a Event,
    ) -> CallFuture<'a, EventOutcome> {
        Box::pin(async move {
            let args = Args::Values(alloc::vec![Value::U32(handler), cv::event(event)]);
            self.call(ON_EVENT, args, model).await
        })
    }

    fn next_chunk(&mut self, stream: u32) -> CallFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            let args = Args::Values(alloc::vec![Value::U32(stream)]);
            cv::to_chunk(self.call(NEXT_CHUNK, args, value).await?)
        })
    }
}

/// Boxes an instance for the engine trait.
pub(crate) fn boxed(instance: WasmiInstance) -> Box<dyn Instance> {
    Box::new(instance)
}
