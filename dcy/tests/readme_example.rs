//! The README's "Using dcy" example: `examples/using_dcy.rs` is the README's
//! `rust` block, byte for byte (checked here), compiled here and run
//! against a devagent: it asks a worker for 7² and leaves nothing
//! registered, on success and on failure.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "../examples/using_dcy.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use support::start;

#[test]
fn the_example_file_is_the_readme_block() {
    let readme = include_str!("../../README.md");
    let start = readme.find("```rust\n").unwrap() + "```rust\n".len();
    let end = start + readme[start..].find("```").unwrap();
    assert_eq!(
        &readme[start..end],
        include_str!("../examples/using_dcy.rs"),
        "copy the README's rust block to dcy/examples/using_dcy.rs"
    );
}

#[tokio::test]
async fn the_readme_example_ends_with_nothing_registered() {
    let env = start().await;
    let (worker, _server) = support::http_server("{\"square\":49}").await;
    let base = format!("http://{}", env.http);
    testkit::register(
        &reqwest::Client::new(),
        &base,
        &format!(
            r#"{{"Name":"worker","Address":"127.0.0.1","Port":{},"Check":{{"TTL":"1m","Status":"passing"}}}}"#,
            worker.port()
        ),
    )
    .await;
    let answer = example::hello(&env.client, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer, "{\"square\":49}");
    let services = env.client.agent_services().await.unwrap();
    assert!(
        !services.contains_key("hello"),
        "the example leaves nothing registered: {:?}",
        services.keys().collect::<Vec<_>>()
    );
    assert!(services.contains_key("worker"));

    // On the error path too: no worker this time, the wait fails, and
    // hello is still deregistered.
    env.client.deregister_service("worker").await.unwrap();
    let err = example::hello(&env.client, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("worker"), "{err}");
    assert!(env.client.agent_services().await.unwrap().is_empty());
    env.shutdown().await;
}
