//! Progress on stderr (only when it is a terminal) and Ctrl-C handling.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use kcheck_engine::explore::{Mode, ProgressFn};

use crate::explore::Settings;

/// A progress bar for one exploration, or nothing when stderr is not a
/// terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    mode: Mode,
}

impl Progress {
    /// A bar for scenario `name` run with `settings`.
    pub fn new(name: &str, settings: &Settings) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                mode: settings.mode,
            };
        }
        let bar = match settings.mode {
            Mode::MonteCarlo => {
                let n = if settings.trial.is_some() {
                    1
                } else {
                    settings.trials
                };
                let bar = ProgressBar::new(n);
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
            mode: settings.mode,
        }
    }

    /// The callback to give the explorer.
    pub fn callback(&self) -> Option<ProgressFn> {
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

    /// Removes the bar.
    pub fn finish(&self) {
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
