//! Running one measured child process: its output, its exit code, its peak
//! resident memory (from `wait4`), and a hard time limit.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a child process left behind.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Whether it overran its limit and was killed.
    pub killed: bool,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// Its peak resident set size in bytes (`ru_maxrss`).
    pub peak_rss: u64,
}

/// Runs `command` to its end, killing it once `limit` has passed, and
/// measures its peak resident memory.
pub fn run(mut command: Command, limit: Duration) -> io::Result<Finished> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut killed = false;
    let (status, peak_rss) = loop {
        if let Some(ended) = wait4(pid, !killed)? {
            break ended;
        }
        if start.elapsed() > limit {
            // Not reaped yet (wait4 said it is running), so the pid is still ours.
            child.kill()?;
            killed = true;
            continue;
        }
        thread::sleep(Duration::from_millis(10));
    };
    Ok(Finished {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        killed,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        peak_rss,
    })
}

/// Reads a pipe to its end on its own thread, so a chatty child never blocks.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Reaps child `pid`: its wait status and peak resident memory in bytes, or
/// `None` if `nohang` and it is still running.
fn wait4(pid: libc::pid_t, nohang: bool) -> io::Result<Option<(i32, u64)>> {
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain integers, for which all-zero is valid;
        // `status` and `usage` are live, writable locals for the whole call,
        // and `pid` is a child of this process that nothing else reaps.
        let (reaped, usage) = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let reaped = libc::wait4(pid, &mut status, flags, &mut usage);
            (reaped, usage)
        };
        match reaped {
            0 => return Ok(None),
            -1 => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            // Linux reports ru_maxrss in KiB.
            _ => return Ok(Some((status, usage.ru_maxrss.max(0) as u64 * 1024))),
        }
    }
}
