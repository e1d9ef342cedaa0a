//! `${NAME}` and `${file:PATH}` in string values.
//!
//! Anywhere in a string, several per string: `${NAME}` becomes the environment variable
//! NAME, `${file:PATH}` the content of that file with surrounding whitespace trimmed
//! (PATH relative to the config file's folder), and `$${` a literal `${`. Expansion is
//! one pass: what a variable or file holds is never expanded again. Errors carry the
//! byte offset of the `${` and never any part of the value or of what it expands to.

use std::path::{Path, PathBuf};

/// A string after expansion.
#[derive(Debug)]
pub(crate) struct Expanded {
    pub value: String,
    /// Whether any `${...}` was replaced (then the value must not be shown).
    pub expanded: bool,
}

/// Why a string could not be expanded. `offset` is the byte offset of the `${` in the
/// string being expanded.
#[derive(Debug)]
pub(crate) enum ExpandError {
    UnsetEnv {
        var: String,
        offset: usize,
    },
    File {
        path: String,
        resolved: PathBuf,
        source: std::io::Error,
        offset: usize,
    },
    Syntax {
        problem: &'static str,
        offset: usize,
    },
}

const UNTERMINATED: &str =
    "`${` is not closed by `}`: expected ${NAME} or ${file:PATH} (write $${ for a literal ${)";
const BAD_NAME: &str = "`${...}` does not hold a variable name (letters, digits and _, not starting \
     with a digit) or file:PATH: expected ${NAME} or ${file:PATH} (write $${ for a literal ${)";
const EMPTY_FILE: &str = "`${file:}` names no file: expected ${file:PATH}";

/// Expand every `${...}` in `s`.
pub(crate) fn expand(
    s: &str,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, ExpandError> {
    if !s.contains("${") {
        return Ok(Expanded {
            value: s.to_string(),
            expanded: false,
        });
    }
    let mut out = String::with_capacity(s.len());
    let mut expanded = false;
    let mut i = 0;
    while let Some(found) = s[i..].find('$') {
        let at = i + found;
        out.push_str(&s[i..at]);
        let rest = &s[at..];
        if rest.starts_with("$${") {
            out.push_str("${");
            i = at + 3;
        } else if rest.starts_with("${") {
            let close = rest.find('}').ok_or(ExpandError::Syntax {
                problem: UNTERMINATED,
                offset: at,
            })?;
            let inner = &rest[2..close];
            if let Some(path) = inner.strip_prefix("file:") {
                if path.trim().is_empty() {
                    return Err(ExpandError::Syntax {
                        problem: EMPTY_FILE,
                        offset: at,
                    });
                }
                let resolved = super::resolve(dir, Path::new(path));
                let content =
                    std::fs::read_to_string(&resolved).map_err(|source| ExpandError::File {
                        path: path.to_string(),
                        resolved: resolved.clone(),
                        source,
                        offset: at,
                    })?;
                out.push_str(content.trim());
            } else if is_var_name(inner) {
                let value = env(inner).ok_or_else(|| ExpandError::UnsetEnv {
                    var: inner.to_string(),
                    offset: at,
                })?;
                out.push_str(&value);
            } else {
                return Err(ExpandError::Syntax {
                    problem: BAD_NAME,
                    offset: at,
                });
            }
            expanded = true;
            i = at + close + 1;
        } else {
            out.push('$');
            i = at + 1;
        }
    }
    out.push_str(&s[i..]);
    Ok(Expanded {
        value: out,
        expanded,
    })
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "B_2" => Some("beta".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("${A}".into()),
            _ => None,
        }
    }

    fn ok(s: &str) -> (String, bool) {
        let e = expand(s, Path::new("."), &env).unwrap();
        (e.value, e.expanded)
    }

    #[test]
    fn plain_strings_pass_through() {
        assert_eq!(
            ok("no refs, $5 and $ sign"),
            ("no refs, $5 and $ sign".into(), false)
        );
        assert_eq!(ok(""), (String::new(), false));
    }

    #[test]
    fn replaces_variables_anywhere() {
        assert_eq!(ok("${A}"), ("alpha".into(), true));
        assert_eq!(ok("x${A}y${B_2}z"), ("xalphaybetaz".into(), true));
        assert_eq!(ok("Bearer ${A}"), ("Bearer alpha".into(), true));
        assert_eq!(ok("${EMPTY}"), (String::new(), true));
        assert_eq!(ok("$${A} and ${A}"), ("${A} and alpha".into(), true));
        assert_eq!(ok("$$"), ("$$".into(), false));
    }

    #[test]
    fn does_not_expand_twice() {
        assert_eq!(ok("${NESTED}"), ("${A}".into(), true));
    }

    #[test]
    fn escaped_only_is_not_expanded_but_unescaped() {
        assert_eq!(ok("$${A}"), ("${A}".into(), false));
    }

    #[test]
    fn unset_variable_names_it() {
        match expand("ab${NOPE}", Path::new("."), &env) {
            Err(ExpandError::UnsetEnv { var, offset }) => {
                assert_eq!(var, "NOPE");
                assert_eq!(offset, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_point_at_the_reference() {
        for (s, at) in [
            ("x${A", 1),
            ("${}", 0),
            ("${1A}", 0),
            ("ab${A B}", 2),
            ("${file:}", 0),
            ("${A}${-}", 4),
        ] {
            match expand(s, Path::new("."), &env) {
                Err(ExpandError::Syntax { offset, .. }) => assert_eq!(offset, at, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    #[test]
    fn files_are_read_relative_to_the_folder_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/token"), "  s3cr3t\n\n").unwrap();
        let e = expand("Bearer ${file:secrets/token}!", dir.path(), &env).unwrap();
        assert_eq!(e.value, "Bearer s3cr3t!");
        assert!(e.expanded);
        match expand("${file:missing}", dir.path(), &env) {
            Err(ExpandError::File { path, resolved, .. }) => {
                assert_eq!(path, "missing");
                assert_eq!(resolved, dir.path().join("missing"));
            }
            other => panic!("{other:?}"),
        }
    }
}
