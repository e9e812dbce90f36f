//! SIGHUP, for the two things it asks the server to look at again: the plugins folder
//! and `berth.toml` (`reload::watch`), and the TLS certificate files (`tls`). Each holds
//! its own [`Hangup`]: tokio delivers a signal to every listener.

/// A SIGHUP listener; on platforms without SIGHUP (or if it cannot be installed, which is
/// logged) it never fires.
pub(crate) struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    /// Starts listening for SIGHUP.
    pub(crate) fn new() -> Hangup {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|e| tracing::warn!("cannot listen for SIGHUP: {e}"))
                .ok();
            Hangup { signal }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    /// Completes at the next SIGHUP; never, once the signal stream has ended (rather than
    /// at once, which would turn a caller's loop into a busy one).
    pub(crate) async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            if signal.recv().await.is_some() {
                return;
            }
        }
        std::future::pending().await
    }
}
