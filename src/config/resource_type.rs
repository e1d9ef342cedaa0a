//! Resource type names as `resource_types` and `match.type` write them: exact names
//! (`resource.machine`), and families with a trailing `.*`
//! (`resource.virtual_machine.*`: every agentless VM type, whichever hypervisor).
//!
//! The API filters only by exact names (`type=`, at most 10: acronis-api.md §4.1), and
//! nobody knows every VM type a datacenter has (§4.5 lists the ones seen). So a list
//! with a family is not sent as a filter at all: every type is read and the poller
//! keeps what matches. Pure functions; no I/O.

/// The default: physical machines and every agentless VM type.
pub const DEFAULT: [&str; 2] = ["resource.machine", "resource.virtual_machine.*"];

/// The most names the API takes in one `type=` (acronis-api.md §4.1).
const API_MAX_TYPES: usize = 10;

/// What a valid name or family looks like, for error messages.
pub const EXPECTED: &str = "an exact name like \"resource.machine\" or a family like \
     \"resource.virtual_machine.*\" (a * only in a trailing .*)";

/// Whether `s` is a valid name or family: no `*` but a trailing `.*` after a non-empty
/// prefix.
pub fn check(s: &str) -> bool {
    let name = s.strip_suffix(".*").unwrap_or(s);
    !(name.is_empty() || name.contains('*') || name.ends_with('.'))
}

/// Whether the type `kind` is `pattern`, or belongs to its family.
pub fn matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => kind
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| !rest.is_empty()),
        None => pattern == kind,
    }
}

/// Whether any of `patterns` takes `kind`.
pub fn any_matches(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| matches(p, kind))
}

/// The `type=` value that makes the API return only `patterns`' resources, when it
/// can: exact names only, at most 10. None: read every type and keep the matching.
pub fn api_filter(patterns: &[String]) -> Option<String> {
    if patterns.is_empty()
        || patterns.len() > API_MAX_TYPES
        || patterns.iter().any(|p| p.ends_with(".*"))
    {
        return None;
    }
    Some(match patterns {
        [one] => one.clone(),
        many => format!("or({})", many.join(",")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_takes_its_members_and_nothing_else() {
        let vm = "resource.virtual_machine.*";
        assert!(matches(vm, "resource.virtual_machine.mshyperv"));
        assert!(matches(vm, "resource.virtual_machine.vmwesx"));
        assert!(!matches(vm, "resource.virtual_machine"));
        assert!(!matches(vm, "resource.virtual_machines.x"));
        assert!(!matches(vm, "resource.machine"));
        assert!(matches("resource.machine", "resource.machine"));
        assert!(!matches("resource.machine", "resource.machine.x"));
        let default: Vec<String> = DEFAULT.iter().map(|s| s.to_string()).collect();
        assert!(any_matches(&default, "resource.virtual_machine.xen"));
        assert!(!any_matches(&default, "resource.mailbox"));
    }

    #[test]
    fn only_exact_names_are_sent_as_a_filter() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            api_filter(&v(&["resource.machine"])).as_deref(),
            Some("resource.machine")
        );
        assert_eq!(
            api_filter(&v(&["resource.machine", "resource.virtual_machine.vmwesx"])).as_deref(),
            Some("or(resource.machine,resource.virtual_machine.vmwesx)")
        );
        assert_eq!(api_filter(&v(&DEFAULT)), None);
        let eleven: Vec<String> = (0..11).map(|i| format!("resource.t{i}")).collect();
        assert_eq!(api_filter(&eleven), None, "more than the API's 10");
    }

    #[test]
    fn a_star_goes_only_at_the_end_of_a_family() {
        assert!(check("resource.machine"));
        assert!(check("resource.virtual_machine.*"));
        for bad in [
            "*",
            ".*",
            "resource.*.x",
            "resource*",
            "resource.",
            "resource..*",
        ] {
            assert!(!check(bad), "{bad}");
        }
    }
}
