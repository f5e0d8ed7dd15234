//! What the load generators ([`crate::load`]) call through: the app's own
//! [`app::Target`] (by name, through dcy discovery), or fixed addresses
//! with plain reqwest, which only the benchmark that measures discovery's
//! cost needs. Both use the app's HTTP client settings
//! ([`app::http_client`]), so that a comparison measures discovery and
//! nothing else.

use worker::Square;

/// How a bench's rounds reach the sensor and a worker.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// The app's way: by name, through dcy discovery.
    Discovery(app::Target),
    /// Fixed `host:port` addresses, plain reqwest.
    Fixed {
        http: reqwest::Client,
        sensor: String,
        worker: String,
    },
}

impl Target {
    /// By name through `discovery`, as the app calls.
    pub(crate) fn discovery(discovery: &dcy::Discovery) -> Target {
        Target::Discovery(app::Target::discovery(discovery))
    }

    /// Fixed `host:port` addresses, with the app's HTTP client settings.
    pub(crate) fn fixed(sensor: &str, worker: &str) -> Target {
        Target::Fixed {
            http: app::http_client(),
            sensor: sensor.to_string(),
            worker: worker.to_string(),
        }
    }

    /// One round: a reading, squared by a worker, checked.
    pub(crate) async fn round(&self) -> anyhow::Result<Square> {
        match self {
            Target::Discovery(t) => t.round().await,
            Target::Fixed {
                http,
                sensor,
                worker,
            } => {
                let reading: app::Reading =
                    get_json(http, &format!("http://{sensor}/reading")).await?;
                let url = format!("http://{worker}/square?n={}", reading.value);
                let sq: Square = get_json(http, &url).await?;
                app::check(&reading, &sq)?;
                Ok(sq)
            }
        }
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    let resp = http.get(url).send().await?;
    if !resp.status().is_success() {
        anyhow::bail!("{url}: {}", resp.status());
    }
    Ok(resp.json().await?)
}
