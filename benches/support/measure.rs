//! Run a child process to its end and measure it: wall time, peak resident memory
//! (the kernel's `ru_maxrss` from `wait4`, so an interpreter's own memory counts too)
//! and what it printed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of a child cost.
pub struct Run {
    pub elapsed: Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    #[allow(dead_code)] // the poll bench reads only the cost
    pub stdout: String,
}

/// Spawn `cmd` (stdout captured, stderr inherited) and wait for it.
// The child is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child's pid, with valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Run {
        elapsed: started.elapsed(),
        max_rss_kib: usage.ru_maxrss as u64,
        code,
        stdout,
    }
}
