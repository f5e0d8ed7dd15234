//! registrar: registers programs that cannot link `dcy` (nginx, haproxy, a
//! Python worker, a database) with Consul, so the rest of the toolkit sees
//! them like any `dcy` service.
//!
//! Three commands:
//!
//! - `registrar run [options] -- CMD ARGS...` starts a program, probes it
//!   every 20 ms until its port accepts connections (or its HTTP check
//!   answers 2xx), registers it with its checks already passing, forwards
//!   SIGINT/SIGTERM/SIGHUP, deregisters it when it exits and exits with its
//!   status; `--restart on-failure` restarts it with a capped backoff.
//! - `registrar sync DIR` keeps the agent in step with a directory of Consul
//!   service-definition files (JSON or HCL): one API call per changed
//!   service, a periodic comparison that re-registers what an agent restart
//!   lost, and never a touch to services it did not register.
//! - `registrar check DIR` validates the files offline and prints every
//!   problem as `file:line: message`.
//!
//! # Modules
//!
//! | Module | What it holds |
//! |---|---|
//! | [`cli`] | the clap structs and their validation into settings |
//! | [`app`] | the commands wired together (what `main` calls) |
//! | [`definition`] | parsing and validating definition files, with file:line problems |
//! | [`owners`] | which file keeps a service ID that several files define |
//! | [`check`] | the offline check |
//! | [`sync`] | the directory sync loop |
//! | [`run`] | supervising a program |
//! | [`probe`] | readiness probes |
//! | [`status`] | metrics, Consul reachability, `/health` and `/metrics` |
//! | [`validate`] | Consul's registration rules, and registrar's ownership marks |
//!
//! # Ownership
//!
//! Everything registrar registers carries meta `managed-by=registrar`
//! (`sync` adds `registrar-file` and `registrar-dir`); it deregisters or
//! replaces only services carrying its marks.
#![warn(missing_docs)]

pub mod app;
pub mod check;
pub mod cli;
pub mod definition;
pub mod error;
mod locate;
pub mod owners;
pub mod probe;
pub mod run;
mod scan;
pub mod status;
pub mod sync;
pub mod validate;
mod watch;

pub use error::{Error, Result};
