"""`app.state`: seed 000's namespace, kept in the host's shared state (the namespace
every plugin shares, Rust ones included), so it survives instances being replaced,
pooled or swapped, and every instance sees the same values.

- Outside a handler (at module level, as the seeds write ``app.state.users = {}``, and
  in a plugin's ``setup``) an assignment is a *default*: the host stores it only when
  the key is absent, so a new instance never resets what is stored.
- In a handler, reading an attribute fetches it from the host once per call; the value
  is yours to mutate (``app.state.users[uid] = user``). When the handler returns, every
  value it read or assigned is written back if it changed. A handler that raises writes
  nothing. When another instance changed a value meanwhile, this call's changes are
  merged into it (keys of a dict it did not touch, items it added to or removed from a
  list), so ``app.state.metrics.requests += 1`` beside a ``ws_connections += 1``
  elsewhere keeps both. Two calls that change the same key at once still race (the
  last write wins): for a counter under load use `berth.incr`, which is atomic.
"""

import copy

from componentize_py_types import Err

from . import _codec, _host

# How the host's reason starts when it could not reach its store in time (a cluster
# node whose Redis is down): berth-core's `state::UNAVAILABLE`.
_UNAVAILABLE = "state store unavailable"


class Unavailable(Exception):
    """The host could not reach its state store in time (a cluster node whose Redis is
    down or too slow); nothing was read or written. A handler that does not catch it
    answers 503, as a Rust plugin's ``?`` does."""


def _host_call(fn, *args):
    """A state import whose error is `Unavailable` when the store is unreachable (other
    errors, such as a refused quota or a non-integer to increment, stay `Err`)."""
    try:
        return fn(*args)
    except Err as e:
        if str(e.value).startswith(_UNAVAILABLE):
            raise Unavailable(str(e.value)) from None
        raise


def _get(scope, name):
    return _host_call(_host.host.state_try_get, scope, name)


class State:
    """Attribute access to the host's shared state (see the module docs)."""

    def __init__(self):
        object.__setattr__(self, "_defaults", {})
        # key -> [value, stored text or None, assigned?] for the current call.
        object.__setattr__(self, "_seen", {})

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        defaults = object.__getattribute__(self, "_defaults")
        if not _host.live:
            try:
                return defaults[name]
            except KeyError:
                raise AttributeError(name) from None
        seen = object.__getattribute__(self, "_seen")
        if name in seen:
            return seen[name][0]
        raw = _get(_host.host.Scope.SHARED, name)
        if raw is None:
            raise AttributeError(name)
        text = bytes(raw).decode("utf-8", "replace")
        value = _codec.loads(text)
        seen[name] = [value, text]
        return value

    def __setattr__(self, name, value):
        if not _host.live:
            object.__getattribute__(self, "_defaults")[name] = value
            return
        seen = object.__getattribute__(self, "_seen")
        seen[name] = [value, None]

    def __delattr__(self, name):
        if not _host.live:
            object.__getattribute__(self, "_defaults").pop(name, None)
            return
        object.__getattribute__(self, "_seen").pop(name, None)
        if not _host_call(_host.host.state_try_delete, _host.host.Scope.SHARED, name):
            raise AttributeError(name)

    def __contains__(self, name):
        try:
            getattr(self, name)
        except AttributeError:
            return False
        return True

    def __dir__(self):
        if not _host.live:
            return sorted(object.__getattribute__(self, "_defaults"))
        return list(_host_call(_host.host.state_try_keys, _host.host.Scope.SHARED, ""))


def apply_defaults(state: State):
    """Stores every default the host does not have yet (called from `setup`)."""
    for name, value in object.__getattribute__(state, "_defaults").items():
        scope = _host.host.Scope.SHARED
        if _get(scope, name) is None:
            _host.host.state_set(scope, name, _codec.dumps(copy.deepcopy(value)).encode(), None)


def begin(state: State):
    """A call starts: nothing seen yet."""
    object.__getattribute__(state, "_seen").clear()


def _same(a, b) -> bool:
    return _codec.dumps(a) == _codec.dumps(b)


def _merge(orig, mine, current):
    """What this call changed (``orig`` → ``mine``) applied onto what another instance
    stored meanwhile (``current``): dict keys this call did not touch keep the other's
    values, and list items this call added or removed are added to or removed from the
    other's list. Anything else: this call's value."""
    if isinstance(orig, dict) and isinstance(mine, dict) and isinstance(current, dict):
        result = type(current)(current)
        for key in set(orig) | set(mine):
            if key not in mine:
                result.pop(key, None)
            elif key not in orig:
                result[key] = mine[key]
            elif not _same(orig[key], mine[key]):
                result[key] = _merge(orig[key], mine[key], current[key]) if key in current else mine[key]
        return result
    if isinstance(orig, list) and isinstance(mine, list) and isinstance(current, list):
        before = [_codec.dumps(v) for v in orig]
        after = [_codec.dumps(v) for v in mine]
        result = list(current)
        for text in set(before):
            for _ in range(before.count(text) - after.count(text)):
                texts = [_codec.dumps(v) for v in result]
                if text in texts:
                    del result[texts.index(text)]
        added = {}
        for text, value in zip(after, mine):
            added.setdefault(text, [value, after.count(text) - before.count(text)])
        for value, n in added.values():
            result.extend([value] * max(0, n))
        return result
    if type(orig) is int and type(mine) is int and type(current) is int:
        # Both changed a number: a counter, as the seeds keep them (`+= 1`), so the two
        # changes add up.
        return current + (mine - orig)
    return mine


def commit(state: State):
    """A call returned: write back what changed (see the module docs). A value this
    call read that another instance changed since is merged (`_merge`), not replaced, so
    two handlers that each bump one counter of ``app.state.metrics`` both count."""
    seen = object.__getattribute__(state, "_seen")
    scope = _host.host.Scope.SHARED
    try:
        for name, (value, stored) in seen.items():
            text = _codec.dumps(value)
            if text == stored:
                continue
            if stored is not None:
                raw = _get(scope, name)
                now = None if raw is None else bytes(raw).decode("utf-8", "replace")
                if now is not None and now != stored:
                    merged = _merge(_codec.loads(stored), value, _codec.loads(now))
                    text = _codec.dumps(merged)
            _host_call(_host.host.state_try_set, scope, name, text.encode(), None)
    finally:
        seen.clear()


def incr(key: str, delta: int = 1) -> int:
    """Atomically adds `delta` to the shared integer `key` (missing counts as 0) and
    returns the new value; safe under any number of concurrent requests."""
    return _host_call(_host.host.state_incr, _host.host.Scope.SHARED, key, delta)
