//! Status digests per customer tenant (SPEC §5): what a tenant's machines look like
//! now, what needs attention, and what changed since the previous digest.
//!
//! A branch beside the alert pipeline: it reads the state (resources, firing alerts,
//! the last digest's record), renders with `crate::notify`'s renderer, and queues the
//! result in the outbox, where delivery takes it like any notification. It writes
//! nothing else and never polls or evaluates.
//!
//! - `build`: one tenant's [`DigestContext`] from its stored resources and firing
//!   alerts, compared with the [`DigestRecord`] the previous digest left (pure).
//! - `gather`: the data of many tenants in one pass over the alerts.
//! - `schedule`: when `[digest].cron` owes a digest (once, however many ticks passed
//!   while the worker was down).
//! - `outbox_item`, `queue`, `queue_tick`: a rendered digest as an outbox item
//!   for the `[digest].channel`, queued with the record of what it showed.

mod schedule;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

pub use schedule::{last_tick, owed};

use crate::acronis::model::AggregateStatus;
use crate::alerts::{AlertSettings, firing_snapshot};
use crate::config::Config;
use crate::model::{
    AlertRecord, AlertStatus, DigestMail, DigestRecord, OutboxItem, RuleInfo, Severity,
    StoredResource, TenantRecord, TenantRef, display_name,
};
use crate::notify::Rendered;
use crate::notify::render::{
    Changes, DigestAgent, DigestContext, DigestMachine, DigestProblem, DigestScore, Renderer,
    Totals,
};
use crate::state::{StateError, Store};

/// Most machines a digest lists (problems first); the rest are counted. A tenant of
/// 10,000 machines still gets an email a mail client opens.
pub const MAX_MACHINES: usize = 300;
/// Most names each "changes" list shows; the counts are always whole.
pub const MAX_CHANGE_NAMES: usize = 20;
/// Most offline agents a digest lists (longest offline first); the rest are counted.
pub const MAX_AGENTS: usize = 20;
/// How many of the lowest CyberFit scores a digest lists.
pub const LOWEST_SCORES: usize = 5;
/// The period shown by a tenant's first digest.
const FIRST_PERIOD: chrono::Duration = chrono::Duration::days(7);

/// One tenant's data, as stored.
#[derive(Debug, Clone)]
pub struct TenantData {
    pub tenant: TenantRef,
    pub resources: Vec<StoredResource>,
    /// Its alerts firing now.
    pub firing: Vec<AlertRecord>,
}

/// A built digest: what to render, and what to remember once it is sent.
#[derive(Debug, Clone)]
pub struct Built {
    pub context: DigestContext,
    pub record: DigestRecord,
}

/// A tenant that gets digests: its id, display name and recipients.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub tenant: TenantRef,
    pub to: Vec<String>,
}

/// The watched tenants with `digest_to` set, in id order (names from the API, else
/// worker.toml, else the id).
pub fn recipients(store: &Store, config: &Config) -> Result<Vec<Recipient>, StateError> {
    let mut out: Vec<Recipient> = store
        .tenants()?
        .into_iter()
        // A disabled customer gets no digest (nothing of it is polled).
        .filter(|t| t.enabled)
        .filter_map(|t| {
            let settings = config.tenants.get(&t.id)?;
            if settings.digest_to.is_empty() {
                return None;
            }
            Some(Recipient {
                tenant: tenant_ref(&t, config),
                to: settings.digest_to.iter().map(|m| m.to_string()).collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.tenant.id.cmp(&b.tenant.id));
    Ok(out)
}

/// A watched tenant as a digest names it: the API's name, else worker.toml's
/// `[tenant."ID"].name`, else its id.
pub fn tenant_ref(t: &TenantRecord, config: &Config) -> TenantRef {
    let configured = config.tenants.get(&t.id).and_then(|s| s.name.as_deref());
    TenantRef {
        id: t.id.clone(),
        name: display_name(&t.id, t.name.as_deref(), configured),
    }
}

/// Read the stored resources and firing alerts of `tenants`: one pass over the
/// alerts, one prefix scan of resources per tenant.
pub fn gather(store: &Store, tenants: &[TenantRef]) -> Result<Vec<TenantData>, StateError> {
    let mut firing: HashMap<&str, Vec<AlertRecord>> = tenants
        .iter()
        .map(|t| (t.id.as_str(), Vec::new()))
        .collect();
    for alert in store.alerts() {
        let alert = alert?;
        if alert.status == AlertStatus::Firing
            && let Some(list) = firing.get_mut(alert.tenant_id.as_str())
        {
            list.push(alert);
        }
    }
    tenants
        .iter()
        .map(|t| {
            Ok(TenantData {
                tenant: t.clone(),
                resources: store.resources(Some(&t.id)).collect::<Result<_, _>>()?,
                firing: firing.remove(t.id.as_str()).unwrap_or_default(),
            })
        })
        .collect()
}

/// One tenant's digest at `now`, compared with `previous`.
pub fn build(
    data: &TenantData,
    previous: Option<&DigestRecord>,
    settings: &AlertSettings,
    timezone: &str,
    now: DateTime<Utc>,
) -> Built {
    let by_id: HashMap<&str, &StoredResource> =
        data.resources.iter().map(|r| (r.id.as_str(), r)).collect();
    let ctx = settings.at(now);

    let mut problems = Vec::new();
    let mut since: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut record = DigestRecord {
        at: now,
        ..DigestRecord::default()
    };
    for alert in &data.firing {
        // A removed rule's alerts resolve at the next evaluation; a vanished
        // resource's with the next full pass. Until then they are not shown.
        let (Some(rule), Some(resource)) = (
            settings.rules.get(&alert.rule),
            by_id.get(alert.resource_id.as_str()),
        ) else {
            continue;
        };
        let mut snapshot = firing_snapshot(&ctx, rule, alert, resource);
        snapshot.tenant = data.tenant.clone();
        record.problems.insert(
            alert.key.clone(),
            format!("{}: {}", resource.name, rule.name),
        );
        since
            .entry(resource.id.as_str())
            .and_modify(|t| *t = (*t).min(alert.fired_at))
            .or_insert(alert.fired_at);
        problems.push(DigestProblem {
            rule: RuleInfo {
                name: rule.name.clone(),
                description: rule.description.clone(),
                severity: rule.severity,
            },
            alert: snapshot,
        });
    }
    problems.sort_by(|a, b| {
        b.alert
            .severity
            .cmp(&a.alert.severity)
            .then(a.alert.fired_at.cmp(&b.alert.fired_at))
            .then(a.alert.resource.name.cmp(&b.alert.resource.name))
            .then(a.alert.key.cmp(&b.alert.key))
    });

    let mut totals = Totals::default();
    let mut machines: Vec<DigestMachine> = data
        .resources
        .iter()
        .map(|r| {
            count(&mut totals, &r.status);
            record.machines.insert(r.id.clone(), r.name.clone());
            let since = since.get(r.id.as_str()).copied();
            DigestMachine {
                id: r.id.clone(),
                name: r.name.clone(),
                kind: r.kind.clone(),
                status: r.status.as_str().to_string(),
                last_success_run: last_success(r),
                problem: since.is_some() || rank(&r.status) < OK_RANK,
                since,
            }
        })
        .collect();
    machines.sort_by(|a, b| {
        (!a.problem, status_rank(&a.status), &a.name, &a.id).cmp(&(
            !b.problem,
            status_rank(&b.status),
            &b.name,
            &b.id,
        ))
    });
    let machines_more = machines.len().saturating_sub(MAX_MACHINES);
    machines.truncate(MAX_MACHINES);

    let changes = changes(previous, &record);
    let (agents_offline, agents_offline_count) = agents_offline(&data.resources);
    Built {
        context: DigestContext {
            tenant: data.tenant.clone(),
            from: previous.map_or(now - FIRST_PERIOD, |p| p.at),
            to: now,
            timezone: timezone.to_string(),
            totals,
            machines,
            machines_more,
            problems,
            changes,
            agents_offline,
            agents_offline_count,
            cyberfit_lowest: cyberfit_lowest(&data.resources),
        },
        record,
    }
}

/// The machines whose agent is offline, longest offline first (never seen online
/// last), at most [`MAX_AGENTS`]; and how many there are.
fn agents_offline(resources: &[StoredResource]) -> (Vec<DigestAgent>, usize) {
    let mut list: Vec<DigestAgent> = resources
        .iter()
        .filter_map(|r| {
            let a = r.agent.as_ref().filter(|a| a.online == Some(false))?;
            Some(DigestAgent {
                name: r.name.clone(),
                since: a.offline_since.map(|t| t.0),
                version: a.version.clone(),
            })
        })
        .collect();
    let count = list.len();
    list.sort_by(|a, b| {
        (a.since.is_none(), a.since, &a.name).cmp(&(b.since.is_none(), b.since, &b.name))
    });
    list.truncate(MAX_AGENTS);
    (list, count)
}

/// The [`LOWEST_SCORES`] lowest CyberFit scores, lowest first.
fn cyberfit_lowest(resources: &[StoredResource]) -> Vec<DigestScore> {
    let mut list: Vec<DigestScore> = resources
        .iter()
        .filter_map(|r| {
            Some(DigestScore {
                name: r.name.clone(),
                score: r.cyberfit?,
            })
        })
        .collect();
    list.sort_by(|a, b| (a.score, &a.name).cmp(&(b.score, &b.name)));
    list.truncate(LOWEST_SCORES);
    list
}

/// Render `built` and wrap it as an outbox item for the digest channel (no id yet:
/// the store gives it one when it is queued).
pub fn outbox_item(
    renderer: &Renderer,
    channel: &str,
    recipient: &Recipient,
    built: &Built,
    now: DateTime<Utc>,
) -> Result<OutboxItem, String> {
    let Rendered::Email {
        subject,
        text,
        html,
    } = renderer
        .render_digest(&built.context, now)
        .map_err(|e| e.to_string())?
    else {
        return Err("the digest template did not render an email".into());
    };
    let rule = RuleInfo {
        name: "digest".into(),
        description: format!("Status digest for {}", recipient.tenant.name),
        severity: Severity::Info,
    };
    let mut item = OutboxItem::new(channel, rule, AlertStatus::Firing, now, None);
    item.digest = Some(DigestMail {
        tenant: recipient.tenant.clone(),
        to: recipient.to.clone(),
        subject,
        text,
        html,
    });
    Ok(item)
}

/// Totals of SPEC §5: the API has no `ok`; `ok` counts the healthy states.
fn count(totals: &mut Totals, status: &AggregateStatus) {
    totals.machines += 1;
    match status {
        AggregateStatus::Ok
        | AggregateStatus::Idle
        | AggregateStatus::Scheduled
        | AggregateStatus::Running
        | AggregateStatus::Cancelling => totals.ok += 1,
        AggregateStatus::Warning => totals.warning += 1,
        AggregateStatus::Error => totals.error += 1,
        AggregateStatus::Critical => totals.critical += 1,
        AggregateStatus::InteractionRequired => totals.interaction_required += 1,
        AggregateStatus::NoPoliciesApplied | AggregateStatus::NotProtected => {
            totals.not_protected += 1
        }
        AggregateStatus::Unknown(_) => totals.other += 1,
    }
}

/// Sort order of statuses, worst first; healthy ones share [`OK_RANK`].
fn rank(status: &AggregateStatus) -> u8 {
    match status {
        AggregateStatus::Critical => 0,
        AggregateStatus::Error => 1,
        AggregateStatus::Warning => 2,
        AggregateStatus::InteractionRequired => 3,
        AggregateStatus::NoPoliciesApplied | AggregateStatus::NotProtected => 4,
        AggregateStatus::Unknown(_) => 5,
        _ => OK_RANK,
    }
}
const OK_RANK: u8 = 6;

fn status_rank(name: &str) -> u8 {
    rank(&AggregateStatus::parse(name))
}

/// The latest successful run of any of the resource's backup policies.
fn last_success(r: &StoredResource) -> Option<DateTime<Utc>> {
    r.policies
        .iter()
        .filter(|p| p.kind.starts_with("policy.backup"))
        .filter_map(|p| p.last_success_run.map(|t| t.0))
        .max()
}

/// What differs between the previous digest and this one.
fn changes(previous: Option<&DigestRecord>, now: &DigestRecord) -> Changes {
    let Some(before) = previous else {
        return Changes {
            first: true,
            ..Changes::default()
        };
    };
    let new = difference(&now.problems, &before.problems);
    let resolved = difference(&before.problems, &now.problems);
    let added = difference(&now.machines, &before.machines);
    let removed = difference(&before.machines, &now.machines);
    Changes {
        first: false,
        new_problems: new.len(),
        resolved_problems: resolved.len(),
        machines_added: added.len(),
        machines_removed: removed.len(),
        new: shown(new),
        resolved: shown(resolved),
        added: shown(added),
        removed: shown(removed),
    }
}

/// Values of `a` whose key `b` lacks, in key order.
fn difference(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(k, _)| !b.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The names a list shows, sorted, at most [`MAX_CHANGE_NAMES`].
fn shown(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.truncate(MAX_CHANGE_NAMES);
    names
}

/// Build the digests of `recipients` at `now`, each compared with its tenant's last.
pub fn build_all(
    store: &Store,
    settings: &AlertSettings,
    timezone: &str,
    recipients: &[Recipient],
    now: DateTime<Utc>,
) -> Result<Vec<Built>, StateError> {
    let tenants: Vec<TenantRef> = recipients.iter().map(|r| r.tenant.clone()).collect();
    gather(store, &tenants)?
        .iter()
        .map(|data| {
            let previous = store.digest_record(&data.tenant.id)?;
            Ok(build(data, previous.as_ref(), settings, timezone, now))
        })
        .collect()
}

/// Build, render and queue the digests of `recipients` for the `[digest]` channel,
/// recording what each showed (and `tick` as handled, when given) in the same
/// transaction. Returns the queued items. A tenant whose digest cannot be rendered
/// is skipped and named in the error list; the others still go.
pub fn queue(
    store: &Store,
    config: &Config,
    settings: &AlertSettings,
    renderer: &Renderer,
    recipients: &[Recipient],
    tick: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(Vec<OutboxItem>, Vec<String>), StateError> {
    let Some(digest) = &config.digest else {
        return Ok((Vec::new(), Vec::new()));
    };
    let built = build_all(store, settings, digest.timezone.name(), recipients, now)?;
    let mut items = Vec::new();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (recipient, built) in recipients.iter().zip(built) {
        match outbox_item(renderer, &digest.channel, recipient, &built, now) {
            Ok(item) => {
                items.push(item);
                records.push((recipient.tenant.id.clone(), built.record));
            }
            Err(e) => errors.push(format!(
                "digest of tenant {} ({}): {e}",
                recipient.tenant.name, recipient.tenant.id
            )),
        }
    }
    let queued = store.commit_digests(items, &records, tick)?;
    Ok((queued, errors))
}

/// For `run`: the tick `[digest].cron` owes a digest for at `now`, if any: the
/// latest, however many passed. The first start with a `[digest]` records `now` and
/// owes nothing. Cheap: one read of the state.
pub fn due_tick(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StateError> {
    let Some(digest) = &config.digest else {
        return Ok(None);
    };
    let handled = store.digest_tick()?;
    if handled.is_none() {
        store.set_digest_tick(now)?;
    }
    Ok(owed(digest, handled, now))
}

/// For `run`: queue every recipient's digest for `tick` and record the tick as
/// handled. Returns how many were queued.
pub fn queue_tick(
    store: &Store,
    config: &Config,
    settings: &AlertSettings,
    renderer: &Renderer,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StateError> {
    let recipients = recipients(store, config)?;
    let (queued, errors) = queue(
        store,
        config,
        settings,
        renderer,
        &recipients,
        Some(tick),
        now,
    )?;
    for e in errors {
        tracing::error!("{e}");
    }
    for item in &queued {
        if let Some(d) = &item.digest {
            tracing::info!(
                tenant = %d.tenant.id,
                channel = %item.channel,
                id = item.id,
                recipients = d.to.len(),
                "digest queued"
            );
        }
    }
    Ok(queued.len())
}
