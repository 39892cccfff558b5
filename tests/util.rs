//! Helpers for the integration tests: a temporary directory to write
//! scenarios into, and a runner for the built `kcheck` binary, in the spirit
//! of ripgrep's `TestCommand`.

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary directory, removed when dropped.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    /// A new, empty directory.
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::Builder::new()
                .prefix("kcheck-test-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes a file and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// Writes a JSON value (pretty-printed) and returns its path.
    pub fn write_json(&self, name: &str, value: &Value) -> PathBuf {
        self.write(name, &serde_json::to_string_pretty(value).unwrap())
    }

    /// A command running `kcheck` in this directory.
    pub fn kcheck(&self) -> TestCommand {
        TestCommand::new(self.path())
    }
}

/// A `kcheck` invocation being built.
pub struct TestCommand {
    cmd: Command,
    shown: Vec<String>,
}

impl TestCommand {
    /// `kcheck` run from `dir`.
    pub fn new(dir: &Path) -> TestCommand {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kcheck"));
        cmd.current_dir(dir);
        TestCommand {
            cmd,
            shown: vec!["kcheck".into()],
        }
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for a in args {
            self.shown.push(a.as_ref().to_string_lossy().into_owned());
            self.cmd.arg(a);
        }
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(&mut self, key: &str, value: &str) -> &mut TestCommand {
        self.cmd.env(key, value);
        self
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<std::ffi::OsStr>) -> &mut TestCommand {
        self.args([arg])
    }

    /// Starts it with stdout and stderr captured, without waiting.
    pub fn spawn(&mut self) -> std::process::Child {
        self.cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kcheck starts")
    }

    /// The command line, for messages.
    pub fn shown(&self) -> String {
        self.shown.join(" ")
    }

    /// Runs it.
    pub fn output(&mut self) -> Run {
        let output = self.cmd.output().expect("kcheck runs");
        Run {
            command: self.shown.join(" "),
            output,
        }
    }

    /// Runs it and asserts the exit code.
    pub fn expect_code(&mut self, code: i32) -> Run {
        let run = self.output();
        if run.code() != code {
            panic!("expected exit code {code}, got {}\n{run}", run.code());
        }
        run
    }
}

/// A finished `kcheck` run.
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// What it printed and how it exited.
    pub output: Output,
}

impl Run {
    /// The exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    /// Standard output.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard error.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Standard output as one JSON value per line.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{self}"))
            })
            .collect()
    }

    /// Asserts that stdout contains `needle`.
    pub fn assert_stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that stderr contains `needle`.
    pub fn assert_stderr_has(&self, needle: &str) -> &Run {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

/// Asserts two values are equal, printing both pretty on failure.
#[macro_export]
macro_rules! assert_json_eq {
    ($left:expr, $right:expr $(,)?) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            panic!(
                "JSON differs\n--- left ---\n{}\n--- right ---\n{}",
                serde_json::to_string_pretty(l).unwrap(),
                serde_json::to_string_pretty(r).unwrap()
            );
        }
    }};
}
