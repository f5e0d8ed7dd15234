//! The README's "Using dcy", runnable: register this process as `worker`,
//! find `sensor` and call it through discovery, then end cleanly, with
//! nothing left registered and no task left running.
//!
//! ```sh
//! devagent agent -dev &          # or a real Consul agent
//! CONSUL_HTTP_ADDR=127.0.0.1:8500 cargo run -p dcy --example using_dcy
//! ```
//!
//! (`tests/readme_example.rs` runs [`using_dcy`] against a devagent.)

use std::time::Duration;

use dcy::{Check, Discovery, Registration};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let client = dcy::Client::from_env()?; // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ...
    let reading = using_dcy(&client, 8080, Duration::from_secs(10)).await?;
    println!("sensor says: {reading}");
    Ok(())
}

/// Registers `worker` on `port`, waits up to `wait` for a healthy `sensor`,
/// reads `http://sensor/reading`, and deregisters whatever happened in between.
pub async fn using_dcy(
    client: &dcy::Client,
    port: u16,
    wait: Duration,
) -> Result<String, AnyError> {
    let me = Registration::new("worker")
        .id("worker-1")
        .port(port)
        .check(Check::http(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_secs(1),
        ))
        .register(client) // kept registered by a task until deregister()
        .await?;
    let discovery = Discovery::new(client.clone());

    let work = async {
        discovery.wait_for(&["sensor"], wait).await?;
        let sensor = discovery.service("sensor");
        let one = sensor.pick(); // weighted round-robin, lock-free
        println!("a sensor: {:?}", one.map(|i| i.authority()));
        let http = discovery.http()?; // make once: it holds the connection pool
        let reading = http.get("http://sensor/reading").await?; // resolves, retries elsewhere
        Ok::<_, AnyError>(reading.text().await?)
    }
    .await;

    // End cleanly, whether the work succeeded or not: deregister (waits
    // for the keeper to remove the service) and stop watching.
    me.deregister().await?;
    discovery.shutdown().await;
    work
}
