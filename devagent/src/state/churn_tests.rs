//! Instances that come and go leave nothing behind: after N distinct service
//! IDs (each with an HTTP and a TTL check, watched by blocking queries) are
//! registered and deregistered, every map of the store is back to its size
//! before (issue 16: the demo under `--chaos` registers a new `worker-<port>`
//! ID per restart).

use super::*;
use crate::decode::{decode, ServiceDefinition};
use crate::types::Status;

/// The length of every collection of [`Inner`] that may hold per-ID state.
fn sizes(inner: &Inner) -> Vec<(&'static str, usize)> {
    let owners: usize = inner.checks_by_owner.values().map(HashMap::len).sum();
    vec![
        ("service_index", inner.service_index.len()),
        ("nodes", inner.nodes.len()),
        ("services", inner.services.len()),
        ("by_name", inner.by_name.len()),
        (
            "by_name sets",
            inner.by_name.values().map(BTreeSet::len).sum(),
        ),
        ("checks", inner.checks.len()),
        ("checks_by_owner", inner.checks_by_owner.len()),
        ("checks_by_owner owners", owners),
        ("agent_services", inner.agent_services.len()),
        ("agent_checks", inner.agent_checks.len()),
        ("kv", inner.kv.len()),
        ("tombstones", inner.tombstones.len()),
        ("lock_delays", inner.lock_delays.len()),
        ("sessions", inner.sessions.len()),
        ("session_expiry", inner.session_expiry.len()),
        ("events", inner.events.len()),
        ("topics", inner.topics.len()),
        ("kv_topics", inner.kv_topics.len()),
    ]
}

fn worker(n: usize) -> ServiceDefinition {
    // IDs never repeat; ports do (as the OS reuses them).
    let port = 1024 + n % 60_000;
    let def = serde_json::json!({
        "ID": format!("worker-{n}"),
        "Name": "worker",
        "Address": "127.0.0.1",
        "Port": port,
        "Checks": [
            {"Name": "http", "HTTP": format!("http://127.0.0.1:{port}/health"), "Interval": "1s"},
            {"Name": "ttl", "TTL": "10s"},
        ],
    });
    match decode(def.to_string().as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("a worker's definition: {e}"),
    }
}

#[test]
fn churn_of_service_ids_leaves_the_maps_as_they_were() {
    const N: usize = 20_000;
    let store = Store::for_tests();
    // One instance that stays, as the demo's long-lived worker.
    store
        .agent_register_service(worker(1), false)
        .expect("register the long-lived worker");
    let before = sizes(&store.lock());
    for i in 0..N {
        let n = 2 + i;
        let id = format!("worker-{n}");
        let spawns = store
            .agent_register_service(worker(n), false)
            .expect("register");
        assert_eq!(spawns.len(), 1, "one runner for the HTTP check");
        // Blocking queries on the instance and on its service (the
        // registration keeper, discovery), gone with their connection.
        let watchers = {
            let mut inner = store.lock();
            [
                inner.subscribe(&Subscription::Topic(Topic::AgentService(id.clone()))),
                inner.subscribe(&Subscription::Topic(Topic::Service("worker".into()))),
                inner.subscribe(&Subscription::Topic(Topic::Catalog)),
            ]
        };
        for spawn in &spawns {
            store.record_check_result(&spawn.check_id, Status::Passing, "HTTP GET: 200 OK");
        }
        drop(watchers);
        store.agent_deregister_service(&id).expect("deregister");
        assert!(
            spawns.iter().all(|s| s.token.is_cancelled()),
            "the check runner of {id} stopped"
        );
    }
    let after = sizes(&store.lock());
    assert_eq!(
        after, before,
        "per-ID state left after {N} IDs came and went"
    );
}
