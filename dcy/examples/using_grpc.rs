use std::time::Duration;

use dcy::Discovery;
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = dcy::Client::from_env()?;
    println!(
        "{}",
        health(&client, "grpc-worker", Duration::from_secs(10)).await?
    );
    Ok(())
}

/// Asks an instance of `service` for its gRPC health, through a tonic channel balanced
/// over the instances Consul lists as passing.
pub async fn health(client: &dcy::Client, service: &str, wait: Duration) -> Result<String, Error> {
    let discovery = Discovery::new(client.clone());
    let work = async {
        discovery.wait_for(&[service], wait).await?;
        let channel = discovery.grpc(service); // a critical instance leaves it at once
        let mut health = HealthClient::new(channel.clone()); // any tonic client takes it
        let answer = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        channel.shutdown().await; // stops the task that feeds the balancer
        Ok::<_, Error>(format!("{:?}", answer?.into_inner().status()))
    };
    let result = work.await;
    discovery.shutdown().await;
    result
}
