//! When `[digest].cron` owes a digest.
//!
//! The store keeps the last tick handled. A digest is owed when a tick lies after it
//! and at or before now; however many ticks passed while the worker was down, one
//! digest is sent, for the latest of them. A first start records now and owes
//! nothing: no tick passed under this worker's watch.

use chrono::{DateTime, Timelike, Utc};

use crate::config::DigestConfig;

/// The latest tick of the schedule at or before `now` (cron has whole seconds).
pub fn last_tick(config: &DigestConfig, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Ticks fall on whole seconds: the latest before the next whole second is the
    // latest at or before `now`.
    let whole = now.with_nanosecond(0).unwrap_or(now);
    let bound = (whole + chrono::Duration::seconds(1)).with_timezone(&config.timezone);
    config
        .schedule
        .after(&bound)
        .next_back()
        .map(|t| t.with_timezone(&Utc))
}

/// The tick a digest is owed for at `now`, given the last one handled (`None`: never
/// started with a digest before, nothing is owed).
pub fn owed(
    config: &DigestConfig,
    handled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let handled = handled?;
    last_tick(config, now).filter(|tick| *tick > handled)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn config(cron: &str, tz: &str) -> DigestConfig {
        DigestConfig {
            cron: cron.into(),
            schedule: cron::Schedule::from_str(cron).unwrap(),
            timezone: tz.parse().unwrap(),
            channel: "mail".into(),
            template: "digest".into(),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn last_tick_is_the_latest_at_or_before_now() {
        let c = config("0 0 8 * * Mon", "Europe/Berlin");
        // Monday 2026-11-23 08:00 Berlin = 07:00 UTC.
        assert_eq!(
            last_tick(&c, t("2026-11-23T07:00:00Z")),
            Some(t("2026-11-23T07:00:00Z"))
        );
        assert_eq!(
            last_tick(&c, t("2026-11-23T06:59:59Z")),
            Some(t("2026-11-16T07:00:00Z"))
        );
        assert_eq!(
            last_tick(&c, t("2026-11-25T12:00:00Z")),
            Some(t("2026-11-23T07:00:00Z"))
        );
    }

    #[test]
    fn a_summer_tick_follows_the_zone() {
        let c = config("0 0 8 * * Mon", "Europe/Berlin");
        // Monday 2026-06-22 08:00 CEST = 06:00 UTC.
        assert_eq!(
            last_tick(&c, t("2026-06-23T00:00:00Z")),
            Some(t("2026-06-22T06:00:00Z"))
        );
    }

    #[test]
    fn missed_weeks_owe_one_digest_for_the_latest_tick() {
        let c = config("0 0 8 * * Mon", "UTC");
        let handled = Some(t("2026-11-02T08:00:00Z"));
        // Three Mondays passed while it was down.
        assert_eq!(
            owed(&c, handled, t("2026-11-24T10:00:00Z")),
            Some(t("2026-11-23T08:00:00Z"))
        );
        // Once handled, nothing more until the next tick.
        let handled = Some(t("2026-11-23T08:00:00Z"));
        assert_eq!(owed(&c, handled, t("2026-11-29T23:59:59Z")), None);
        assert_eq!(
            owed(&c, handled, t("2026-11-30T08:00:00Z")),
            Some(t("2026-11-30T08:00:00Z"))
        );
    }

    #[test]
    fn a_first_start_owes_nothing() {
        let c = config("0 0 8 * * Mon", "UTC");
        assert_eq!(owed(&c, None, t("2026-11-24T10:00:00Z")), None);
    }
}
