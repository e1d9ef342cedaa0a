//! The whole document -> one [`Config`]: top-level keys, `[state]`, `[server]`,
//! `[digest]` and `[tenant."ID"]`, plus the cross-checks between sections (the digest's
//! channel must be an email channel). `[acronis]`, channels and silences have their own
//! files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::acronis::acronis;
use super::channel::channels;
use super::error::ConfigError;
use super::reader::Table;
use super::silence::silences;
use super::types::*;
use super::value;

const TOP_KEYS: [&str; 9] = [
    "rules_dir",
    "templates_dir",
    "acronis",
    "state",
    "server",
    "channel",
    "digest",
    "silence",
    "tenant",
];
const STATE_KEYS: [&str; 2] = ["path", "cache_mb"];
const SERVER_KEYS: [&str; 1] = ["listen"];
const DIGEST_KEYS: [&str; 4] = ["cron", "timezone", "channel", "template"];
const TENANT_KEYS: [&str; 2] = ["name", "digest_to"];

/// Build the validated config from the parsed document.
pub(super) fn build(root: &Table<'_>, path: &Path, dir: &Path) -> Result<Config, ConfigError> {
    root.allow(&TOP_KEYS)?;
    let rules_dir = dir_key(root, dir, "rules_dir", "rules")?;
    let templates_dir = dir_key(root, dir, "templates_dir", "templates")?;
    let acronis = acronis(
        &root
            .require(
                "acronis",
                "an [acronis] table with datacenter_url, client_id and client_secret",
            )?
            .table("a table: [acronis]")?,
    )?;
    let state = state(root, dir)?;
    let server = server(root)?;
    let channels = channels(root)?;
    let digest = digest(root, &channels)?;
    let silences = silences(root)?;
    let tenants = tenants(root)?;
    Ok(Config {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        rules_dir,
        templates_dir,
        acronis,
        state,
        server,
        channels,
        digest,
        silences,
        tenants,
    })
}

/// A path key, resolved against the config folder.
fn dir_key(
    table: &Table<'_>,
    dir: &Path,
    name: &str,
    default: &str,
) -> Result<PathBuf, ConfigError> {
    let written = match table.opt_string(name)? {
        Some(s) => {
            s.non_empty("a folder path, relative to the config file's folder or absolute")?
                .value
        }
        None => default.to_string(),
    };
    Ok(super::resolve(dir, Path::new(&written)))
}

/// sled's page cache by default, in MiB. 8, not more: at 100k machines a cold poll
/// took as long with 8 as with 16 (benches/poll.rs: 1.40 s against 1.24 s, the
/// download floor moving as much), and what the cache holds after it is what an idle
/// `run` keeps resident (benches/idle.rs: about 10 MiB less RSS with 8 than with 16).
const DEFAULT_CACHE_MB: i64 = 8;

fn state(root: &Table<'_>, dir: &Path) -> Result<StateConfig, ConfigError> {
    let Some(item) = root.get("state") else {
        return Ok(StateConfig {
            path: super::resolve(dir, Path::new("./state")),
            cache_mb: DEFAULT_CACHE_MB as u64,
        });
    };
    let t = item.table("a table: [state]")?;
    t.allow(&STATE_KEYS)?;
    let path = dir_key(&t, dir, "path", "./state")?;
    let cache_mb = t
        .opt_int(
            "cache_mb",
            1..=1_048_576,
            "1 to 1048576 (MiB of sled page cache)",
        )?
        .unwrap_or(DEFAULT_CACHE_MB);
    Ok(StateConfig {
        path,
        cache_mb: cache_mb as u64,
    })
}

fn server(root: &Table<'_>) -> Result<Option<ServerConfig>, ConfigError> {
    let Some(item) = root.get("server") else {
        return Ok(None);
    };
    let t = item.table("a table: [server]")?;
    t.allow(&SERVER_KEYS)?;
    let listen = t.require(
        "listen",
        "the address to serve /metrics and /healthz on, like listen = \"127.0.0.1:9108\"",
    )?;
    let listen = listen.string()?;
    let addr =
        listen
            .value
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::InvalidListen {
                at: listen.at.clone(),
                key: listen.key.clone(),
                shown: listen.shown(),
            })?;
    Ok(Some(ServerConfig { listen: addr }))
}

fn digest(
    root: &Table<'_>,
    channels: &[ChannelConfig],
) -> Result<Option<DigestConfig>, ConfigError> {
    let Some(item) = root.get("digest") else {
        return Ok(None);
    };
    let t = item.table("a table: [digest]")?;
    t.allow(&DIGEST_KEYS)?;
    let cron = t
        .require("cron", "when to send, like cron = \"0 0 8 * * Mon\"")?
        .string()?;
    let schedule = value::cron(&cron)?;
    let timezone = match t.opt_string("timezone")? {
        Some(s) => value::timezone(&s)?,
        None => chrono_tz::UTC,
    };
    let channel = t
        .require(
            "channel",
            "the email channel that sends the digest, like channel = \"mail\"",
        )?
        .string()?;
    let emails: Vec<&str> = channels
        .iter()
        .filter(|c| matches!(c.kind, ChannelKind::Email { .. }))
        .map(|c| c.name.as_str())
        .collect();
    let email_list = if emails.is_empty() {
        "there is none: add a [[channel]] with type = \"email\"".to_string()
    } else {
        format!("email channels: {}", emails.join(", "))
    };
    match channels.iter().find(|c| c.name == channel.value) {
        None => {
            return Err(ConfigError::DigestChannel {
                at: channel.at.clone(),
                key: channel.key.clone(),
                problem: format!(
                    "no [[channel]] is named {}: expected the name of an email channel ({email_list})",
                    channel.shown()
                ),
            });
        }
        Some(c) if !matches!(c.kind, ChannelKind::Email { .. }) => {
            return Err(ConfigError::DigestChannel {
                at: channel.at.clone(),
                key: channel.key.clone(),
                problem: format!(
                    "channel {} is a {} channel, but digests are sent by email: expected an email channel ({email_list})",
                    channel.shown(),
                    c.kind.type_name()
                ),
            });
        }
        Some(_) => {}
    }
    let template = match t.opt_string("template")? {
        Some(s) => value::template_name(s)?,
        None => "digest".to_string(),
    };
    Ok(Some(DigestConfig {
        cron: cron.value,
        schedule,
        timezone,
        channel: channel.value,
        template,
    }))
}

/// `[tenant."ID"]` sections; keys are always written quoted: `tenant."ID".name`.
fn tenants(root: &Table<'_>) -> Result<BTreeMap<String, TenantSettings>, ConfigError> {
    let Some(item) = root.get("tenant") else {
        return Ok(BTreeMap::new());
    };
    let all = item.table("tables of per-tenant settings, like [tenant.\"3b6f...\"]")?;
    let mut out = BTreeMap::new();
    for (id, span) in all.keys() {
        let mut entry = all.get(id).expect("the key was just listed");
        entry.key = format!("tenant.{id:?}");
        if id.trim().is_empty() {
            return Err(ConfigError::InvalidValue {
                at: all.ctx.at(span.start),
                key: entry.key,
                problem: "the tenant id is empty: expected [tenant.\"ID\"] with the tenant's id"
                    .to_string(),
            });
        }
        let t = entry.table("a table, like [tenant.\"3b6f...\"] with name and digest_to")?;
        t.allow(&TENANT_KEYS)?;
        let name = match t.opt_string("name")? {
            Some(s) => Some(s.non_empty("a display name like \"Contoso\"")?.value),
            None => None,
        };
        let digest_to = match t.opt_strings(
            "digest_to",
            "an array of email addresses, like [\"it@contoso.example\"]",
        )? {
            Some(list) => list
                .iter()
                .map(value::mailbox)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        out.insert(id.to_string(), TenantSettings { name, digest_to });
    }
    Ok(out)
}
