//! The process exit status (SPEC §2): 0 ok, 1 runtime failure, 2 bad usage or config,
//! 3 undelivered. Commands decide it; `main.rs` returns it.

/// A process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Ok = 0,
    Failed = 1,
    Usage = 2,
    Undelivered = 3,
}

impl Exit {
    /// When several apply: 2 wins over 1, and 1 over 3.
    pub fn combine(self, other: Exit) -> Exit {
        let rank = |e: Exit| match e {
            Exit::Ok => 0,
            Exit::Undelivered => 1,
            Exit::Failed => 2,
            Exit::Usage => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}
