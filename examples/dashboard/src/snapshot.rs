//! What the page shows: a serializable picture of every service, instance
//! and check, with counts, history and the freshness of the data.
//!
//! The types here are plain data: [`crate::feed`] builds them from dcy's
//! watches, `/api/snapshot` and `/events` send them as JSON, and tests read
//! them back.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dcy::{ServiceEntry, Status};
use serde::{Deserialize, Serialize};

/// Longest check output kept, in characters: Consul's own limit for a
/// check's output (4 KB by default), so the page can show all of it (the
/// useful end of an error, such as "Connection refused", comes last).
pub const OUTPUT_MAX_CHARS: usize = 4096;

/// Everything the page shows at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Bumped on every published change (not on the silent per-second refresh).
    pub version: u64,
    /// When this snapshot was built, in Unix milliseconds.
    pub generated_at_ms: u64,
    /// When the services, instances or checks last changed, in Unix
    /// milliseconds (0 before the first answer).
    pub updated_at_ms: u64,
    /// How fresh the data is.
    pub freshness: Freshness,
    /// Totals over all services.
    pub totals: Totals,
    /// The services, sorted by name.
    pub services: Vec<ServiceView>,
    /// Services left out because there were more than the dashboard watches.
    pub omitted_services: usize,
    /// Most samples a service's history holds.
    pub history_capacity: usize,
    /// The broker's streams, when Consul lists broker nodes.
    #[serde(default)]
    pub broker: Option<crate::broker::BrokerView>,
}

/// How fresh the data is, from the catalog watch's status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    /// Whether Consul answered at least once.
    pub ready: bool,
    /// Whether Consul is failing and the data is the last good answer.
    pub stale: bool,
    /// Seconds since Consul last answered (`None` before the first answer).
    /// Blocking queries answer at least once per watch wait, so while Consul
    /// is healthy this stays below the wait.
    pub age_seconds: Option<f64>,
    /// Seconds since the failures began, while stale.
    pub failing_seconds: Option<f64>,
    /// The last error, while stale.
    pub error: Option<String>,
}

/// Totals over all services.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Number of services.
    pub services: usize,
    /// Instances by aggregated status.
    pub instances: Counts,
}

/// Instances by aggregated status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// All instances.
    pub total: usize,
    /// Instances whose checks all pass.
    pub passing: usize,
    /// Instances with a warning check and no critical one.
    pub warning: usize,
    /// Instances with a critical check.
    pub critical: usize,
    /// Instances in maintenance mode.
    pub maintenance: usize,
}

impl Counts {
    /// Counts `status` once more.
    pub fn add(&mut self, status: Status) {
        self.total += 1;
        match status {
            Status::Passing => self.passing += 1,
            Status::Warning => self.warning += 1,
            Status::Critical => self.critical += 1,
            Status::Maintenance => self.maintenance += 1,
        }
    }

    /// Adds another count to this one.
    pub fn merge(&mut self, other: &Counts) {
        self.total += other.total;
        self.passing += other.passing;
        self.warning += other.warning;
        self.critical += other.critical;
        self.maintenance += other.maintenance;
    }

    /// The worst status present (`None` without instances).
    pub fn worst(&self) -> Option<Status> {
        if self.critical > 0 {
            Some(Status::Critical)
        } else if self.maintenance > 0 {
            Some(Status::Maintenance)
        } else if self.warning > 0 {
            Some(Status::Warning)
        } else if self.passing > 0 {
            Some(Status::Passing)
        } else {
            None
        }
    }
}

/// One service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Its name.
    pub name: String,
    /// The union of its instances' tags, from the catalog.
    pub tags: Vec<String>,
    /// Worst status of its instances (`None` without instances or before
    /// the first answer).
    pub status: Option<Status>,
    /// Whether its health watch answered at least once.
    pub loaded: bool,
    /// Whether its health watch is failing (its instances are the last good answer).
    pub stale: bool,
    /// Instances by status.
    pub counts: Counts,
    /// Instances, sorted by ID.
    pub instances: Vec<InstanceView>,
    /// Instance counts over time, oldest first (one sample a second).
    pub history: Vec<Sample>,
}

/// One service instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// Instance ID.
    pub id: String,
    /// Node name.
    pub node: String,
    /// Address to dial (the service's, else the node's).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Tags.
    pub tags: Vec<String>,
    /// Aggregated status of its checks.
    pub status: Status,
    /// Its checks and its node's, sorted by check ID.
    pub checks: Vec<CheckView>,
}

/// One health check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    /// Check ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: Status,
    /// Output of the last run (its notes when there is none, e.g. the
    /// reason of a maintenance), cut to [`OUTPUT_MAX_CHARS`] characters.
    pub output: String,
    /// Whether it is a node check (it applies to every instance on the node).
    pub node_check: bool,
}

/// Instance counts of one service at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When, in Unix milliseconds.
    pub t: u64,
    /// Passing instances.
    pub passing: usize,
    /// Warning instances.
    pub warning: usize,
    /// Critical instances.
    pub critical: usize,
    /// Instances in maintenance.
    pub maintenance: usize,
}

impl Sample {
    /// A sample of `counts` at `t`.
    pub fn new(t: u64, counts: &Counts) -> Sample {
        Sample {
            t,
            passing: counts.passing,
            warning: counts.warning,
            critical: counts.critical,
            maintenance: counts.maintenance,
        }
    }
}

/// The small event sent every second: freshness and the newest samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// When, in Unix milliseconds.
    pub t: u64,
    /// Freshness at that moment.
    pub freshness: Freshness,
    /// The sample just added to each service's history.
    pub samples: BTreeMap<String, Sample>,
    /// The broker's streams as of this tick, when Consul lists broker nodes.
    #[serde(default)]
    pub broker: Option<crate::broker::BrokerView>,
}

/// A bounded history of samples: the oldest goes when it is full.
#[derive(Clone, Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    cap: usize,
}

impl History {
    /// An empty history of at most `cap` samples (at least 2).
    pub fn new(cap: usize) -> History {
        let cap = cap.max(2);
        History {
            samples: VecDeque::with_capacity(cap.min(4096)),
            cap,
        }
    }

    /// Appends a sample, dropping the oldest when full.
    pub fn push(&mut self, sample: Sample) {
        while self.samples.len() >= self.cap {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Most samples it holds.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The samples, oldest first.
    pub fn to_vec(&self) -> Vec<Sample> {
        self.samples.iter().copied().collect()
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Seconds with one decimal, for JSON.
pub fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((end, _)) => {
            let mut out = s[..end].trim_end().to_string();
            out.push('…');
            out
        }
    }
}

/// The view of one instance.
pub fn instance_view(entry: &ServiceEntry) -> InstanceView {
    let mut checks: Vec<CheckView> = entry
        .checks
        .iter()
        .map(|c| CheckView {
            id: c.check_id.clone(),
            name: c.name.clone(),
            status: c.status,
            output: truncate(
                if c.output.trim().is_empty() {
                    c.notes.trim()
                } else {
                    c.output.trim()
                },
                OUTPUT_MAX_CHARS,
            ),
            node_check: c.service_id.is_empty(),
        })
        .collect();
    // Service checks first, then the node's.
    checks.sort_by(|a, b| (a.node_check, &a.id).cmp(&(b.node_check, &b.id)));
    InstanceView {
        id: entry.service.id.clone(),
        node: entry.node.node.clone(),
        address: entry.address().to_string(),
        port: entry.service.port,
        tags: entry.service.tags.clone(),
        status: entry.aggregated_status(),
        checks,
    }
}

/// The view of one service from its health entries (`None`: not loaded yet).
pub fn service_view(
    name: &str,
    tags: &[String],
    entries: Option<&[ServiceEntry]>,
    stale: bool,
    history: Option<&History>,
) -> ServiceView {
    let mut instances: Vec<InstanceView> = entries
        .unwrap_or_default()
        .iter()
        .map(instance_view)
        .collect();
    instances.sort_by(|a, b| (&a.id, &a.node).cmp(&(&b.id, &b.node)));
    let mut counts = Counts::default();
    for i in &instances {
        counts.add(i.status);
    }
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    ServiceView {
        name: name.to_string(),
        tags,
        status: counts.worst(),
        loaded: entries.is_some(),
        stale,
        counts,
        instances,
        history: history.map(History::to_vec).unwrap_or_default(),
    }
}

/// Whether two snapshots differ in anything but their per-second parts
/// (history, ages, build time): a change worth telling every page about.
pub fn differs(a: &Snapshot, b: &Snapshot) -> bool {
    let fresh = |f: &Freshness| (f.ready, f.stale, f.error.clone());
    if fresh(&a.freshness) != fresh(&b.freshness)
        || a.updated_at_ms != b.updated_at_ms
        || a.omitted_services != b.omitted_services
        || a.services.len() != b.services.len()
    {
        return true;
    }
    a.services.iter().zip(&b.services).any(|(x, y)| {
        x.name != y.name
            || x.tags != y.tags
            || x.loaded != y.loaded
            || x.stale != y.stale
            || x.instances != y.instances
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcy::{AgentService, HealthCheck, Node};

    fn entry(id: &str, checks: &[(&str, Status, &str)]) -> ServiceEntry {
        ServiceEntry {
            node: Node {
                node: "node-1".into(),
                address: "10.0.0.1".into(),
                ..Node::default()
            },
            service: AgentService {
                id: id.into(),
                service: "worker".into(),
                port: 8080,
                tags: vec!["v1".into()],
                ..AgentService::default()
            },
            checks: checks
                .iter()
                .map(|(cid, status, output)| HealthCheck {
                    check_id: (*cid).into(),
                    name: format!("check {cid}"),
                    status: *status,
                    output: (*output).into(),
                    service_id: if *cid == "serfHealth" {
                        String::new()
                    } else {
                        id.into()
                    },
                    ..HealthCheck::default()
                })
                .collect(),
        }
    }

    #[test]
    fn history_keeps_the_newest_samples() {
        let mut h = History::new(3);
        for t in 0..10 {
            h.push(Sample {
                t,
                ..Sample::default()
            });
        }
        assert_eq!(h.len(), 3);
        let ts: Vec<u64> = h.to_vec().iter().map(|s| s.t).collect();
        assert_eq!(ts, [7, 8, 9]);
        assert_eq!(History::new(0).cap, 2);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééé", 3), "ééé…");
        assert_eq!(truncate(&"x".repeat(500), 200).chars().count(), 201);
        assert_eq!(
            truncate(&"x".repeat(5000), OUTPUT_MAX_CHARS)
                .chars()
                .count(),
            OUTPUT_MAX_CHARS + 1
        );
    }

    #[test]
    fn a_service_counts_its_instances_by_worst_check() {
        let entries = vec![
            entry(
                "worker-2",
                &[
                    ("service:worker-2", Status::Critical, "connection refused"),
                    ("serfHealth", Status::Passing, "Agent alive"),
                ],
            ),
            entry("worker-1", &[("service:worker-1", Status::Passing, "ok")]),
            entry("worker-3", &[("service:worker-3", Status::Warning, "slow")]),
        ];
        let v = service_view(
            "worker",
            &["v1".into(), "v1".into()],
            Some(&entries),
            false,
            None,
        );
        assert_eq!(v.tags, ["v1"]);
        assert!(v.loaded);
        let ids: Vec<&str> = v.instances.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["worker-1", "worker-2", "worker-3"]);
        assert_eq!(v.instances[1].status, Status::Critical);
        assert_eq!(v.instances[1].checks[0].id, "service:worker-2");
        assert!(v.instances[1].checks[1].node_check);
        assert_eq!(
            v.counts,
            Counts {
                total: 3,
                passing: 1,
                warning: 1,
                critical: 1,
                maintenance: 0
            }
        );
        assert_eq!(v.status, Some(Status::Critical));
        let empty = service_view("web", &[], None, false, None);
        assert!(!empty.loaded);
        assert_eq!(empty.status, None);
    }

    #[test]
    fn only_real_changes_differ() {
        let services = vec![service_view("web", &[], Some(&[]), false, None)];
        let a = Snapshot {
            services: services.clone(),
            ..Snapshot::default()
        };
        let mut b = a.clone();
        b.generated_at_ms = 99;
        b.freshness.age_seconds = Some(3.0);
        b.services[0].history.push(Sample::default());
        assert!(!differs(&a, &b));
        b.freshness.stale = true;
        assert!(differs(&a, &b));
        let mut c = a.clone();
        c.services[0].stale = true;
        assert!(differs(&a, &c));
    }
}
