//! Channel rates: `N/s`, `N/m`, `N/h`.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use super::duration::format_duration;
use super::types::Rate;

/// What a rate must look like; the tail of every rate error.
pub(crate) const RATE_EXPECTED: &str = "expected a count of at least 1 per second, minute or hour, like \"1/s\", \"120/m\" or \"500/h\"";

/// Parse `"1/s"`, `"120/m"`, `"500/h"` into a [`Rate`].
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let (count, unit) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| RATE_EXPECTED.to_string())?;
    let (count, unit) = (count.trim(), unit.trim());
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RATE_EXPECTED.to_string());
    }
    let count: u32 = count
        .parse()
        .map_err(|_| format!("the count is too large: {RATE_EXPECTED}"))?;
    let count = NonZeroU32::new(count).ok_or_else(|| format!("the count is 0: {RATE_EXPECTED}"))?;
    let per = match unit {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(RATE_EXPECTED.to_string()),
    };
    Ok(Rate { count, per })
}

impl Rate {
    /// `count` per second.
    pub fn per_second(count: NonZeroU32) -> Self {
        Rate {
            count,
            per: Duration::from_secs(1),
        }
    }

    /// `count` per minute.
    pub fn per_minute(count: NonZeroU32) -> Self {
        Rate {
            count,
            per: Duration::from_secs(60),
        }
    }
}

/// `1/s`, `120/m`, `500/h`; other periods as `N/<duration>`.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            _ if self.per.subsec_nanos() != 0 => None,
            1 => Some("s"),
            60 => Some("m"),
            3600 => Some("h"),
            _ => None,
        };
        match unit {
            Some(unit) => write!(f, "{}/{unit}", self.count),
            None => write!(f, "{}/{}", self.count, format_duration(self.per)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rate(count: u32, secs: u64) -> Rate {
        Rate {
            count: NonZeroU32::new(count).unwrap(),
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn parses_the_three_units() {
        assert_eq!(parse_rate("1/s"), Ok(rate(1, 1)));
        assert_eq!(parse_rate("120/m"), Ok(rate(120, 60)));
        assert_eq!(parse_rate("500/h"), Ok(rate(500, 3600)));
        assert_eq!(parse_rate(" 4 / s "), Ok(rate(4, 1)));
    }

    #[test]
    fn rejects_what_is_not_a_rate() {
        for bad in [
            "",
            "1",
            "/s",
            "0/s",
            "-1/s",
            "1/d",
            "1/sec",
            "1.5/s",
            "x/s",
            "99999999999/s",
            "1/s/s",
        ] {
            let err = parse_rate(bad).expect_err(bad);
            assert!(err.contains("per second, minute or hour"), "{bad}: {err}");
        }
    }

    #[test]
    fn displays_as_written() {
        assert_eq!(rate(1, 1).to_string(), "1/s");
        assert_eq!(rate(120, 60).to_string(), "120/m");
        assert_eq!(rate(3, 3600).to_string(), "3/h");
        assert_eq!(rate(3, 7200).to_string(), "3/2h");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(count in 1u32..=u32::MAX, unit in prop::sample::select(vec![1u64, 60, 3600])) {
            let r = rate(count, unit);
            prop_assert_eq!(parse_rate(&r.to_string()), Ok(r));
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = parse_rate(&s);
        }
    }
}
