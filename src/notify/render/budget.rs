//! The render budget (issue 19): no template can run away. A user template may loop
//! over a large list, or nest loops, and handlebars has no limit of its own; so every
//! render writes into a [`Bounded`] buffer that refuses to grow past the target's
//! [`max_render_bytes`] and to go on past [`MAX_RENDER_TIME`]. The render then fails
//! with an error that names the template and the limit, and that message becomes a
//! dead letter; nothing else waits on it.
//!
//! The time is checked at every piece of output, so a loop that writes nothing (a
//! `{{#each}}` whose body is empty) is not stopped here: delivery also waits for a
//! render at most [`RENDER_WAIT`] (`notify/deliver.rs`), and `check` renders every
//! template with 1,000 alerts under this budget, which is where a runaway template is
//! meant to be found.

use std::io;
use std::time::{Duration, Instant};

use super::source::Target;

const MIB: usize = 1024 * 1024;

/// Longest one render may take. A shipped template renders 1,000 alerts in a few
/// milliseconds (release build), so this is only ever reached by a runaway.
pub const MAX_RENDER_TIME: Duration = Duration::from_secs(2);

/// How long delivery waits for a render before it fails the message (the render's own
/// checks end it sooner unless it writes nothing).
pub const RENDER_WAIT: Duration = Duration::from_secs(5);

/// The most one render of `target` may write, in bytes. These bound the raw output,
/// before it is parsed and fitted: each is several times the largest message its
/// service accepts after fitting (Slack's 50 blocks, Teams' 28 KB, PagerDuty's
/// 512 KB, the 1 MiB webhook cap; an email's part), and so is only ever reached by a
/// template that runs away.
pub fn max_render_bytes(target: Target) -> usize {
    match target {
        Target::Slack | Target::Teams | Target::PagerDuty | Target::Webhook => 4 * MIB,
        // An email part listing 1,000 alerts is about 1.5 MiB of HTML.
        Target::Email | Target::Digest => 8 * MIB,
    }
}

/// What stopped a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Size(usize),
    Time(Duration),
}

impl Over {
    /// The limit, said for a template author.
    pub fn describe(self, target: Target) -> String {
        match self {
            Over::Size(max) => format!(
                "the output passed {} MiB, the most a {} message may render to \
                 (a loop that runs away?)",
                max / MIB,
                target.label()
            ),
            Over::Time(max) => format!(
                "the render took longer than {} s, the most one message may take \
                 (loops nested in loops?)",
                max.as_secs_f64()
            ),
        }
    }
}

/// A render's output, refused past a size and a deadline.
pub struct Bounded {
    pub out: Vec<u8>,
    max_bytes: usize,
    max_time: Duration,
    deadline: Instant,
    pub over: Option<Over>,
}

impl Bounded {
    pub fn new(max_bytes: usize, max_time: Duration) -> Bounded {
        Bounded {
            out: Vec::new(),
            max_bytes,
            max_time,
            deadline: Instant::now() + max_time,
            over: None,
        }
    }
}

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len() + buf.len() > self.max_bytes {
            self.over = Some(Over::Size(self.max_bytes));
        } else if Instant::now() > self.deadline {
            self.over = Some(Over::Time(self.max_time));
        } else {
            self.out.extend_from_slice(buf);
            return Ok(buf.len());
        }
        Err(io::Error::other("the render budget is spent"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn refuses_past_the_size_and_says_which() {
        let mut b = Bounded::new(10, Duration::from_secs(60));
        b.write_all(b"12345").unwrap();
        assert!(b.write_all(b"678901").is_err());
        assert_eq!(b.over, Some(Over::Size(10)));
        assert_eq!(b.out, b"12345");
    }

    #[test]
    fn refuses_past_the_deadline() {
        let mut b = Bounded::new(1000, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert!(b.write_all(b"x").is_err());
        assert_eq!(b.over, Some(Over::Time(Duration::ZERO)));
        assert!(
            Over::Time(MAX_RENDER_TIME)
                .describe(Target::Slack)
                .contains("longer than 2 s")
        );
    }
}
