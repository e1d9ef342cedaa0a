//! `test-notify --channel NAME`: send one clearly marked test message through a
//! channel now (not through the outbox), and say what the service answered.

use crate::alerts::test_item;
use crate::cli::TestNotifyArgs;
use crate::model::AlertStatus;
use crate::notify::Channel;

use super::{Exit, Loaded};

pub async fn run(loaded: &Loaded, args: &TestNotifyArgs) -> Exit {
    let config = match loaded.channel(&args.channel) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let http = match crate::notify::http_client(&loaded.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let channel =
        Channel::new(config, http).with_smtp_timeout(loaded.config.acronis.request_timeout);
    let now = chrono::Utc::now();
    let mut item = test_item(&config.name, now);
    let steps: &[AlertStatus] = if config.kind.resolves_test_incident() {
        &[AlertStatus::Firing, AlertStatus::Resolved]
    } else {
        &[AlertStatus::Firing]
    };
    for status in steps {
        item.status = *status;
        if let Some(a) = item.alerts.first_mut() {
            a.status = status.as_str().to_string();
            a.resolved_at = (*status == AlertStatus::Resolved).then_some(now);
        }
        let message = match loaded.renderer.render(config, &item, now) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        };
        match channel.send(&item, &message).await {
            Ok(d) => println!(
                "{}: test notification ({}) accepted: {}",
                config.name,
                status.as_str(),
                d.detail
            ),
            Err(e) => {
                eprintln!("error: {}: test notification failed: {e}", config.name);
                return Exit::Failed;
            }
        }
    }
    Exit::Ok
}
