//! The alert settings: everything that decides alerts besides the data (rules,
//! silences, which channels never group, tenant names), and a view of them at one
//! instant for [`super::plan`].

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{PlanContext, Silences};
use crate::config::{Config, SilenceWindow};
use crate::model::TenantNames;
use crate::rules::RuleSet;

/// Everything that decides alerts besides the data: rules, silences, routing, names.
#[derive(Clone, Default)]
pub struct AlertSettings {
    pub rules: Arc<RuleSet>,
    pub silences: Arc<Silences>,
    /// Channels that never group: PagerDuty gets one event per alert.
    pub ungrouped: Arc<HashSet<String>>,
    /// Tenant display names.
    pub tenant_names: TenantNames,
    /// A hash of everything that decides transitions and deadlines (rules and
    /// silences): when the state recorded another, every resource is re-evaluated.
    pub fingerprint: u64,
}

impl AlertSettings {
    pub fn new(rules: RuleSet, config: &Config) -> AlertSettings {
        let mut text = String::new();
        for r in rules.iter() {
            text.push_str(&format!(
                "{}|{:x}|{:?}|{}|{}\n",
                r.name,
                r.condition_hash(),
                r.repeat,
                r.resolve,
                r.notify.is_empty()
            ));
        }
        for s in &config.silences {
            let window = match &s.window {
                SilenceWindow::Fixed { starts, ends } => {
                    format!("{starts:?}-{ends:?}")
                }
                SilenceWindow::Recurring {
                    cron,
                    duration,
                    timezone,
                    ..
                } => format!("{cron}|{duration:?}|{timezone}"),
            };
            text.push_str(&format!("silence|{:?}|{:?}|{window}\n", s.rule, s.matcher));
        }
        let names = TenantNames::configured(config.tenant_names());
        AlertSettings {
            fingerprint: crate::config::fnv1a64(text.as_bytes()),
            silences: Arc::new(Silences::new(&config.silences)),
            ungrouped: Arc::new(
                config
                    .channels
                    .iter()
                    .filter(|c| !c.kind.groups_alerts())
                    .map(|c| c.name.clone())
                    .collect(),
            ),
            tenant_names: names,
            rules: Arc::new(rules),
        }
    }

    /// The same, with names from the API (worker.toml's `[tenant."ID"].name` is used
    /// only where the API gives none).
    pub fn with_tenant_names(
        &self,
        api: impl IntoIterator<Item = (String, String)>,
    ) -> AlertSettings {
        AlertSettings {
            tenant_names: self.tenant_names.with_api(api),
            ..self.clone()
        }
    }

    /// The same rules notifying nobody: alerts still fire and resolve in state, and
    /// nothing is queued (for data this worker stops watching).
    pub fn silent(&self) -> AlertSettings {
        let mut rules = (*self.rules).clone();
        for r in &mut rules.rules {
            r.notify.clear();
        }
        AlertSettings {
            rules: Arc::new(rules),
            ..self.clone()
        }
    }

    /// A view for one evaluation instant.
    pub fn at(&self, now: DateTime<Utc>) -> PlanContext<'_> {
        PlanContext {
            rules: &self.rules,
            silences: &self.silences,
            now,
            tenant_names: &self.tenant_names,
            occurred: None,
        }
    }
}
