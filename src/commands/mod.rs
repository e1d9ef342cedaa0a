//! What each command does: the top of the stack, the glue between the command line,
//! the config and the pipeline. Every command that reads config validates it first;
//! each returns an [`Exit`] (SPEC §2: 0 ok, 1 runtime failure, 2 bad usage/config,
//! 3 undelivered), and prints errors for a person on stderr (the only module that
//! does). Nothing below it imports it.

mod check;
mod demo;
mod digest;
mod doctor;
mod once;
mod preview;
mod run;
mod simulate;
mod state;
mod test_notify;

use crate::cli::{Cli, Command, StateCommand};
use crate::clock::Clock;
use crate::config::{self, Config};
pub use crate::exit::Exit;
use crate::notify::{Deliverer, DeliveryReport, Renderer};
use crate::rules::{self, RuleSet};
use tokio_util::sync::CancellationToken;

/// Run the command `cli` names.
pub async fn execute(cli: Cli) -> Exit {
    let path = cli.config.clone();
    match cli.command {
        Command::Simulate(args) => simulate::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Check => match load_all(&path) {
            Ok(loaded) => check::run(loaded),
            Err(exit) => exit,
        },
        Command::Once(args) => match load_all(&path) {
            Ok(loaded) => once::run(loaded, args).await,
            Err(exit) => exit,
        },
        Command::State(StateCommand::Resources(args)) => match load(&path) {
            Ok(cfg) => state::resources(&cfg, args),
            Err(exit) => exit,
        },
        Command::State(StateCommand::Tenants(a)) => match load(&path) {
            Ok(cfg) => state::tenants(&cfg, a.json),
            Err(exit) => exit,
        },
        Command::State(StateCommand::Alerts(a)) => match load(&path) {
            Ok(cfg) => state::alerts(&cfg, a.json),
            Err(exit) => exit,
        },
        Command::State(StateCommand::Outbox(a)) => match load(&path) {
            Ok(cfg) => state::outbox(&cfg, a.json),
            Err(exit) => exit,
        },
        Command::State(StateCommand::Dead(a)) => match load(&path) {
            Ok(cfg) => state::dead(&cfg, a.json),
            Err(exit) => exit,
        },
        Command::Doctor(args) => match load(&path) {
            Ok(cfg) => doctor::run(cfg, args.tenant).await,
            Err(exit) => exit,
        },
        Command::State(StateCommand::RetryDead) => match load(&path) {
            Ok(cfg) => state::retry_dead(&cfg),
            Err(exit) => exit,
        },
        Command::State(StateCommand::ResetIncremental(a)) => match load(&path) {
            Ok(cfg) => state::reset_incremental(&cfg, a.tenant.as_deref()),
            Err(exit) => exit,
        },
        Command::Run(args) => match load_all(&path) {
            Ok(loaded) => run::run(loaded, args).await,
            Err(exit) => exit,
        },
        Command::Preview(args) => match load_all(&path) {
            Ok(loaded) => preview::run(&loaded, &args),
            Err(exit) => exit,
        },
        Command::TestNotify(args) => match load_all(&path) {
            Ok(loaded) => test_notify::run(&loaded, &args).await,
            Err(exit) => exit,
        },
        Command::Digest(args) => match load_all(&path) {
            Ok(loaded) => digest::run(loaded, args).await,
            Err(exit) => exit,
        },
    }
}

/// Load and validate the config, printing the error for a person.
fn load(path: &std::path::Path) -> Result<Config, Exit> {
    config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Usage
    })
}

/// Everything a working command reads before it starts: config, rules, templates.
pub(crate) struct Loaded {
    pub config: Config,
    pub rules: RuleSet,
    pub renderer: Renderer,
}

/// The config, the rule files and the templates it points at; any error is printed
/// and is exit 2.
fn load_all(path: &std::path::Path) -> Result<Loaded, Exit> {
    let cfg = load(path)?;
    let usage = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        Exit::Usage
    };
    // The default folders may be absent (a config that only polls, or that uses the
    // built-in templates); a folder named in worker.toml must exist.
    let rules = if !cfg.rules_dir.exists()
        && cfg.rules_dir == config::resolve(&cfg.dir, "rules".as_ref())
    {
        tracing::warn!(
            "no rules folder at {}: no rules are loaded and nothing will alert",
            cfg.rules_dir.display()
        );
        RuleSet::default()
    } else {
        rules::load(&cfg.rules_dir, &cfg).map_err(|e| usage(&e))?
    };
    let renderer = if !cfg.templates_dir.exists()
        && cfg.templates_dir == config::resolve(&cfg.dir, "templates".as_ref())
    {
        Renderer::shipped(&cfg).map_err(|e| usage(&e))?
    } else {
        Renderer::load(&cfg.templates_dir, &cfg).map_err(|e| usage(&e))?
    };
    for w in renderer.warnings() {
        tracing::warn!("{w}");
    }
    // A silence naming no rule would silently silence nothing.
    for (i, s) in cfg.silences.iter().enumerate() {
        if let Some(name) = s.rule.as_deref().filter(|n| rules.get(n).is_none()) {
            eprintln!(
                "error: {}: silence[{i}].rule: no rule is named {name:?}: expected one of {} (the rules in {})",
                cfg.path.display(),
                one_of(rules.iter().map(|r| r.name.as_str()), "(none loaded)"),
                cfg.rules_dir.display()
            );
            return Err(Exit::Usage);
        }
    }
    Ok(Loaded {
        config: cfg,
        rules,
        renderer,
    })
}

/// The worker for `config` and `rules`, or None after printing why it cannot start.
fn open_worker(config: Config, rules: RuleSet) -> Option<crate::worker::Worker> {
    crate::worker::Worker::open(config, rules)
        .map_err(|e| eprintln!("error: {e}"))
        .ok()
}

/// Delivery for a one-shot command: set up the channels, run `deliver` under
/// Ctrl-C/SIGTERM on a clock starting at `now`, flush the state directory. Errors are
/// printed and folded into `exit`; None if delivery could not start.
async fn deliver_once(
    worker: &crate::worker::Worker,
    renderer: Renderer,
    now: chrono::DateTime<chrono::Utc>,
    exit: &mut Exit,
    deliver: impl AsyncFnOnce(&Deliverer, Clock, &CancellationToken) -> DeliveryReport,
) -> Option<DeliveryReport> {
    let store = &worker.store;
    let deliverer = match Deliverer::from_config(store.clone(), renderer, &worker.config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            // 2 (bad templates, say) still wins over 1.
            *exit = exit.combine(Exit::Failed);
            return None;
        }
    };
    let (shutdown, signals) = cancel_on_signal();
    let report = deliver(&deliverer, Clock::starting_at(now), &shutdown).await;
    signals.abort();
    if let Err(e) = store.flush().await {
        eprintln!("error: {e}");
        *exit = exit.combine(Exit::Failed);
    }
    for e in &report.errors {
        eprintln!("error: {e}");
        *exit = exit.combine(Exit::Failed);
    }
    Some(report)
}

/// A token cancelled on Ctrl-C or SIGTERM, and the task that waits for them (abort it
/// when done waiting).
pub(crate) fn cancel_on_signal() -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let token = CancellationToken::new();
    let on_signal = token.clone();
    let task = tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("signal received: stopping");
        on_signal.cancel();
    });
    (token, task)
}

/// `names` for a message: comma-separated, or `none` when empty.
fn one_of<'a>(names: impl Iterator<Item = &'a str>, none: &str) -> String {
    let list: Vec<&str> = names.collect();
    if list.is_empty() {
        none.to_string()
    } else {
        list.join(", ")
    }
}

impl Loaded {
    /// The channel `name` (from `--channel`), or exit 2 after naming the ones there are.
    fn channel(&self, name: &str) -> Result<&crate::config::ChannelConfig, Exit> {
        self.config
            .channels
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                eprintln!(
                    "error: --channel {name:?}: no such channel; the channels are: {}",
                    one_of(
                        self.config.channels.iter().map(|c| c.name.as_str()),
                        "(none configured)"
                    )
                );
                Exit::Usage
            })
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
