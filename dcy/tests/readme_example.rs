//! The README's "Using dcy" example (`examples/using_dcy.rs`), compiled here
//! and run against a devagent: it reads the sensor and leaves nothing
//! registered.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "../examples/using_dcy.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use support::start;

#[tokio::test]
async fn the_readme_example_ends_with_nothing_registered() {
    let env = start().await;
    let (sensor, _server) = support::http_server("21.5").await;
    let base = format!("http://{}", env.http);
    testkit::register(
        &reqwest::Client::new(),
        &base,
        &format!(
            r#"{{"Name":"sensor","Address":"127.0.0.1","Port":{},"Check":{{"TTL":"1m","Status":"passing"}}}}"#,
            sensor.port()
        ),
    )
    .await;
    let (worker, _w) = support::http_server("ok").await;
    let reading = example::using_dcy(&env.client, worker.port(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(reading, "21.5");
    let services = env.client.agent_services().await.unwrap();
    assert!(
        !services.contains_key("worker-1"),
        "the example leaves nothing registered: {:?}",
        services.keys().collect::<Vec<_>>()
    );
    assert!(services.contains_key("sensor"));

    // On the error path too: no sensor this time, the wait fails, and the
    // worker is still deregistered.
    env.client.deregister_service("sensor").await.unwrap();
    let tokio_err = example::using_dcy(&env.client, worker.port(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(tokio_err.to_string().contains("sensor"), "{tokio_err}");
    assert!(env.client.agent_services().await.unwrap().is_empty());
    env.shutdown().await;
}
