//! Durations as people write them in config and rule files: `30s`, `5m`, `26h`, `7d`,
//! compound `1h30m` (or `1h 30m`), and back to that human form for messages.

use std::time::Duration;

/// What a duration must look like; the tail of every duration error.
pub(crate) const DURATION_EXPECTED: &str =
    "expected a number and a unit s, m, h or d, like \"30s\", \"5m\", \"26h\" or \"7d\"";

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parse `"30s"`, `"5m"`, `"26h"`, `"7d"`, compound `"1h30m"` / `"1h 30m"`, `"0s"`.
///
/// Units go from largest to smallest, each at most once. The error says what is
/// expected and never repeats the input (the caller decides whether it may be shown).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("it is empty: {DURATION_EXPECTED}"));
    }
    let mut total: u64 = 0;
    // Index into UNITS of the next unit allowed: enforces largest-first, no repeats.
    let mut next_unit = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(DURATION_EXPECTED.to_string());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("the number is too large: {DURATION_EXPECTED}"))?;
        rest = &rest[digits..];
        let Some(unit) = rest.chars().next() else {
            return Err(format!("the unit is missing: {DURATION_EXPECTED}"));
        };
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(DURATION_EXPECTED.to_string());
        };
        if pos < next_unit {
            return Err(format!(
                "units must go from largest to smallest, each once, like \"1h30m\": {DURATION_EXPECTED}"
            ));
        }
        next_unit = pos + 1;
        total = number
            .checked_mul(UNITS[pos].1)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("it is too large: {DURATION_EXPECTED}"))?;
        rest = rest[unit.len_utf8()..].trim_start();
    }
    Ok(Duration::from_secs(total))
}

/// Human form: `"1h 30m"`, `"7d"`, `"0s"`; a sub-second part is shown as `ms`.
///
/// For whole seconds the result parses back with [`parse_duration`] to the same value.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let millis = d.subsec_millis();
    let mut parts = Vec::new();
    for (unit, size) in UNITS {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if millis > 0 {
        parts.push(format!("{millis}ms"));
    } else if parts.is_empty() {
        if d.subsec_nanos() > 0 {
            parts.push(format!("{}µs", d.subsec_micros()));
        } else {
            parts.push("0s".to_string());
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn parses_single_units() {
        assert_eq!(parse_duration("30s"), Ok(secs(30)));
        assert_eq!(parse_duration("5m"), Ok(secs(300)));
        assert_eq!(parse_duration("26h"), Ok(secs(26 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(secs(7 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(secs(0)));
        assert_eq!(parse_duration(" 2m "), Ok(secs(120)));
    }

    #[test]
    fn parses_compounds() {
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(secs(5400)));
        assert_eq!(
            parse_duration("1d2h3m4s"),
            Ok(secs(86_400 + 7200 + 180 + 4))
        );
        assert_eq!(parse_duration("90m"), Ok(secs(5400)));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "5",
            "5x",
            "m",
            "5 m",
            "-5m",
            "5.5m",
            "1m1h",
            "5m5m",
            "5M",
            "1h30",
            "5ms",
            "99999999999999999999s",
            "999999999999999999d",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(
                err.contains("expected a number and a unit s, m, h or d"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(secs(0)), "0s");
        assert_eq!(format_duration(secs(30)), "30s");
        assert_eq!(format_duration(secs(5400)), "1h 30m");
        assert_eq!(format_duration(secs(7 * 86_400)), "7d");
        assert_eq!(format_duration(secs(86_400 + 3661)), "1d 1h 1m 1s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_micros(7)), "7µs");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(n in 0u64..=10_000_000_000) {
            let d = secs(n);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn compound_parts_add_up(d in 0u64..1000, h in 0u64..1000, m in 0u64..1000, s in 0u64..1000) {
            let text = format!("{d}d{h}h{m}m{s}s");
            prop_assert_eq!(parse_duration(&text), Ok(secs(d * 86_400 + h * 3600 + m * 60 + s)));
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
        }
    }
}
