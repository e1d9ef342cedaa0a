//! The alert lifecycle: what a rule's transition does to an alert (fire, repeat,
//! resolve), whether channels are told now or later (silences), the notifications
//! that result, and where they go (routing and grouping).
//!
//! Stage four of the pipeline (poll -> store -> evaluate -> **transition + enqueue** ->
//! deliver). Everything here is pure: `plan` takes a resource before and after a
//! change plus a reader of stored alerts and returns what to write; `route` takes the
//! notifications plus a reader of open groups and returns the outbox items to write.
//! The evaluate stage (`crate::evaluate`) runs both inside its sled transaction and
//! writes what they return. Nothing here does I/O, sleeps, reads a clock or knows sled.

mod lifecycle;
mod log;
mod plan;
mod platform;
mod route;
mod sample;
mod settings;
mod silence;

#[cfg(test)]
mod tests;

pub use lifecycle::{Notify, Step, step};
pub use log::{Transitions, log_transitions};
pub use plan::{Notification, PlanContext, ResourcePlan, firing_snapshot, plan};
pub use platform::plan_platform;
pub use route::{Routed, RoutedItem, route};
pub use sample::test_item;
pub use settings::AlertSettings;
pub use silence::{Silenced, Silences};
