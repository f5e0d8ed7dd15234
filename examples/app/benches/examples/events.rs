//! What dcy's HTTP client and the app log, recorded for figure 2.

use super::*;

/// When, and the error.
pub(crate) type Logged = (Instant, String);

#[derive(Debug, Default)]
pub(crate) struct Events {
    /// `retrying on another instance` (dcy::http, debug).
    pub(crate) retries: Vec<Logged>,
    /// `round failed` (app, warn).
    pub(crate) failures: Vec<Logged>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Recorder(pub(crate) Arc<Mutex<Events>>);

#[derive(Default)]
pub(crate) struct Fields {
    pub(crate) message: String,
    pub(crate) error: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "error" => self.error = value.to_string(),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let now = Instant::now();
        let mut f = Fields::default();
        event.record(&mut f);
        let target = event.metadata().target();
        let mut ev = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if target.starts_with("dcy::http") && f.message.contains("retrying") {
            ev.retries.push((now, f.error));
        } else if target.starts_with("app") && f.message.contains("round failed") {
            ev.failures.push((now, f.error));
        }
    }
}

impl Recorder {
    pub(crate) fn install() -> Recorder {
        let r = Recorder::default();
        let only = tracing_subscriber::filter::Targets::new()
            .with_target("dcy::http", tracing::Level::DEBUG)
            .with_target("app", tracing::Level::WARN);
        tracing_subscriber::registry()
            .with(r.clone().with_filter(only))
            .init();
        r
    }

    /// Events from `since` on: (retries, failures).
    pub(crate) fn since(&self, since: Instant) -> (Vec<Logged>, Vec<Logged>) {
        let ev = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pick = |v: &Vec<Logged>| {
            v.iter()
                .filter(|(t, _)| *t >= since)
                .cloned()
                .collect::<Vec<_>>()
        };
        (pick(&ev.retries), pick(&ev.failures))
    }
}
