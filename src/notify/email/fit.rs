//! An email's limit: its subject, one line of at most [`MAX_SUBJECT_CHARS`] characters,
//! for alert emails and digests alike (both are sent by an email channel). Emails are
//! not JSON and list every alert, so the renderer's search (`render/fit.rs`) never
//! applies to them. Pure: nothing here renders or sends.

use crate::notify::render::limit::truncate_chars;

/// Longest subject, in characters (one line, whatever the template made of it).
pub const MAX_SUBJECT_CHARS: usize = 200;

/// A rendered subject as one line: whitespace (newlines from a template or a value)
/// collapsed, then cut to [`MAX_SUBJECT_CHARS`].
pub fn subject(rendered: &str) -> String {
    let line = rendered.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&line, MAX_SUBJECT_CHARS)
}
