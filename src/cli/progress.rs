//! Progress on stderr (only when it is a terminal) and Ctrl-C handling.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kcheck_engine::explore::{self, Mode, ProgressFn};

use super::explore::Settings;

/// Progress shown while an exploration runs: a bar when stderr is a
/// terminal, otherwise a heartbeat line every few seconds.
pub struct Progress {
    bar: Option<ProgressBar>,
    heartbeat: Option<(Heartbeat, Arc<Mutex<explore::Progress>>)>,
    mode: Mode,
}

/// How often a heartbeat line is printed without a terminal: every 10 s,
/// or every `KCHECK_HEARTBEAT_SECS` seconds.
fn heartbeat_interval() -> Duration {
    std::env::var("KCHECK_HEARTBEAT_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// A thread that prints a line to stderr now and then until dropped, so
/// that a long run in CI (no terminal) is seen to be alive.
pub struct Heartbeat {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Prints `kcheck: {label}: {line()}, {memory} resident, {elapsed}`
    /// every interval.
    pub fn start(label: String, line: impl Fn(Duration) -> String + Send + 'static) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let interval = heartbeat_interval();
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let elapsed = started.elapsed();
                let memory = explore::resident_bytes()
                    .map(|b| format!(", {} resident", explore::format_bytes(b)))
                    .unwrap_or_default();
                eprintln!(
                    "kcheck: {label}: {}{memory}, {:.0} s",
                    line(elapsed),
                    elapsed.as_secs_f64()
                );
            }
        });
        Heartbeat {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The heartbeat line of an exploration.
fn explore_line(p: &explore::Progress, mode: Mode, trials: u64, elapsed: Duration) -> String {
    let rate = |n: u64| n as f64 / elapsed.as_secs_f64().max(1e-9);
    match mode {
        Mode::MonteCarlo => format!(
            "{}/{trials} trials, {:.1} trials/s",
            p.trials_done,
            rate(p.trials_done)
        ),
        _ => format!(
            "{} states, {:.0} states/s, depth {}",
            p.states,
            rate(p.states),
            p.depth
        ),
    }
}

impl Progress {
    /// Progress for scenario `name` run with `settings`.
    pub fn new(name: &str, settings: &Settings) -> Self {
        let trials = if settings.trial.is_some() {
            1
        } else {
            settings.trials
        };
        if !std::io::stderr().is_terminal() {
            let latest = Arc::new(Mutex::new(explore::Progress::default()));
            let seen = latest.clone();
            let mode = settings.mode;
            let heartbeat = Heartbeat::start(name.to_string(), move |elapsed| {
                let p = *seen.lock().expect("progress lock");
                explore_line(&p, mode, trials, elapsed)
            });
            return Progress {
                bar: None,
                heartbeat: Some((heartbeat, latest)),
                mode: settings.mode,
            };
        }
        let bar = match settings.mode {
            Mode::MonteCarlo => {
                let bar = ProgressBar::new(trials);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} trials ({per_sec}, {elapsed})",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar
            }
            _ => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                        .expect("a valid template"),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            }
        };
        bar.set_prefix(name.to_string());
        Progress {
            bar: Some(bar),
            heartbeat: None,
            mode: settings.mode,
        }
    }

    /// The callback to give the explorer.
    pub fn callback(&self) -> Option<ProgressFn> {
        if let Some((_, latest)) = &self.heartbeat {
            let latest = latest.clone();
            return Some(Arc::new(move |p| {
                *latest.lock().expect("progress lock") = p
            }));
        }
        let bar = self.bar.clone()?;
        let mode = self.mode;
        Some(Arc::new(move |p| match mode {
            Mode::MonteCarlo => bar.set_position(p.trials_done),
            _ => {
                let secs = bar.elapsed().as_secs_f64();
                let rate = if secs > 0.0 {
                    p.states as f64 / secs
                } else {
                    0.0
                };
                bar.set_message(format!(
                    "{} states, depth {}, {rate:.0} states/s",
                    p.states, p.depth
                ));
            }
        }))
    }

    /// Removes the bar, or stops the heartbeat.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A progress bar for a hunt's phases, or nothing when stderr is not a
/// terminal.
pub fn hunt_bar(name: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} phases, {msg} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    Some(bar)
}

/// What Ctrl-C sets: the stop flag handed to the search (which a hunt may
/// also set when its budget runs out) and whether Ctrl-C was pressed.
struct Interrupt {
    stop: Arc<AtomicBool>,
    pressed: Arc<AtomicBool>,
}

fn interrupt() -> &'static Interrupt {
    static STATE: OnceLock<Interrupt> = OnceLock::new();
    STATE.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let pressed = Arc::new(AtomicBool::new(false));
        let (s, p) = (stop.clone(), pressed.clone());
        let installed = ctrlc::set_handler(move || {
            if p.swap(true, Ordering::SeqCst) {
                eprintln!("\nkcheck: interrupted again, exiting");
                std::process::exit(130);
            }
            s.store(true, Ordering::SeqCst);
            eprintln!(
                "\nkcheck: interrupted; finishing with what was found (Ctrl-C again to exit at once)"
            );
        });
        if let Err(e) = installed {
            eprintln!("kcheck: warning: Ctrl-C will not stop the search cleanly: {e}");
        }
        Interrupt { stop, pressed }
    })
}

/// The flag that stops the search. The first Ctrl-C sets it (what was found
/// is still printed and written); a second one exits at once.
pub fn stop_flag() -> Arc<AtomicBool> {
    interrupt().stop.clone()
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    interrupt().pressed.load(Ordering::SeqCst)
}
