//! `digest [--tenant ID] [--now T] [--dry-run]`: build the status digests now.
//!
//! Polls first (like `once`, without delivering alerts), so the digest shows the
//! tenants as they are at T. `--dry-run` prints each digest (recipients, subject,
//! text and HTML parts) and changes nothing of the digest history; otherwise each is
//! queued for the `[digest]` channel, recorded as the tenant's latest digest (what
//! the next one compares with), and given one attempt now. A digest whose attempt
//! fails stays in the outbox for `run` or `once` to retry (exit 3), or becomes a
//! dead letter (exit 1). Other queued notifications are left to `run` and `once`.

use crate::cli::DigestArgs;
use crate::clock::Clock;
use crate::digest::{self, Recipient};
use crate::notify::{Deliverer, Rendered};
use crate::worker::Worker;

use super::{Exit, Loaded};

pub async fn run(loaded: Loaded, args: DigestArgs) -> Exit {
    let Loaded {
        config,
        rules,
        renderer,
    } = loaded;
    let Some(digest_config) = config.digest.clone() else {
        eprintln!(
            "error: {}: there is no [digest] section: add one with cron, channel (an email channel) and optionally timezone and template (docs/digests.md)",
            config.path.display()
        );
        return Exit::Usage;
    };
    let now = args.now.map(Clock::fixed).unwrap_or(Clock::Wall).now();
    let Some(mut worker) = super::open_worker(config, rules) else {
        return Exit::Failed;
    };
    let mut exit = Exit::Ok;
    // Fresh data: a tenant whose poll fails gets its digest from what is stored.
    let report = worker.poll_cycle(now).await;
    if let Some(e) = &report.tenant_list_error {
        eprintln!("error: could not list tenants: {e}; using the stored tenant list");
        exit = Exit::Failed;
    }
    for (tenant, result) in &report.outcomes {
        if let Err(e) = result {
            eprintln!(
                "error: poll of tenant {} failed: {e}; its digest shows the data stored before",
                tenant.id
            );
            exit = Exit::Failed;
        }
    }
    let recipients = match choose(&worker, args.tenant.as_deref(), args.dry_run) {
        Ok(r) => r,
        Err(e) => return exit.combine(e),
    };
    if recipients.is_empty() {
        println!(
            "no watched tenant has digest_to set in {} ([tenant.\"ID\"] digest_to): no digest to build",
            worker.config.path.display()
        );
        return exit;
    }

    if args.dry_run {
        let timezone = digest_config.timezone.name();
        let built =
            match digest::build_all(&worker.store, &worker.settings, timezone, &recipients, now) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Failed;
                }
            };
        for (recipient, built) in recipients.iter().zip(&built) {
            match renderer.render_digest(&built.context, now) {
                Ok(Rendered::Email {
                    subject,
                    text,
                    html,
                }) => print_digest(recipient, &subject, &text, &html),
                Ok(Rendered::Json(_)) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    exit = exit.combine(Exit::Usage);
                }
            }
        }
        return exit;
    }

    let (queued, errors) = match digest::queue(
        &worker.store,
        &worker.config,
        &worker.settings,
        &renderer,
        &recipients,
        None,
        now,
    ) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    for e in &errors {
        eprintln!("error: {e}");
        exit = exit.combine(Exit::Usage);
    }
    let deliver =
        async |d: &Deliverer, clock, shutdown: &_| d.attempt_each(queued, clock, shutdown).await;
    let Some(delivery) = super::deliver_once(&worker, renderer, now, &mut exit, deliver).await
    else {
        return exit;
    };
    println!(
        "{} digest(s) sent, {} queued for a retry by `run` or `once`, {} dead letter(s)",
        delivery.sent, delivery.remaining, delivery.dead
    );
    if delivery.dead > 0 {
        eprintln!("error: a digest could not be delivered (see `acronis-watch state dead`)");
        exit = exit.combine(Exit::Failed);
    }
    if delivery.remaining > 0 {
        exit = exit.combine(Exit::Undelivered);
    }
    exit
}

/// The tenants to build for: every watched one with `digest_to`, or the one asked
/// for. A watched tenant without `digest_to` is built only for `--dry-run` (to see
/// what it would get); a tenant that is not watched is bad usage.
fn choose(worker: &Worker, tenant: Option<&str>, dry_run: bool) -> Result<Vec<Recipient>, Exit> {
    let state_error = |e: crate::state::StateError| {
        eprintln!("error: {e}");
        Exit::Failed
    };
    let all = digest::recipients(&worker.store, &worker.config).map_err(state_error)?;
    let Some(id) = tenant else {
        return Ok(all);
    };
    if let Some(r) = all.into_iter().find(|r| r.tenant.id == id) {
        return Ok(vec![r]);
    }
    let watched = worker.store.tenants().map_err(state_error)?;
    let Some(t) = watched.iter().find(|t| t.id == id) else {
        eprintln!(
            "error: --tenant {id}: not a watched tenant (watched: {})",
            super::one_of(watched.iter().map(|t| t.id.as_str()), "none")
        );
        return Err(Exit::Usage);
    };
    if !dry_run {
        eprintln!(
            "error: --tenant {id}: {}: tenant.\"{id}\".digest_to is not set, so it gets no digest (--dry-run shows what it would get)",
            worker.config.path.display()
        );
        return Err(Exit::Usage);
    }
    Ok(vec![Recipient {
        tenant: digest::tenant_ref(t, &worker.config),
        to: Vec::new(),
    }])
}

fn print_digest(recipient: &Recipient, subject: &str, text: &str, html: &str) {
    let to = if recipient.to.is_empty() {
        "(nobody: no digest_to)".to_string()
    } else {
        recipient.to.join(", ")
    };
    println!(
        "=== digest for {} ({}) ===",
        recipient.tenant.name, recipient.tenant.id
    );
    println!("To: {to}");
    println!("Subject: {subject}");
    println!("\n--- text/plain ---\n{}", text.trim_end());
    println!("\n--- text/html ---\n{}\n", html.trim_end());
}
