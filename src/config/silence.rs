//! `[[silence]]` sections -> [`SilenceConfig`]s: who is silenced (`rule`, `match.*`)
//! and when (a fixed `starts`/`ends` window, or a `cron` + `duration` maintenance window).

use chrono::{DateTime, Utc};
use toml::de::DeValue;

use super::error::ConfigError;
use super::reader::{Item, Table};
use super::types::{ResourceMatch, SilenceConfig, SilenceWindow};
use super::value;

const KEYS: [&str; 8] = [
    "comment", "rule", "match", "starts", "ends", "cron", "duration", "timezone",
];
const MATCH_KEYS: [&str; 3] = ["type", "tenant", "name"];

const WINDOW_EXPECTED: &str = "expected either starts and/or ends (RFC 3339 times) for a fixed window, \
     or cron + duration (and optionally timezone) for a recurring one";
const TIME_EXPECTED: &str = "expected an RFC 3339 time with a UTC offset, like 2026-12-24T18:00:00Z or \"2026-12-24T19:00:00+01:00\"";

pub(super) fn silences(root: &Table<'_>) -> Result<Vec<SilenceConfig>, ConfigError> {
    let Some(item) = root.get("silence") else {
        return Ok(Vec::new());
    };
    item.tables("an array of tables: one [[silence]] section per silence")?
        .iter()
        .map(silence)
        .collect()
}

fn silence(table: &Table<'_>) -> Result<SilenceConfig, ConfigError> {
    table.allow(&KEYS)?;
    let comment = table.opt_string("comment")?.map(|s| s.value);
    let rule = match table.opt_string("rule")? {
        Some(s) => Some(
            s.non_empty("a rule name, or no `rule` key to silence every rule")?
                .value,
        ),
        None => None,
    };
    let matcher = match table.get("match") {
        Some(item) => resource_match(&item)?,
        None => ResourceMatch::default(),
    };
    Ok(SilenceConfig {
        comment,
        rule,
        matcher,
        window: window(table)?,
    })
}

fn resource_match(item: &Item<'_>) -> Result<ResourceMatch, ConfigError> {
    let table = item.table("a table like match = { type = [\"resource.machine\"], tenant = [\"id\"], name = [\"sql-*\"] }")?;
    table.allow(&MATCH_KEYS)?;
    let list = |name: &str, expected: &str| -> Result<Vec<String>, ConfigError> {
        Ok(table
            .opt_strings(name, expected)?
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.value)
            .collect())
    };
    let types = table
        .opt_strings(
            "type",
            "an array of resource types, like [\"resource.machine\"]",
        )?
        .unwrap_or_default()
        .into_iter()
        .map(|s| Ok(s.resource_type()?.value))
        .collect::<Result<_, ConfigError>>()?;
    Ok(ResourceMatch {
        types,
        tenants: list("tenant", "an array of tenant ids, like [\"3b6f...\"]")?,
        names: globs(&table)?,
    })
}

/// `match.name`: globs, each checked to compile.
fn globs(table: &Table<'_>) -> Result<Vec<String>, ConfigError> {
    let Some(list) =
        table.opt_strings("name", "an array of resource name globs, like [\"sql-*\"]")?
    else {
        return Ok(Vec::new());
    };
    list.into_iter()
        .map(|s| match glob::Pattern::new(&s.value) {
            Ok(_) => Ok(s.value),
            Err(e) => Err(ConfigError::InvalidValue {
                problem: format!(
                    "{} is not a valid glob ({}): expected a pattern with *, ? or [a-z], like \"sql-*\"",
                    s.shown(),
                    e.msg
                ),
                at: s.at,
                key: s.key,
            }),
        })
        .collect()
}

fn window(table: &Table<'_>) -> Result<SilenceWindow, ConfigError> {
    let (starts, ends) = (table.get("starts"), table.get("ends"));
    let (cron, duration, timezone) = (
        table.get("cron"),
        table.get("duration"),
        table.get("timezone"),
    );
    let fixed = starts.is_some() || ends.is_some();
    let recurring = cron.is_some() || duration.is_some();
    let invalid =
        |at, key: String, problem: String| ConfigError::InvalidSilence { at, key, problem };

    if fixed && recurring {
        let second = cron
            .as_ref()
            .or(duration.as_ref())
            .expect("recurring means cron or duration is set");
        return Err(invalid(
            second.key_at(),
            second.key.clone(),
            format!(
                "a silence has one kind of window, this one has both starts/ends and cron/duration: {WINDOW_EXPECTED}"
            ),
        ));
    }
    if !fixed && !recurring {
        return Err(invalid(
            table.at(),
            table.key.clone(),
            format!("no window is given: {WINDOW_EXPECTED}"),
        ));
    }
    if fixed {
        if let Some(tz) = &timezone {
            return Err(invalid(
                tz.key_at(),
                tz.key.clone(),
                "timezone applies only to a cron window; starts and ends carry their own UTC offset".to_string(),
            ));
        }
        let starts = starts.as_ref().map(instant).transpose()?;
        let ends_at = ends.as_ref().map(instant).transpose()?;
        if let (Some(s), Some(e), Some(item)) = (starts, ends_at, &ends)
            && e <= s
        {
            return Err(invalid(
                item.at(),
                item.key.clone(),
                format!(
                    "ends ({}) is not after starts ({}): expected ends later than starts",
                    e.to_rfc3339(),
                    s.to_rfc3339()
                ),
            ));
        }
        return Ok(SilenceWindow::Fixed {
            starts,
            ends: ends_at,
        });
    }

    let cron = cron.ok_or_else(|| {
        table.missing(
            "cron",
            "a cron expression for when each window opens, like cron = \"0 0 22 * * Sat\"",
        )
    })?;
    let duration_item = duration.ok_or_else(|| {
        table.missing(
            "duration",
            "how long each window lasts, like duration = \"4h\"",
        )
    })?;
    let cron = cron.string()?;
    let schedule = value::cron(&cron)?;
    let duration_str = duration_item.string_of(value::DURATION_STRING)?;
    let duration = value::duration(&duration_str)?;
    if duration.is_zero() {
        return Err(invalid(
            duration_str.at,
            duration_str.key,
            "the window lasts 0s: expected a duration above zero, like \"4h\"".to_string(),
        ));
    }
    let timezone = match timezone {
        Some(item) => value::timezone(&item.string()?)?,
        None => chrono_tz::UTC,
    };
    Ok(SilenceWindow::Recurring {
        cron: cron.value,
        schedule,
        duration,
        timezone,
    })
}

/// A point in time: a TOML offset date-time or an RFC 3339 string.
fn instant(item: &Item<'_>) -> Result<DateTime<Utc>, ConfigError> {
    let invalid = |problem: String| ConfigError::InvalidValue {
        at: item.at(),
        key: item.key.clone(),
        problem,
    };
    match item.value {
        DeValue::Datetime(dt) => {
            let lacks = match (dt.date, dt.time, dt.offset) {
                (None, _, _) => Some("a date"),
                (_, None, _) => Some("a time of day"),
                (_, _, None) => Some("a UTC offset (Z or +01:00)"),
                _ => None,
            };
            if let Some(lacks) = lacks {
                return Err(invalid(format!("{dt} lacks {lacks}: {TIME_EXPECTED}")));
            }
            DateTime::parse_from_rfc3339(&dt.to_string())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| invalid(format!("{dt}: {e}: {TIME_EXPECTED}")))
        }
        DeValue::String(_) => {
            let s = item.string()?;
            DateTime::parse_from_rfc3339(s.value.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| invalid(format!("invalid time {}: {e}: {TIME_EXPECTED}", s.shown())))
        }
        _ => Err(item.wrong_type("an RFC 3339 time, like 2026-12-24T18:00:00Z")),
    }
}
