use std::time::Duration;

use dcy::Discovery;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = dcy::Client::from_env()?;
    println!(
        "{}",
        ask(&client, "echo", "hello", Duration::from_secs(10)).await?
    );
    Ok(())
}

/// Sends `line` to an instance of `service` over TCP and returns the line it answers;
/// counts the question in `metrics` over UDP.
pub async fn ask(
    client: &dcy::Client,
    service: &str,
    line: &str,
    wait: Duration,
) -> Result<String, Error> {
    let discovery = Discovery::new(client.clone());
    let work = async {
        discovery.wait_for(&[service], wait).await?;
        let net = discovery.net(); // make once: it remembers the instances that refused
        let stream = net.connect_tcp(service).await?; // in pick order, another one if refused
        let (read, mut write) = stream.into_split();
        write.write_all(format!("{line}\n").as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(read).read_line(&mut answer).await?;
        net.send_udp("metrics", b"asked:1|c").await?; // one datagram, may be lost
        Ok::<_, Error>(answer.trim_end().to_string())
    };
    let result = work.await;
    discovery.shutdown().await;
    result
}
