//! Check and instance health, and Consul's rule for aggregating it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The health of a check or an instance.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All is well.
    #[default]
    Passing,
    /// Degraded but serving.
    Warning,
    /// Out of service.
    Critical,
    /// In maintenance mode (an aggregate only; checks are never "maintenance").
    Maintenance,
}

impl Status {
    /// `passing`, `warning`, `critical` or `maintenance`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passing => "passing",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Maintenance => "maintenance",
        }
    }

    /// Parses the wire spelling (exactly, as Consul does).
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "passing" => Some(Status::Passing),
            "warning" => Some(Status::Warning),
            "critical" => Some(Status::Critical),
            "maintenance" => Some(Status::Maintenance),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a check ID is one of the maintenance checks Consul adds
/// (`_node_maintenance`, `_service_maintenance:<id>`).
pub fn is_maintenance_check(check_id: &str) -> bool {
    check_id == "_node_maintenance" || check_id.starts_with("_service_maintenance:")
}

/// The aggregate health of an instance from its checks (check ID, status):
/// maintenance when a maintenance check is present, else the worst status
/// (critical, warning, passing), passing when there are no checks. This is
/// the rule of Consul's `api.HealthChecks.AggregatedStatus` and of
/// consul-template's `service` function.
///
/// ```
/// use consul_wire::{aggregated_status, Status};
/// let checks = [("serfHealth", Status::Passing), ("service:web", Status::Critical)];
/// assert_eq!(aggregated_status(checks), Status::Critical);
/// assert_eq!(aggregated_status([("_node_maintenance", Status::Critical)]), Status::Maintenance);
/// assert_eq!(aggregated_status(std::iter::empty::<(&str, Status)>()), Status::Passing);
/// ```
pub fn aggregated_status<'a, I>(checks: I) -> Status
where
    I: IntoIterator<Item = (&'a str, Status)>,
{
    let mut worst = Status::Passing;
    for (id, status) in checks {
        if is_maintenance_check(id) {
            return Status::Maintenance;
        }
        worst = worst.max(status);
    }
    worst
}
