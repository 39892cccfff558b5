//! kcheck-bench: kcheck on `scenarios/scale/deployments-N.json` side by side
//! with stateright on an abstract model of the same N Deployments.
//!
//! Every exploration runs in a child process, so that each has its own peak
//! resident memory (from `wait4`) and a hard time limit: kcheck as itself,
//! stateright as this program re-run with `--stateright-worker`. The table
//! goes to stdout a row at a time; progress goes to stderr.
//!
//! ```text
//! kcheck-bench [--max-n N] [--timeout SECONDS] [--json FILE]
//! ```

mod child;
mod model;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use serde_json::{Value, json};

/// The usage line.
const USAGE: &str = "usage: kcheck-bench [--max-n N] [--timeout SECONDS] [--json FILE]";

/// Command-line options.
#[derive(Debug)]
struct Options {
    /// Benchmark N = 1..=max_n Deployments.
    max_n: u8,
    /// Time budget of each exploration, in seconds.
    timeout: u64,
    /// Where to write the rows as JSON lines, if anywhere.
    json: Option<PathBuf>,
}

/// Parses the command line (without the program name).
fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        max_n: 4,
        timeout: 120,
        json: None,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--max-n" => options.max_n = number(flag, value()?)?,
            "--timeout" => options.timeout = number(flag, value()?)?,
            "--json" => options.json = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.max_n == 0 || options.timeout == 0 {
        return Err("--max-n and --timeout must be at least 1".into());
    }
    Ok(options)
}

/// Parses `text`, the value of `flag`, as a number.
fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a number"))
}

/// What a tool reported about one exploration.
#[derive(Clone, Debug)]
struct Stats {
    /// Distinct states.
    states: u64,
    /// Transitions explored.
    transitions: u64,
    /// Seconds the exploration took, as the tool measured it.
    seconds: f64,
    /// Distinct converged states found.
    converged: u64,
    /// Whether the whole state space was explored.
    complete: bool,
}

/// One exploration by one tool on one thread count.
#[derive(Clone, Debug, Default)]
struct Run {
    /// What the tool reported; `None` if it printed nothing usable.
    stats: Option<Stats>,
    /// The child's peak resident memory, in bytes.
    peak_rss: u64,
    /// Why `stats` is missing, or what else went wrong.
    note: Option<String>,
}

impl Run {
    /// A run that could not be measured.
    fn failed(note: String) -> Run {
        Run {
            note: Some(note),
            ..Run::default()
        }
    }

    /// Measures a finished child whose stdout's first line is a JSON
    /// result, read by `read`.
    fn measure(finished: io::Result<child::Finished>, read: fn(&Value) -> Option<Stats>) -> Run {
        let finished = match finished {
            Ok(finished) => finished,
            Err(error) => return Run::failed(format!("cannot run: {error}")),
        };
        let stats = finished
            .stdout
            .lines()
            .next()
            .and_then(|line| serde_json::from_str(line).ok())
            .and_then(|value| read(&value));
        let note = if finished.killed {
            Some("killed at the hard limit".to_string())
        } else if stats.is_none() || !matches!(finished.code, Some(0 | 1)) {
            let stderr = finished.stderr.lines().last().unwrap_or("").trim();
            Some(format!("exit {:?}: {stderr}", finished.code))
        } else if finished.code == Some(1) {
            Some("exit 1 (findings or failed expectations)".to_string())
        } else {
            None
        };
        Run {
            stats,
            peak_rss: finished.peak_rss,
            note,
        }
    }
}

/// Reads kcheck's `--json` result.
fn read_kcheck(value: &Value) -> Option<Stats> {
    let stats = &value["stats"];
    Some(Stats {
        states: stats["states"].as_u64()?,
        transitions: stats["transitions"].as_u64()?,
        seconds: stats["seconds"].as_f64()?,
        converged: value["converged_states"].as_array()?.len() as u64,
        complete: value["complete"].as_bool()?,
    })
}

/// Reads the `--stateright-worker` result.
fn read_worker(value: &Value) -> Option<Stats> {
    Some(Stats {
        states: value["states"].as_u64()?,
        transitions: value["transitions"].as_u64()?,
        seconds: value["seconds"].as_f64()?,
        converged: value["converged"].as_u64()?,
        complete: value["complete"].as_bool()?,
    })
}

/// The child-process side of a stateright run: `N THREADS TIMEOUT`; prints
/// one JSON line and exits, leaving a timed-out search's threads behind.
fn worker(args: &[String]) -> ExitCode {
    let [n, threads, timeout] = args else {
        eprintln!("usage: kcheck-bench --stateright-worker N THREADS TIMEOUT");
        return ExitCode::from(2);
    };
    let (Ok(n), Ok(threads), Ok(timeout)) = (n.parse(), threads.parse(), timeout.parse()) else {
        eprintln!("kcheck-bench --stateright-worker: N, THREADS and TIMEOUT are numbers");
        return ExitCode::from(2);
    };
    let outcome = model::check(n, threads, Duration::from_secs(timeout));
    let line = json!({
        "states": outcome.states,
        "transitions": outcome.transitions,
        "seconds": outcome.seconds,
        "converged": outcome.converged,
        "complete": outcome.complete,
    });
    println!("{line}");
    let _ = io::stdout().flush();
    // Exit now: skip freeing the visited set, and end any timed-out threads.
    std::process::exit(0)
}

/// Runs stateright on `n` Deployments with `threads` threads in a child process.
fn stateright(n: u8, threads: usize, timeout: u64) -> Run {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return Run::failed(format!("cannot find this program: {error}")),
    };
    let mut command = Command::new(exe);
    command.args([
        "--stateright-worker".to_string(),
        n.to_string(),
        threads.to_string(),
        timeout.to_string(),
    ]);
    // The worker stops itself at `timeout`; the limit is for a stuck one.
    let limit = Duration::from_secs(timeout + 10);
    Run::measure(child::run(command, limit), read_worker)
}

/// How to run kcheck.
struct Kcheck {
    /// The kcheck binary.
    bin: PathBuf,
    /// The repository root: kcheck's working directory.
    root: PathBuf,
    /// Each exploration's time budget, in seconds.
    timeout: u64,
}

impl Kcheck {
    /// Runs kcheck on deployments-`n` with `--reduction reduction` and
    /// measures it.
    fn run(&self, n: u8, threads: usize, reduction: &str) -> Run {
        let mut command = Command::new(&self.bin);
        command
            .current_dir(&self.root)
            .arg("run")
            .arg(format!("scenarios/scale/deployments-{n}.json"))
            .args(["--json", "--allow-incomplete"])
            .args(["--threads", &threads.to_string()])
            .args(["--time-budget", &self.timeout.to_string()])
            .args(["--reduction", reduction]);
        // kcheck stops itself at its time budget; the limit is for a stuck one.
        let limit = Duration::from_secs(self.timeout + 30.max(self.timeout / 4));
        Run::measure(child::run(command, limit), read_kcheck)
    }
}

/// One table row: one tool (and reduction) on N Deployments, on 1 and 2 threads.
struct Row {
    /// Deployments.
    n: u8,
    /// "stateright" or "kcheck".
    tool: &'static str,
    /// kcheck's `--reduction`; `None` for stateright.
    reduction: Option<&'static str>,
    /// The one-thread run.
    one: Run,
    /// The two-thread run.
    two: Run,
    /// stateright's one-thread seconds for the same N, on kcheck rows.
    stateright_seconds: Option<f64>,
}

impl Row {
    /// Transitions per second on one thread.
    fn rate(&self) -> Option<f64> {
        let s = self.one.stats.as_ref()?;
        (s.seconds > 0.0).then(|| s.transitions as f64 / s.seconds)
    }

    /// One-thread time over two-thread time, when both searches completed.
    fn speedup(&self) -> Option<f64> {
        let (one, two) = (self.one.stats.as_ref()?, self.two.stats.as_ref()?);
        (one.complete && two.complete && two.seconds > 0.0).then(|| one.seconds / two.seconds)
    }

    /// Peak resident bytes per visited state, on one thread.
    fn bytes_per_state(&self) -> Option<f64> {
        let s = self.one.stats.as_ref()?;
        (s.states > 0).then(|| self.one.peak_rss as f64 / s.states as f64)
    }

    /// kcheck's one-thread time over stateright's, on kcheck rows.
    fn versus_stateright(&self) -> Option<f64> {
        let stateright = self.stateright_seconds.filter(|s| *s > 0.0)?;
        Some(self.one.stats.as_ref()?.seconds / stateright)
    }

    /// Every remark: each run's, and any disagreement between them.
    fn all_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (threads, run) in [(1, &self.one), (2, &self.two)] {
            if let Some(note) = &run.note {
                notes.push(format!("{threads}t: {note}"));
            } else if run.stats.as_ref().is_some_and(|s| !s.complete) {
                notes.push(format!("{threads}t: timeout"));
            }
        }
        if let (Some(one), Some(two)) = (&self.one.stats, &self.two.stats)
            && one.complete
            && two.complete
            && (one.states, one.converged) != (two.states, two.converged)
        {
            notes.push(format!(
                "2t found {} states, {} converged",
                two.states, two.converged
            ));
        }
        notes
    }

    /// The row's cells, in [`COLUMNS`] order.
    fn cells(&self) -> Vec<String> {
        let stats = self.one.stats.as_ref();
        let dash = || "-".to_string();
        let fixed = |value: Option<f64>, digits: usize| {
            value.map_or_else(dash, |v| format!("{v:.digits$}"))
        };
        vec![
            self.n.to_string(),
            self.tool.to_string(),
            self.reduction.unwrap_or("-").to_string(),
            stats.map_or_else(dash, |s| s.states.to_string()),
            stats.map_or_else(dash, |s| s.transitions.to_string()),
            // Sub-second times keep six decimals: stateright's smallest take microseconds.
            stats.map_or_else(dash, |s| match s.seconds {
                v if v < 1.0 => format!("{v:.6}"),
                v => format!("{v:.3}"),
            }),
            fixed(self.rate(), 0),
            self.speedup().map_or_else(dash, |x| format!("{x:.2}x")),
            fixed(Some(self.one.peak_rss as f64 / 1e6).filter(|m| *m > 0.0), 1),
            fixed(self.bytes_per_state(), 0),
            stats.map_or_else(dash, |s| s.converged.to_string()),
            stats.map_or_else(dash, |s| if s.complete { "yes" } else { "no" }.to_string()),
            // An unfinished kcheck run would have taken longer: a lower bound.
            self.versus_stateright().map_or_else(dash, |x| {
                let bound = if stats.is_some_and(|s| s.complete) {
                    ""
                } else {
                    ">"
                };
                format!("{bound}{x:.3}x")
            }),
            self.all_notes().join("; "),
        ]
    }

    /// The row as one JSON object, with both runs in full.
    fn json(&self) -> Value {
        let run = |run: &Run| {
            json!({
                "states": run.stats.as_ref().map(|s| s.states),
                "transitions": run.stats.as_ref().map(|s| s.transitions),
                "seconds": run.stats.as_ref().map(|s| s.seconds),
                "converged_states": run.stats.as_ref().map(|s| s.converged),
                "complete": run.stats.as_ref().map(|s| s.complete),
                "peak_rss_bytes": run.peak_rss,
                "note": run.note,
            })
        };
        let stats = self.one.stats.as_ref();
        json!({
            "n": self.n,
            "tool": self.tool,
            "reduction": self.reduction,
            "states": stats.map(|s| s.states),
            "transitions": stats.map(|s| s.transitions),
            "seconds": stats.map(|s| s.seconds),
            "transitions_per_second": self.rate(),
            "speedup_2_threads": self.speedup(),
            "peak_rss_bytes": self.one.peak_rss,
            "bytes_per_state": self.bytes_per_state(),
            "converged_states": stats.map(|s| s.converged),
            "complete": stats.map(|s| s.complete),
            "kcheck_over_stateright_1_thread": self.versus_stateright(),
            "notes": self.all_notes(),
            "threads_1": run(&self.one),
            "threads_2": run(&self.two),
        })
    }
}

/// The table's columns: header and width (the last, notes, is unpadded).
const COLUMNS: [(&str, usize); 14] = [
    ("N", 2),
    ("tool", 10),
    ("reduction", 9),
    ("states", 10),
    ("transitions", 11),
    ("seconds", 9),
    ("trans/s", 9),
    ("speedup2t", 9),
    ("peak MB", 8),
    ("B/state", 8),
    ("converged", 9),
    ("complete", 8),
    ("vs SR 1t", 8),
    ("notes", 0),
];

/// Lays out one table line: text columns left-aligned, numbers right-aligned.
fn line(cells: &[String]) -> String {
    let mut out = String::new();
    for (i, (cell, (_, width))) in cells.iter().zip(COLUMNS).enumerate() {
        match i {
            1 | 2 | 11 | 13 => out.push_str(&format!("{cell:<width$}")),
            _ => out.push_str(&format!("{cell:>width$}")),
        }
        out.push_str("  ");
    }
    out.trim_end().to_string()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--stateright-worker") {
        return worker(&args[1..]);
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("kcheck-bench: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if message.is_empty() { 0 } else { 2 });
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate sits in the repository")
        .to_path_buf();
    let bin = std::env::var_os("KCHECK_BIN")
        .map_or_else(|| root.join("target/release/kcheck"), PathBuf::from);
    if !bin.is_file() {
        eprintln!(
            "kcheck-bench: no kcheck binary at {}: run `cargo build --release` \
             at the repository root, or set KCHECK_BIN",
            bin.display()
        );
        return ExitCode::from(2);
    }
    let mut json = match options.json.as_deref().map(File::create).transpose() {
        Ok(json) => json,
        Err(error) => {
            eprintln!("kcheck-bench: cannot write the JSON file: {error}");
            return ExitCode::from(2);
        }
    };
    let kcheck = Kcheck {
        bin,
        root,
        timeout: options.timeout,
    };

    println!("{}", line(&COLUMNS.map(|(header, _)| header.to_string())));
    let mut print = |row: Row| {
        println!("{}", line(&row.cells()));
        if let Some(file) = &mut json
            && let Err(error) = writeln!(file, "{}", row.json())
        {
            eprintln!("kcheck-bench: cannot write the JSON file: {error}");
        }
    };
    for n in 1..=options.max_n {
        let [one, two] = [1, 2].map(|threads| {
            eprintln!("N={n}: stateright, {threads} thread(s)");
            stateright(n, threads, options.timeout)
        });
        let stateright_seconds = one.stats.as_ref().map(|s| s.seconds);
        print(Row {
            n,
            tool: "stateright",
            reduction: None,
            one,
            two,
            stateright_seconds: None,
        });
        for reduction in ["por", "none"] {
            let [one, two] = [1, 2].map(|threads| {
                eprintln!("N={n}: kcheck --reduction {reduction}, {threads} thread(s)");
                kcheck.run(n, threads, reduction)
            });
            print(Row {
                n,
                tool: "kcheck",
                reduction: Some(reduction),
                one,
                two,
                stateright_seconds,
            });
        }
    }
    ExitCode::SUCCESS
}
