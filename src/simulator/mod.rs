//! The built-in simulated Acronis datacenter (placeholder).
