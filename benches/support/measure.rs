//! Run a child process to its end and measure it: wall time, CPU, peak resident memory
//! and what it printed.
//!
//! Peak memory is the child's own `VmHWM` (from `/proc/PID/status`, sampled every few
//! milliseconds while it runs: the high-water mark only grows), not `wait4`'s
//! `ru_maxrss`: a child started with `posix_spawn` (vfork) shares the parent's memory
//! until it execs, and the kernel carries that memory's high-water mark into the
//! child's `ru_maxrss`, so a bench holding 300 MiB of recorded pages would charge them
//! to every child. `ru_maxrss` is the fallback when no sample was taken.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of a child cost.
pub struct Run {
    pub elapsed: Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
    /// CPU time (user + system) the child used.
    #[allow(dead_code)] // only the compare bench reads it
    pub cpu: Duration,
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
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kib) = vm_hwm_kib(pid) {
                    peak = peak.max(kib);
                }
                std::thread::sleep(Duration::from_millis(3));
            }
            peak
        })
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child's pid, with valid out-pointers.
    let reaped = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    assert!(reaped > 0, "wait4 failed");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let sampled = sampler.join().unwrap_or(0);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        elapsed: started.elapsed(),
        max_rss_kib: if sampled > 0 {
            sampled
        } else {
            usage.ru_maxrss as u64
        },
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        code,
        stdout,
    }
}

/// The process's peak resident memory so far (KiB), from /proc.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
