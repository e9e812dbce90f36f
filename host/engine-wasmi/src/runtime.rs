//! What every instance's `wasmi::Store` holds, and the mechanics of calling into it:
//! the fuel/deadline policy, error mapping, and guest memory access.

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use berth_core::engine::{CallError, YieldNow};
use berth_core::host::PluginHost;
use wasmi::TrapCode;
use wasmi::{AsContextMut, Func, Memory, ResumableCall, Store, TypedFunc, Val};

use crate::abi::{malformed, GuestMemory};

/// `cabi_realloc(old_ptr, old_size, align, new_size) -> ptr`.
pub(crate) type Realloc = TypedFunc<(i32, i32, i32, i32), i32>;

/// How an engine turns `call_timeout_ms` into fuel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FuelPolicy {
    /// The wall-clock budget of one call.
    pub timeout_ms: u64,
    /// Fuel per millisecond: with `std` it only sizes the slices, without it the whole
    /// budget is `timeout_ms × fuel_per_ms`.
    pub fuel_per_ms: u64,
}

/// The per-call deadline, handed out as fuel in slices of a few milliseconds. When a
/// slice runs out the call yields to the executor (see [`run`]) and then gets the next
/// one, if the deadline allows: with `std` the deadline is a wall-clock instant, without
/// it a fuel budget derived from the timeout (a microcontroller has no clock to spare).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    policy: FuelPolicy,
    #[cfg(feature = "std")]
    at: Option<std::time::Instant>,
    /// Fuel of the budget not yet handed out.
    #[cfg(not(feature = "std"))]
    remaining: u64,
}

impl Deadline {
    pub(crate) fn new(policy: FuelPolicy) -> Deadline {
        Deadline {
            policy,
            #[cfg(feature = "std")]
            at: None,
            #[cfg(not(feature = "std"))]
            remaining: 0,
        }
    }

    /// Starts a call's clock; returns the fuel to begin with.
    #[cfg(feature = "std")]
    pub(crate) fn start(&mut self) -> u64 {
        let timeout = std::time::Duration::from_millis(self.policy.timeout_ms);
        self.at = std::time::Instant::now().checked_add(timeout);
        self.slice()
    }

    /// Starts a call's budget; returns the fuel to begin with.
    #[cfg(not(feature = "std"))]
    pub(crate) fn start(&mut self) -> u64 {
        self.remaining = self.whole();
        self.take(self.slice())
    }

    /// All of a call's budget as fuel, for what cannot yield (the start function run
    /// while instantiating): `timeout_ms × fuel_per_ms`.
    pub(crate) fn whole(&self) -> u64 {
        self.policy
            .timeout_ms
            .saturating_mul(self.policy.fuel_per_ms)
            .max(1)
    }

    /// The fuel a call runs on between two yields: a millisecond's worth with `std`
    /// (the ready work of a server waits about one slice per busy call), up to 5 without
    /// (a device's loop has little else to do, and each yield re-polls all of it).
    fn slice(&self) -> u64 {
        #[cfg(feature = "std")]
        let slice_ms = 1;
        #[cfg(not(feature = "std"))]
        let slice_ms = self.policy.timeout_ms.clamp(1, 5);
        self.policy.fuel_per_ms.saturating_mul(slice_ms).max(1)
    }

    #[cfg(not(feature = "std"))]
    fn take(&mut self, want: u64) -> u64 {
        let given = want.min(self.remaining);
        self.remaining -= given;
        given
    }

    /// The fuel to hold `target` when `current` is left, if the deadline allows. Without
    /// `std` only the missing fuel comes out of the budget (a top-up before each of the
    /// host's calls into the guest must not spend the budget faster than the guest does).
    pub(crate) fn top_up(&mut self, current: u64, target: u64) -> Option<u64> {
        #[cfg(feature = "std")]
        {
            let _ = current;
            self.at
                .is_some_and(|at| std::time::Instant::now() < at)
                .then_some(target)
        }
        #[cfg(not(feature = "std"))]
        {
            let given = self.take(target.saturating_sub(current));
            (given > 0).then(|| current.saturating_add(given))
        }
    }

    /// More fuel when the current slice ran out and the deadline has not passed
    /// (`required` is the least the next instruction needs).
    pub(crate) fn refill(&mut self, required: u64) -> Option<u64> {
        let want = self.slice().max(required);
        #[cfg(feature = "std")]
        {
            self.at
                .is_some_and(|at| std::time::Instant::now() < at)
                .then_some(want)
        }
        #[cfg(not(feature = "std"))]
        {
            (self.remaining >= required && self.remaining > 0).then(|| self.take(want))
        }
    }
}

/// The data of each instance's store.
pub(crate) struct HostState {
    /// Where the imports go.
    pub host: PluginHost,
    /// The memory cap (grow failures trap).
    pub limits: crate::limits::GuestLimits,
    /// The guest's memory and allocator, once instantiated.
    pub guest: Option<(Memory, Realloc)>,
    /// The current call's deadline.
    pub deadline: Deadline,
    /// The executor's own yield, when it has one.
    pub yield_now: Option<YieldNow>,
}

/// A [`CallError`] raised inside a host function, carried through wasmi as a host error.
#[derive(Debug)]
pub(crate) struct HostFault(pub CallError);

impl fmt::Display for HostFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl wasmi::errors::HostError for HostFault {}

/// Maps a wasmi error to the engine-neutral [`CallError`].
pub(crate) fn map_error(e: &wasmi::Error) -> CallError {
    if let Some(HostFault(inner)) = e.downcast_ref::<HostFault>() {
        return inner.clone();
    }
    match e.as_trap_code() {
        Some(TrapCode::OutOfFuel) => CallError::Deadline,
        Some(TrapCode::GrowthOperationLimited | TrapCode::OutOfSystemMemory) => {
            CallError::OutOfMemory
        }
        Some(code) => CallError::Trap(String::from(code.trap_message())),
        None => CallError::Trap(format!("{e}")),
    }
}

/// Tops the store's fuel up before the host itself calls into the guest (to allocate),
/// so that a slice running out there is not mistaken for the deadline.
pub(crate) fn refuel_if_low(ctx: &mut impl AsContextMut<Data = HostState>) {
    // Enough for any one `cabi_realloc`, memory growth included (wasmi charges it by
    // size): a host call into the guest cannot yield, so running out inside it would
    // read as the deadline. Five slices' worth, the slice size before calls yielded.
    const LOW: u64 = 1_000_000;
    let mut ctx = ctx.as_context_mut();
    let fuel = ctx.get_fuel().unwrap_or(0);
    if fuel < LOW {
        if let Some(more) = ctx.data_mut().deadline.top_up(fuel, LOW) {
            let _ = ctx.set_fuel(more);
        }
    }
}

/// Runs `func` to completion, one fuel slice at a time until the deadline. Between two
/// slices the call yields: the future returns `Pending` once (waking itself at once), so
/// the executor serves whatever else is ready before the guest resumes where it stopped
/// (wasmi's resumable calls keep its stack). Dropping the future abandons the call.
pub(crate) async fn run(
    store: &mut Store<HostState>,
    func: &Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), CallError> {
    let mut call = func
        .call_resumable(&mut *store, params, results)
        .map_err(|e| map_error(&e))?;
    loop {
        match call {
            ResumableCall::Finished => return Ok(()),
            ResumableCall::HostTrap(trap) => return Err(map_error(trap.host_error())),
            ResumableCall::OutOfFuel(out) => {
                let more = store.data_mut().deadline.refill(out.required_fuel());
                let more = more.ok_or(CallError::Deadline)?;
                store.set_fuel(more).map_err(|e| map_error(&e))?;
                match store.data().yield_now {
                    Some(yield_now) => yield_now().await,
                    None => YieldOnce(false).await,
                }
                call = out
                    .resume(&mut *store, results)
                    .map_err(|e| map_error(&e))?;
            }
        }
    }
}

/// [`run`] without yielding, for the host's own short calls into the guest outside a
/// call future (`_initialize` while instantiating): polled with a no-op waker until done.
pub(crate) fn run_blocking(
    store: &mut Store<HostState>,
    func: &Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), CallError> {
    let mut call = core::pin::pin!(run(store, func, params, results));
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(done) = call.as_mut().poll(&mut cx) {
            return done;
        }
    }
}

/// Returns `Pending` once, having asked to be polled again: the smallest yield to the
/// executor. (Hand-written: ten lines, and the `no_std` build has no runtime crate.)
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A guest's memory and allocator, reached through a store or a host function's caller.
pub(crate) struct WasmiMemory<C> {
    pub ctx: C,
    pub memory: Memory,
    pub realloc: Realloc,
}

impl<C: AsContextMut<Data = HostState>> GuestMemory for WasmiMemory<C> {
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32, CallError> {
        refuel_if_low(&mut self.ctx);
        let args = (0, 0, align as i32, size as i32);
        let ptr = self
            .realloc
            .call(&mut self.ctx, args)
            .map_err(|e| map_error(&e))? as u32;
        let end = u64::from(ptr) + u64::from(size);
        if !ptr.is_multiple_of(align.max(1)) || end > self.memory.data_size(&self.ctx) as u64 {
            return Err(malformed(
                "cabi_realloc returned a block outside memory or misaligned",
            ));
        }
        Ok(ptr)
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.memory.data_mut(&mut self.ctx)
    }
}
