//! What may cut a search short: the stop flag (Ctrl-C, or a caller's own
//! budget), a state budget, a time budget and a memory budget; and the
//! depth limit, which cuts paths rather than the search.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::model::Choice;

/// Why a search did not cover everything it was asked to.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Cut {
    /// The stop flag was set: Ctrl-C, or a caller that stops the search.
    Stopped,
    /// The state budget ran out.
    MaxStates(u64),
    /// The time budget ran out.
    Time(Duration),
    /// The process's resident memory reached the memory budget (bytes).
    Memory {
        /// The budget.
        budget: u64,
        /// The resident memory measured when the search stopped.
        resident: u64,
    },
    /// Paths reached the depth limit with work still pending, and the
    /// scenario does not require convergence (with the `converged`
    /// invariant they are findings instead).
    DepthLimit {
        /// The depth limit.
        max_depth: u32,
        /// States (exhaustive) or paths (other modes) cut there.
        paths: u64,
        /// One cut path, shortest first found.
        example: Vec<Choice>,
    },
}

impl Cut {
    /// A short name for results: `stopped`, `max_states`, `time`, `memory`,
    /// `depth_limit`.
    pub fn name(&self) -> &'static str {
        match self {
            Cut::Stopped => "stopped",
            Cut::MaxStates(_) => "max_states",
            Cut::Time(_) => "time",
            Cut::Memory { .. } => "memory",
            Cut::DepthLimit { .. } => "depth_limit",
        }
    }

    /// Whether the cut stopped the whole search (rather than some paths).
    pub fn stops_search(&self) -> bool {
        !matches!(self, Cut::DepthLimit { .. })
    }
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cut::Stopped => f.write_str("stopped before the end (interrupted)"),
            Cut::MaxStates(n) => write!(f, "the state budget of {n} states ran out"),
            Cut::Time(t) => write!(f, "the time budget of {} s ran out", t.as_secs_f64()),
            Cut::Memory { budget, resident } => write!(
                f,
                "the memory budget of {} ran out ({} resident)",
                format_bytes(*budget),
                format_bytes(*resident)
            ),
            Cut::DepthLimit {
                max_depth, paths, ..
            } => write!(
                f,
                "the depth limit of {max_depth} steps cut {paths} path{} with work still pending",
                if *paths == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Bytes for people: `512.0 MiB`, `3.2 GiB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    if value < 1024.0 {
        return format!("{n} B");
    }
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

/// The resident memory of this process in bytes, where the platform tells
/// it (Linux: `VmRSS` in `/proc/self/status`); `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmRSS:")
}

/// The machine's memory in bytes (Linux: `MemTotal` in `/proc/meminfo`);
/// `None` where the platform does not tell it.
pub fn machine_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&meminfo, "MemTotal:")
}

/// A `Name:   1234 kB` line of a `/proc` file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The budgets of one search, checked between batches of work.
#[derive(Clone)]
pub(crate) struct Budget {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) max_states: Option<u64>,
    pub(crate) time: Option<Duration>,
    pub(crate) max_memory: Option<u64>,
    pub(crate) started: Instant,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget {
            stop: Arc::new(AtomicBool::new(false)),
            max_states: None,
            time: None,
            max_memory: None,
            started: Instant::now(),
        }
    }

    /// Whether the stop flag is set (cheap: checked on every step).
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The budget that is spent after `states` states, if any. Reads the
    /// clock and, with a memory budget, the process's resident memory: call
    /// it between batches, not on every step.
    pub(crate) fn spent(&self, states: u64) -> Option<Cut> {
        if self.stopped() {
            return Some(Cut::Stopped);
        }
        if let Some(max) = self.max_states
            && states >= max
        {
            return Some(Cut::MaxStates(max));
        }
        if let Some(time) = self.time
            && self.started.elapsed() >= time
        {
            return Some(Cut::Time(time));
        }
        if let Some(budget) = self.max_memory
            && let Some(resident) = resident_bytes()
            && resident >= budget
        {
            return Some(Cut::Memory { budget, resident });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read_in_bytes() {
        let text = "Name:\tkcheck\nVmRSS:\t  2048 kB\nThreads: 3\n";
        assert_eq!(kib_field(text, "VmRSS:"), Some(2 * 1024 * 1024));
        assert_eq!(kib_field(text, "VmHWM:"), None);
    }

    #[test]
    fn bytes_print_in_binary_units() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn a_spent_budget_names_itself() {
        let mut b = Budget::new();
        assert_eq!(b.spent(10), None);
        b.max_states = Some(10);
        assert_eq!(b.spent(10), Some(Cut::MaxStates(10)));
        b.time = Some(Duration::ZERO);
        b.max_states = None;
        assert_eq!(b.spent(0), Some(Cut::Time(Duration::ZERO)));
        b.max_memory = Some(1);
        b.time = None;
        if resident_bytes().is_some() {
            assert!(matches!(b.spent(0), Some(Cut::Memory { budget: 1, .. })));
        }
        b.stop.store(true, Ordering::Relaxed);
        assert_eq!(b.spent(0), Some(Cut::Stopped));
    }
}
