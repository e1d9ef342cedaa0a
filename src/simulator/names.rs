//! Realistic machine names ("DC01", "FS-ACCT-02", "LAPTOP-7K2Q", "web-03") and plan names,
//! picked from hashes so a seed always names its fleet the same way.

use super::seed::below;

const SERVER_ROLES: [&str; 8] = ["FS", "SQL", "APP", "EXCH", "HV", "PRINT", "RDS", "BKP"];
const DEPARTMENTS: [&str; 8] = ["ACCT", "HR", "SALES", "PROD", "DEV", "OPS", "LEGAL", "MKT"];
const LINUX_ROLES: [&str; 6] = ["web", "db", "cache", "mq", "k8s-node", "proxy"];
const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A machine name for hash `h`; `n` is a small sequence number for the numbered styles.
pub(crate) fn machine_name(h: u64) -> String {
    let n = 1 + below(h >> 8, 12);
    match below(h, 100) {
        0..=7 => format!("DC{n:02}"),
        8..=27 => {
            let role = SERVER_ROLES[below(h >> 16, SERVER_ROLES.len() as u64) as usize];
            let dept = DEPARTMENTS[below(h >> 24, DEPARTMENTS.len() as u64) as usize];
            format!("{role}-{dept}-{n:02}")
        }
        28..=52 => format!("LAPTOP-{}", code(h >> 20, 4 + below(h >> 12, 3) as usize)),
        53..=72 => format!("DESKTOP-{}", code(h >> 20, 7)),
        73..=87 => {
            let role = LINUX_ROLES[below(h >> 16, LINUX_ROLES.len() as u64) as usize];
            format!("{role}-{n:02}")
        }
        88..=93 => format!(
            "WS-{}",
            DEPARTMENTS[below(h >> 16, DEPARTMENTS.len() as u64) as usize]
        ),
        94..=96 => format!("R&D-LAB-{n:02}"),
        _ => format!("MacBook-Pro-{}", code(h >> 24, 4)),
    }
}

/// An optional friendlier name set by a person.
pub(crate) fn user_defined_name(h: u64, name: &str) -> Option<String> {
    match below(h, 10) {
        0..=1 => Some(name.to_string()),
        2 => Some(format!("{name} (old)")),
        3 => Some(format!("Reception PC {}", 1 + below(h >> 8, 4))),
        _ => None,
    }
}

/// Plan names for `aggregate.names`.
pub(crate) fn plan_names(h: u64, security: bool) -> String {
    const BACKUP_PLANS: [&str; 4] = [
        "Default protection plan",
        "Servers daily",
        "Workstations 12h",
        "New licensing protection plan",
    ];
    let backup = BACKUP_PLANS[below(h, BACKUP_PLANS.len() as u64) as usize];
    if security && below(h >> 32, 2) == 0 {
        format!("{backup};Security baseline")
    } else {
        backup.to_string()
    }
}

fn code(mut h: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(CHARS[(h % CHARS.len() as u64) as usize]));
        h /= CHARS.len() as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::seed::{Salt, hash};
    use super::*;

    #[test]
    fn names_look_like_machines() {
        let names: Vec<String> = (0..400)
            .map(|i| machine_name(hash(1, Salt::Name, &[i])))
            .collect();
        assert!(names.iter().any(|n| n.starts_with("DC")));
        assert!(names.iter().any(|n| n.starts_with("LAPTOP-")));
        assert!(names.iter().any(|n| n.contains('&')));
        assert!(names.iter().all(|n| !n.is_empty() && n.len() < 40));
    }
}
