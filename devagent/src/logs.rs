//! The agent's log stream, for `/v1/agent/monitor`: every `tracing` event of
//! the process (through [`LogHub::layer`], installed by the binary) and the
//! agent's own request lines, fanned out to the monitors connected now.
//! Nothing is kept: a line no monitor reads is dropped, and a monitor that
//! falls behind by more than [`LOG_BUFFER`] lines loses the oldest.

use std::fmt::Write as _;
use std::sync::Arc;

use tokio::sync::broadcast;

/// Lines a slow monitor may fall behind before it loses the oldest.
pub const LOG_BUFFER: usize = 1024;
/// Longest line sent; the rest is cut.
const LINE_MAX: usize = 16 * 1024;

/// A log level, ordered from the most to the least verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
}

impl LogLevel {
    /// Consul's level names (`trace`, `debug`, `info`, `warn`, `err`/`error`), any case.
    pub fn parse(s: &str) -> Option<LogLevel> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Some(LogLevel::Trace),
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warn),
            "err" | "error" => Some(LogLevel::Error),
            _ => None,
        }
    }

    /// The upper-case name hclog prints.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    fn from_tracing(l: &tracing::Level) -> LogLevel {
        match *l {
            tracing::Level::TRACE => LogLevel::Trace,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::ERROR => LogLevel::Error,
        }
    }
}

/// One log line.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// When it was logged.
    pub time: chrono::DateTime<chrono::Utc>,
    /// Its level.
    pub level: LogLevel,
    /// The module (`agent.http`, or the Rust target).
    pub module: String,
    /// The message with its fields (`key=value`).
    pub message: String,
}

impl LogLine {
    /// hclog's text form: `2026-01-01T00:00:00.000Z [INFO]  agent: message`.
    pub fn text(&self) -> String {
        format!(
            "{} [{}] {:>width$}{}: {}\n",
            self.time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.level.as_str(),
            "",
            self.module,
            self.message,
            width = 5usize.saturating_sub(self.level.as_str().len()),
        )
    }

    /// hclog's JSON form (`?logjson`).
    pub fn json(&self) -> String {
        let mut s = serde_json::json!({
            "@level": self.level.as_str().to_ascii_lowercase(),
            "@message": self.message,
            "@module": self.module,
            "@timestamp": self.time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        })
        .to_string();
        s.push('\n');
        s
    }
}

/// The fan-out of log lines to monitors. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LogHub {
    tx: broadcast::Sender<Arc<LogLine>>,
}

impl Default for LogHub {
    fn default() -> Self {
        LogHub::new()
    }
}

impl LogHub {
    /// A hub with no monitor.
    pub fn new() -> LogHub {
        LogHub {
            tx: broadcast::channel(LOG_BUFFER).0,
        }
    }

    /// Whether any monitor listens (lines are not even formatted otherwise).
    pub fn listening(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends a line to the monitors connected now.
    pub fn publish(&self, level: LogLevel, module: &str, message: String) {
        if !self.listening() {
            return;
        }
        let mut message = message;
        if message.len() > LINE_MAX {
            let mut end = LINE_MAX;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let _ = self.tx.send(Arc::new(LogLine {
            time: chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()),
            level,
            module: module.to_string(),
            message,
        }));
    }

    /// Monitors connected now.
    pub(crate) fn receivers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// A new monitor.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.tx.subscribe()
    }

    /// A `tracing` layer sending every event of the process to this hub.
    pub fn layer(&self) -> HubLayer {
        HubLayer { hub: self.clone() }
    }
}

/// See [`LogHub::layer`].
#[derive(Debug)]
pub struct HubLayer {
    hub: LogHub,
}

struct Fields(String, String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.1, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.1, " {}={value}", field.name());
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for HubLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if !self.hub.listening() {
            return;
        }
        let meta = event.metadata();
        let mut f = Fields(String::new(), String::new());
        event.record(&mut f);
        let module = meta.target().replace("::", ".");
        self.hub.publish(
            LogLevel::from_tracing(meta.level()),
            &module,
            format!("{}{}", f.0, f.1),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_lines() {
        assert_eq!(LogLevel::parse("ERR"), Some(LogLevel::Error));
        assert_eq!(LogLevel::parse("Debug"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("loud"), None);
        let line = LogLine {
            time: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
            level: LogLevel::Info,
            module: "agent".into(),
            message: "hi".into(),
        };
        assert_eq!(line.text(), "1970-01-01T00:00:00.000Z [INFO]  agent: hi\n");
        let j: serde_json::Value = serde_json::from_str(&line.json()).unwrap_or_default();
        assert_eq!(j["@level"], "info");
        assert_eq!(j["@module"], "agent");
    }
}
