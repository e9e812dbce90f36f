//! The store's resource limits: wasmi's [`StoreLimits`] (one instance, the memory cap,
//! a failed growth traps and is reported as out of memory), except that a growth short
//! of fuel is not a failure.
//!
//! wasmi tells the limiter of a `memory.grow` that ran out of fuel as of any failed
//! growth, and with `trap_on_grow_failure` that trap ends the call for good. But the
//! call is resumable there: given more fuel, it grows then. So a call whose slice ran
//! low just before a large growth failed as out of memory, far below its cap.

use wasmi::errors::{MemoryError, TableError};
use wasmi::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmi_core::LimiterError;

/// [`StoreLimits`] that let a growth out of fuel resume.
pub(crate) struct GuestLimits(StoreLimits);

impl GuestLimits {
    /// One instance with at most `memory_bytes` of linear memory.
    pub(crate) fn new(memory_bytes: usize) -> GuestLimits {
        GuestLimits(
            StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(1)
                .trap_on_grow_failure(true)
                .build(),
        )
    }
}

impl ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        self.0.memory_growing(current, desired, maximum)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        self.0.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: &MemoryError) -> Result<(), LimiterError> {
        match error {
            MemoryError::OutOfFuel { .. } => Ok(()),
            other => self.0.memory_grow_failed(other),
        }
    }

    fn table_grow_failed(&mut self, error: &TableError) -> Result<(), LimiterError> {
        match error {
            TableError::OutOfFuel { .. } => Ok(()),
            other => self.0.table_grow_failed(other),
        }
    }

    fn instances(&self) -> usize {
        self.0.instances()
    }

    fn tables(&self) -> usize {
        self.0.tables()
    }

    fn memories(&self) -> usize {
        self.0.memories()
    }
}
