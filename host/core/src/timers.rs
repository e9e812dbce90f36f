//! Plugin timers (`app.every`), once for both runtimes: which registrations run, and
//! when each is due.
//!
//! A timer's first tick comes one interval after start-up (like `setInterval`). A tick
//! that comes late is not repeated to catch up, and the next one is a full interval
//! after it was due (or right after now, if that is already past), so a slow handler
//! delays its timer instead of bunching ticks. Timers are bounded: at most
//! `[limits] max_timers` over all plugins, none more often than
//! `[limits] timer_min_interval`; the rest are refused at start-up, each with a reason
//! the runtime logs against its plugin.

use alloc::vec::Vec;
use core::fmt;

use crate::pipeline::Target;

/// Why a timer registration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerRefusal {
    /// `max_timers` timers are already registered.
    TooMany {
        /// The limit.
        max: usize,
    },
    /// The interval is shorter than `timer_min_interval`.
    TooFrequent {
        /// The interval asked for, ms.
        interval_ms: u32,
        /// The limit, ms.
        min_ms: u64,
    },
}

impl fmt::Display for TimerRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerRefusal::TooMany { max } => write!(
                f,
                "timer refused: {max} timers are already registered ([limits] max_timers)"
            ),
            TimerRefusal::TooFrequent {
                interval_ms,
                min_ms,
            } => write!(
                f,
                "timer every {interval_ms} ms refused: the shortest interval allowed is \
                 {min_ms} ms ([limits] timer_min_interval)"
            ),
        }
    }
}

/// The timers that run and the ones refused, in registration order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TimerPlan {
    /// `(interval_ms, target)` of every timer that runs.
    pub accepted: Vec<(u32, Target)>,
    /// Every refused timer, and why.
    pub refused: Vec<(Target, TimerRefusal)>,
}

impl TimerPlan {
    /// Applies the bounds to `timers` (as [`crate::pipeline::App::timers`] lists them).
    pub fn new(
        timers: impl IntoIterator<Item = (u32, Target)>,
        max_timers: usize,
        min_interval_ms: u64,
    ) -> TimerPlan {
        let mut plan = TimerPlan::default();
        for (interval_ms, target) in timers {
            let min_ms = min_interval_ms.max(1);
            if u64::from(interval_ms) < min_ms {
                let why = TimerRefusal::TooFrequent {
                    interval_ms,
                    min_ms,
                };
                plan.refused.push((target, why));
            } else if plan.accepted.len() >= max_timers {
                let why = TimerRefusal::TooMany { max: max_timers };
                plan.refused.push((target, why));
            } else {
                plan.accepted.push((interval_ms, target));
            }
        }
        plan
    }
}

/// When a timer is next due, given when its last tick was due and the time now.
pub fn next_due(due_ms: u64, every_ms: u32, now_ms: u64) -> u64 {
    due_ms
        .saturating_add(u64::from(every_ms.max(1)))
        .max(now_ms.saturating_add(1))
}

/// The schedule of accepted timers, for a runtime that drives them from one loop.
pub struct Schedule {
    timers: Vec<(u64, u32, Target)>,
}

impl Schedule {
    /// Every timer of `plan`, first due one interval after `now`.
    pub fn new(plan: &TimerPlan, now_ms: u64) -> Schedule {
        let timers = plan
            .accepted
            .iter()
            .map(|(every, target)| {
                let every = (*every).max(1);
                (now_ms.saturating_add(u64::from(every)), every, *target)
            })
            .collect();
        Schedule { timers }
    }

    /// When the earliest timer is due; `None` without timers.
    pub fn deadline(&self) -> Option<u64> {
        self.timers.iter().map(|t| t.0).min()
    }

    /// The timers due at `now`, in registration order, each rescheduled by
    /// [`next_due`].
    pub fn take_due(&mut self, now_ms: u64) -> Vec<Target> {
        let mut due = Vec::new();
        for (at, every, target) in self.timers.iter_mut() {
            if *at <= now_ms {
                due.push(*target);
                *at = next_due(*at, *every, now_ms);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn t(handler: u32) -> Target {
        Target { plugin: 0, handler }
    }

    #[test]
    fn bounds_refuse_too_many_and_too_frequent() {
        let plan = TimerPlan::new([(5, t(1)), (10, t(2)), (20, t(3)), (30, t(4))], 2, 10);
        assert_eq!(plan.accepted, vec![(10, t(2)), (20, t(3))]);
        assert_eq!(
            plan.refused,
            vec![
                (
                    t(1),
                    TimerRefusal::TooFrequent {
                        interval_ms: 5,
                        min_ms: 10
                    }
                ),
                (t(4), TimerRefusal::TooMany { max: 2 }),
            ]
        );
        let text = alloc::format!("{}", plan.refused[0].1);
        assert!(text.contains("timer_min_interval"), "{text}");
    }

    #[test]
    fn late_ticks_are_not_repeated() {
        let plan = TimerPlan::new([(100, t(1)), (250, t(2))], 10, 1);
        let mut s = Schedule::new(&plan, 1000);
        assert_eq!(s.deadline(), Some(1100));
        assert!(s.take_due(1099).is_empty());
        assert_eq!(s.take_due(1100), vec![t(1)]);
        assert_eq!(s.deadline(), Some(1200));
        // Far behind: each fires once, and next comes after now.
        assert_eq!(s.take_due(5000), vec![t(1), t(2)]);
        assert_eq!(s.deadline(), Some(5001));
        assert_eq!(next_due(100, 50, 120), 150);
    }
}
