//! The KV store: reads, writes, CAS, deletes, trees, and watches of a key or
//! a prefix, with values as bytes, strings or JSON.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! let kv = dcy::Kv::new(dcy::Client::from_env()?);
//! kv.put_json("app/config", &serde_json::json!({"workers": 4})).await?;
//! let cfg: Option<serde_json::Value> = kv.get_json("app/config").await?;
//! let mut watch = kv.watch_key("app/config");
//! watch.changed().await?;
//! # Ok(())
//! # }
//! ```

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{key_path, Client, QueryMeta, QueryOptions};
use crate::error::{Error, Result};
use crate::types::KvPair;
use crate::watch::{Watch, WatchHub, WatchSpec};

/// How a write applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvWrite {
    /// Opaque flags stored with the value.
    pub flags: u64,
    /// Write only if the key's ModifyIndex is this (0: only if it is missing).
    pub cas: Option<u64>,
    /// Acquire the key's lock for this session.
    pub acquire: Option<String>,
    /// Release the key's lock held by this session.
    pub release: Option<String>,
}

impl Client {
    /// `GET /v1/kv/:key`: the entry, or `None` if missing.
    pub async fn kv_get(&self, key: &str, q: &QueryOptions) -> Result<(Option<KvPair>, QueryMeta)> {
        let path = format!("/v1/kv/{}", key_path(key));
        let raw = self.read(&path, &[], q, true).await?;
        if raw.status == StatusCode::NOT_FOUND {
            return Ok((None, raw.meta));
        }
        let list: Vec<KvPair> = serde_json::from_slice(&raw.body)
            .map_err(|e| Error::decode(&format!("GET {path}"), e))?;
        Ok((list.into_iter().next(), raw.meta))
    }

    /// `GET /v1/kv/:prefix?recurse`: every entry under the prefix, sorted by key.
    pub async fn kv_list(
        &self,
        prefix: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<KvPair>, QueryMeta)> {
        let path = format!("/v1/kv/{}", key_path(prefix));
        let raw = self
            .read(&path, &[("recurse".into(), String::new())], q, true)
            .await?;
        if raw.status == StatusCode::NOT_FOUND {
            return Ok((Vec::new(), raw.meta));
        }
        let list = serde_json::from_slice(&raw.body)
            .map_err(|e| Error::decode(&format!("GET {path}"), e))?;
        Ok((list, raw.meta))
    }

    /// `GET /v1/kv/:prefix?keys`: the keys under a prefix, cut after `separator` if given.
    pub async fn kv_keys(
        &self,
        prefix: &str,
        separator: Option<&str>,
        q: &QueryOptions,
    ) -> Result<(Vec<String>, QueryMeta)> {
        let path = format!("/v1/kv/{}", key_path(prefix));
        let mut params = vec![("keys".to_string(), String::new())];
        if let Some(s) = separator {
            params.push(("separator".into(), s.to_string()));
        }
        let raw = self.read(&path, &params, q, true).await?;
        if raw.status == StatusCode::NOT_FOUND {
            return Ok((Vec::new(), raw.meta));
        }
        let list = serde_json::from_slice(&raw.body)
            .map_err(|e| Error::decode(&format!("GET {path}"), e))?;
        Ok((list, raw.meta))
    }

    /// `PUT /v1/kv/:key` with options; returns Consul's `true`/`false`.
    pub async fn kv_put_with(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        w: &KvWrite,
    ) -> Result<bool> {
        if key.trim_start_matches('/').is_empty() {
            return Err(Error::new(
                crate::ErrorKind::InvalidInput,
                "KV key is empty: name the key to write",
            ));
        }
        let path = format!("/v1/kv/{}", key_path(key));
        let mut params = Vec::new();
        if w.flags != 0 {
            params.push(("flags".to_string(), w.flags.to_string()));
        }
        if let Some(c) = w.cas {
            params.push(("cas".into(), c.to_string()));
        }
        if let Some(s) = &w.acquire {
            params.push(("acquire".into(), s.clone()));
        }
        if let Some(s) = &w.release {
            params.push(("release".into(), s.clone()));
        }
        let body = self
            .write(Method::PUT, &path, &params, Some(value.into()))
            .await?;
        Client::bool_body(&path, &body)
    }

    /// `PUT /v1/kv/:key`.
    pub async fn kv_put(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        self.kv_put_with(key, value, &KvWrite::default())
            .await
            .map(|_| ())
    }

    /// `DELETE /v1/kv/:key`.
    pub async fn kv_delete(&self, key: &str) -> Result<()> {
        self.write(
            Method::DELETE,
            &format!("/v1/kv/{}", key_path(key)),
            &[],
            None,
        )
        .await?;
        Ok(())
    }

    /// `DELETE /v1/kv/:prefix?recurse`.
    pub async fn kv_delete_tree(&self, prefix: &str) -> Result<()> {
        let params = vec![("recurse".to_string(), String::new())];
        self.write(
            Method::DELETE,
            &format!("/v1/kv/{}", key_path(prefix)),
            &params,
            None,
        )
        .await?;
        Ok(())
    }

    /// `DELETE /v1/kv/:key?cas=index`: deletes only if the ModifyIndex matches.
    pub async fn kv_delete_cas(&self, key: &str, index: u64) -> Result<bool> {
        let path = format!("/v1/kv/{}", key_path(key));
        let body = self
            .write(
                Method::DELETE,
                &path,
                &[("cas".into(), index.to_string())],
                None,
            )
            .await?;
        Client::bool_body(&path, &body)
    }
}

/// Typed access to the KV store, with watches.
#[derive(Clone, Debug)]
pub struct Kv {
    client: Client,
    hub: WatchHub,
}

impl Kv {
    /// KV access through `client`, with a watch hub of its own for
    /// [`Kv::watch_key`] and [`Kv::watch_prefix`] (nothing starts until then).
    pub fn new(client: Client) -> Kv {
        let hub = WatchHub::new(client.clone());
        Kv { client, hub }
    }

    /// The raw value, or `None` if the key is missing.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self
            .client
            .kv_get(key, &QueryOptions::default())
            .await?
            .0
            .map(|p| p.value))
    }

    /// The whole entry (flags, session, indexes), or `None`.
    pub async fn entry(&self, key: &str) -> Result<Option<KvPair>> {
        Ok(self.client.kv_get(key, &QueryOptions::default()).await?.0)
    }

    /// The value as UTF-8 text.
    pub async fn get_string(&self, key: &str) -> Result<Option<String>> {
        match self.entry(key).await? {
            None => Ok(None),
            Some(p) => p
                .value_str()
                .map(|s| Some(s.to_string()))
                .map_err(|e| Error::decode(&format!("the value of key {:?} as UTF-8", p.key), e)),
        }
    }

    /// The value decoded from JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::decode(&format!("the value of key {key:?} as JSON"), e)),
        }
    }

    /// Writes raw bytes.
    pub async fn put(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        self.client.kv_put(key, value).await
    }

    /// Writes text.
    pub async fn put_string(&self, key: &str, value: &str) -> Result<()> {
        self.client.kv_put(key, value.to_string()).await
    }

    /// Writes a value as JSON.
    pub async fn put_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::decode(&format!("the value for {key:?}"), e))?;
        self.client.kv_put(key, bytes).await
    }

    /// Compare-and-set: writes only if the key's ModifyIndex is `index` (0: only if missing).
    pub async fn cas(&self, key: &str, value: impl Into<Bytes>, index: u64) -> Result<bool> {
        let w = KvWrite {
            cas: Some(index),
            ..KvWrite::default()
        };
        self.client.kv_put_with(key, value, &w).await
    }

    /// Deletes a key.
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.client.kv_delete(key).await
    }

    /// Deletes every key under a prefix.
    pub async fn delete_tree(&self, prefix: &str) -> Result<()> {
        self.client.kv_delete_tree(prefix).await
    }

    /// The keys under a prefix.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .client
            .kv_keys(prefix, None, &QueryOptions::default())
            .await?
            .0)
    }

    /// Every entry under a prefix.
    pub async fn tree(&self, prefix: &str) -> Result<Vec<KvPair>> {
        Ok(self
            .client
            .kv_list(prefix, &QueryOptions::default())
            .await?
            .0)
    }

    /// Watches one key: the list holds the entry, or is empty while the key is missing.
    ///
    /// # Panics
    ///
    /// When the watch must be started outside a Tokio runtime.
    pub fn watch_key(&self, key: &str) -> Watch<Vec<KvPair>> {
        self.hub.watch(WatchSpec::kv_key(key))
    }

    /// Watches every entry under a prefix.
    ///
    /// # Panics
    ///
    /// When the watch must be started outside a Tokio runtime.
    pub fn watch_prefix(&self, prefix: &str) -> Watch<Vec<KvPair>> {
        self.hub.watch(WatchSpec::kv_prefix(prefix))
    }

    /// Stops the watches made here and waits until their loops have ended
    /// (see [`WatchHub::shutdown`]).
    pub async fn shutdown(&self) {
        self.hub.shutdown().await;
    }
}
