//! The host functions behind `interface host`: each lifts its arguments from the guest,
//! calls the matching [`PluginHost`] method, and lowers the result back (allocating in
//! the guest through `cabi_realloc` when the result holds strings or lists).

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::engine::CallError;
use berth_core::host::PluginHost;
use wasmi::{Caller, Extern, Func, Store, Val};

use crate::abi::{
    self, lift_flat, load, lower_flat, store, Flat, FlatReader, LiftBudget, Type, Value,
};
use crate::convert as cv;
use crate::load::{import_type, params_in_memory, results_in_memory};
use crate::runtime::{HostFault, HostState, WasmiMemory};
use crate::wit::FuncSig;

/// The host functions a module imports, in its import order, defined in `store` for
/// one instance (`Instance::new`). There is no `Linker`: a linker belongs to one
/// `wasmi::Engine`, and every module has an engine of its own (see
/// [`WasmiEngine`](crate::WasmiEngine)); defining only what the module imports also
/// keeps an instance from holding the other host functions.
pub(crate) fn host_funcs(
    store: &mut Store<HostState>,
    imports: &[&'static FuncSig],
) -> Vec<Extern> {
    imports
        .iter()
        .map(|&sig| {
            let func = Func::new(
                &mut *store,
                import_type(sig),
                move |mut caller, params, results| {
                    host_call(&mut caller, sig, params, results)
                        .map_err(|e| wasmi::Error::host(HostFault(e)))
                },
            );
            Extern::Func(func)
        })
        .collect()
}

pub(crate) fn to_flat(v: &Val) -> Result<Flat, CallError> {
    match v {
        Val::I32(x) => Ok(Flat::I32(*x)),
        Val::I64(x) => Ok(Flat::I64(*x)),
        _ => Err(abi::malformed("unexpected core value type")),
    }
}

pub(crate) fn to_val(f: Flat) -> Val {
    match f {
        Flat::I32(x) => Val::I32(x),
        Flat::I64(x) => Val::I64(x),
    }
}

fn host_call(
    caller: &mut Caller<'_, HostState>,
    sig: &'static FuncSig,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), CallError> {
    let (memory, realloc) = caller
        .data()
        .guest
        .ok_or_else(|| abi::malformed("import called during start"))?;
    let flat = params
        .iter()
        .map(to_flat)
        .collect::<Result<Vec<Flat>, _>>()?;
    let (param_flat, retptr) = match results_in_memory(sig) {
        true => {
            let (ptr, rest) = flat
                .split_last()
                .ok_or_else(|| abi::malformed("missing return pointer"))?;
            (rest, Some(ptr.as_i32() as u32))
        }
        false => (&flat[..], None),
    };
    let tuple = Type::Tuple(sig.params);
    let args = {
        let mem = memory.data(&*caller);
        let mut budget = LiftBudget::for_memory(mem);
        let mut reader = FlatReader::new(param_flat);
        if params_in_memory(sig) {
            let ptr = lift_flat(mem, &Type::U32, &mut reader, &mut budget)?;
            load(mem, &tuple, cv::u32_(ptr)?, &mut budget)?
        } else {
            lift_flat(mem, &tuple, &mut reader, &mut budget)?
        }
    };
    let args = match args {
        Value::Record(args) => args,
        _ => return Err(abi::malformed("arguments are not a tuple")),
    };
    let result = dispatch(&caller.data().host, sig.name, args)?;
    match (sig.result, result) {
        (None, None) => Ok(()),
        (Some(ty), Some(value)) => {
            let mut mem = WasmiMemory {
                ctx: &mut *caller,
                memory,
                realloc,
            };
            match retptr {
                Some(ptr) => store(&mut mem, &ty, &value, ptr),
                None => {
                    let mut out = Vec::with_capacity(1);
                    lower_flat(&mut mem, &ty, &value, &mut out)?;
                    for (slot, v) in results.iter_mut().zip(out) {
                        *slot = to_val(v);
                    }
                    Ok(())
                }
            }
        }
        _ => Err(abi::malformed("host result does not match the signature")),
    }
}

/// The arguments of one import, taken in order.
struct Args(alloc::vec::IntoIter<Value>);

impl Args {
    fn next(&mut self) -> Result<Value, CallError> {
        self.0
            .next()
            .ok_or_else(|| abi::malformed("too few arguments"))
    }
    fn string(&mut self) -> Result<String, CallError> {
        cv::string(self.next()?)
    }
    fn u64(&mut self) -> Result<u64, CallError> {
        cv::u64_(self.next()?)
    }
    fn opt_string(&mut self) -> Result<Option<String>, CallError> {
        cv::option(self.next()?, cv::string)
    }
}

fn some(v: Value) -> Result<Option<Value>, CallError> {
    Ok(Some(v))
}

/// Calls the [`PluginHost`] method behind import `name`.
fn dispatch(host: &PluginHost, name: &str, args: Vec<Value>) -> Result<Option<Value>, CallError> {
    let mut a = Args(args.into_iter());
    match name {
        "log" => {
            let level = cv::to_level(a.next()?)?;
            host.log(level, &a.string()?);
            Ok(None)
        }
        "state-get" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            some(Value::option(host.state_get(scope, &key).map(Value::Bytes)))
        }
        "state-set" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            let value = cv::bytes(a.next()?)?;
            let ttl = cv::option(a.next()?, cv::u64_)?;
            host.state_set_logged(scope, &key, value, ttl);
            Ok(None)
        }
        "state-try-set" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            let value = cv::bytes(a.next()?)?;
            let ttl = cv::option(a.next()?, cv::u64_)?;
            some(match host.state_set(scope, &key, value, ttl) {
                Ok(()) => Value::unit(0),
                Err(e) => Value::case(1, Value::String(e)),
            })
        }
        "state-delete" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            some(Value::Bool(host.state_delete(scope, &key)))
        }
        "state-incr" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            let delta = cv::s64_(a.next()?)?;
            some(cv::string_result(
                host.state_incr(scope, &key, delta).map(Value::S64),
            ))
        }
        "state-keys" => {
            let (scope, prefix) = (cv::to_scope(a.next()?)?, a.string()?);
            some(Value::List(
                host.state_keys(scope, &prefix)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ))
        }
        "state-try-get" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            some(cv::string_result(
                host.state_try_get(scope, &key)
                    .map(|v| Value::option(v.map(Value::Bytes))),
            ))
        }
        "state-try-delete" => {
            let (scope, key) = (cv::to_scope(a.next()?)?, a.string()?);
            some(cv::string_result(
                host.state_try_delete(scope, &key).map(Value::Bool),
            ))
        }
        "state-try-keys" => {
            let (scope, prefix) = (cv::to_scope(a.next()?)?, a.string()?);
            some(cv::string_result(host.state_try_keys(scope, &prefix).map(
                |keys| Value::List(keys.into_iter().map(Value::String).collect()),
            )))
        }
        "ws-send" => {
            let conn = a.u64()?;
            let msg = cv::to_ws_payload(a.next()?)?;
            some(cv::ws_result(host.ws_send(conn, msg)))
        }
        "ws-close" => {
            let conn = a.u64()?;
            let code = cv::u16_(a.next()?)?;
            some(cv::ws_result(host.ws_close(conn, code, &a.string()?)))
        }
        "ws-data-get" => {
            let (conn, key) = (a.u64()?, a.string()?);
            some(Value::option(
                host.ws_data_get(conn, &key).map(Value::String),
            ))
        }
        "ws-data-set" => {
            let (conn, key, value) = (a.u64()?, a.string()?, a.opt_string()?);
            some(cv::ws_result(host.ws_data_set(conn, &key, value)))
        }
        "ws-join" => {
            let (conn, room) = (a.u64()?, a.string()?);
            some(cv::ws_result(host.ws_join(conn, &room)))
        }
        "ws-leave" => {
            let (conn, room) = (a.u64()?, a.string()?);
            some(cv::ws_result(host.ws_leave(conn, &room)))
        }
        "ws-broadcast" => {
            let room = a.opt_string()?;
            let msg = cv::to_ws_payload(a.next()?)?;
            let except = cv::option(a.next()?, cv::u64_)?;
            some(Value::U32(host.ws_broadcast(room.as_deref(), msg, except)))
        }
        "ws-room-members" => {
            let room = a.string()?;
            some(Value::List(
                host.ws_room_members(&room)
                    .into_iter()
                    .map(Value::U64)
                    .collect(),
            ))
        }
        "publish" => {
            let (topic, data) = (a.string()?, a.string()?);
            let (event, id) = (a.opt_string()?, a.opt_string()?);
            some(Value::U32(host.publish(
                &topic,
                &data,
                event.as_deref(),
                id.as_deref(),
            )))
        }
        "now-ms" => some(Value::U64(host.now_ms())),
        "random-u64" => some(Value::U64(host.random_u64())),
        "gpio-write" => {
            let (pin, high) = (cv::u8_(a.next()?)?, cv::bool_(a.next()?)?);
            some(cv::device_result(host.gpio_write(pin, high), |()| None))
        }
        "gpio-read" => {
            let pin = cv::u8_(a.next()?)?;
            some(cv::device_result(host.gpio_read(pin), |level| {
                Some(Value::Bool(level))
            }))
        }
        "memory" => some(cv::memory_stats(host.memory())),
        "memory-collect" => {
            host.memory_collect();
            Ok(None)
        }
        "log-enabled" => {
            let level = cv::to_level(a.next()?)?;
            some(Value::Bool(host.log_enabled(level)))
        }
        _ => Err(abi::malformed("unknown import")),
    }
}
