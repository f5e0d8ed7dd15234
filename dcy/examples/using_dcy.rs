use std::time::Duration;

use dcy::{Check, Discovery, Registration};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = dcy::Client::from_env()?; // CONSUL_HTTP_ADDR (default 127.0.0.1:8500), CONSUL_HTTP_TOKEN, ...
    println!("{}", hello(&client, Duration::from_secs(10)).await?);
    Ok(())
}

/// Registers `hello`, asks a `worker` for 7², and deregisters whatever happened.
pub async fn hello(client: &dcy::Client, wait: Duration) -> Result<String, Error> {
    let me = Registration::new("hello")
        .check(Check::ttl(Duration::from_secs(10))) // kept passing by a task until deregister()
        .register(client)
        .await?;
    let discovery = Discovery::new(client.clone());
    let work = async {
        discovery.wait_for(&["worker"], wait).await?;
        let worker = discovery.service("worker").pick(); // weighted round-robin, lock-free
        println!("one worker: {:?}", worker.map(|w| w.id.clone()));
        let http = discovery.http()?; // make once: it holds the connection pool
        let response = http.get("http://worker/square?n=7").await?; // resolves, retries elsewhere
        Ok::<_, Error>(response.text().await?)
    };
    let result = work.await;
    me.deregister().await?; // ends cleanly, whether the work succeeded or not
    discovery.shutdown().await;
    result
}
