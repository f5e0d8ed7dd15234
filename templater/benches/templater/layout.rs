//! The layout: 1,000 templates over 100 keys.

use super::*;

pub(crate) fn key_name(k: usize) -> String {
    format!("bench/k{k:02}")
}

/// The keys template `i` reads: distinct, and `i % 100` among them so every key is read.
pub(crate) fn keys_of(i: usize) -> [usize; KEYS_PER_TEMPLATE] {
    let a = i % DEPS;
    let mut b = (i * 37 + 11) % DEPS;
    if b == a {
        b = (b + 1) % DEPS;
    }
    let mut c = (i * 53 + 29) % DEPS;
    // At most two steps: only a and b are taken.
    for _ in 0..3 {
        if c != a && c != b {
            break;
        }
        c = (c + 1) % DEPS;
    }
    [a, b, c]
}

/// The line of template output that shows key `k` holds `value`.
pub(crate) fn marker(k: usize, value: &str) -> String {
    format!("k{k:02}={value}\n")
}

/// Templates reading each key.
pub(crate) fn users() -> Vec<Vec<usize>> {
    let mut users = vec![Vec::new(); DEPS];
    for i in 0..TEMPLATES {
        for k in keys_of(i) {
            users[k].push(i);
        }
    }
    users
}

pub(crate) struct Layout {
    pub(crate) config: PathBuf,
    pub(crate) out: PathBuf,
}

impl Layout {
    pub(crate) fn dest(&self, i: usize) -> PathBuf {
        self.out.join(format!("t{i:04}.conf"))
    }

    /// Writes the templates and the config file; `command` and `wait` go into every template block
    /// and the top level respectively.
    pub(crate) fn create(dir: &Path, command: Option<&str>, wait: bool) -> Result<Layout> {
        let tmpl = dir.join("tmpl");
        let out = dir.join("out");
        let cfg = dir.join("cfg");
        for d in [&tmpl, &out, &cfg] {
            std::fs::create_dir_all(d)
                .map_err(|e| err(format!("creating {}: {e}", d.display())))?;
        }
        let layout = Layout {
            config: cfg.join("templater.hcl"),
            out,
        };
        let mut hcl = String::new();
        if wait {
            let _ = writeln!(
                hcl,
                "wait {{\n  min = \"{WAIT_MIN}\"\n  max = \"{WAIT_MAX}\"\n}}\n"
            );
        }
        for i in 0..TEMPLATES {
            let src = tmpl.join(format!("t{i:04}.tmpl"));
            let mut text = format!("# template {i}\n");
            for k in keys_of(i) {
                let _ = writeln!(text, "k{k:02}={{{{ key(path=\"{}\") }}}}", key_name(k));
            }
            std::fs::write(&src, text)
                .map_err(|e| err(format!("writing {}: {e}", src.display())))?;
            let _ = writeln!(
                hcl,
                "template {{\n  source = \"{}\"\n  destination = \"{}\"",
                src.display(),
                layout.dest(i).display()
            );
            if let Some(c) = command {
                let _ = writeln!(hcl, "  command = \"{c}\"");
            }
            hcl.push_str("}\n");
        }
        std::fs::write(&layout.config, hcl)
            .map_err(|e| err(format!("writing {}: {e}", layout.config.display())))?;
        Ok(layout)
    }

    /// Whether template `i`'s output shows every key at `value(k)`.
    pub(crate) fn shows(&self, i: usize, value: &dyn Fn(usize) -> String) -> bool {
        let Ok(text) = std::fs::read_to_string(self.dest(i)) else {
            return false;
        };
        keys_of(i)
            .iter()
            .all(|&k| text.contains(&marker(k, &value(k))))
    }

    /// Polls (every 50 ms, at most `limit`) until every output shows `value`.
    pub(crate) async fn wait_all(
        &self,
        limit: Duration,
        value: &dyn Fn(usize) -> String,
    ) -> Result<()> {
        let started = Instant::now();
        let mut done = vec![false; TEMPLATES];
        let mut left = TEMPLATES;
        while started.elapsed() < limit {
            for (i, d) in done.iter_mut().enumerate() {
                if !*d && self.shows(i, value) {
                    *d = true;
                    left -= 1;
                }
            }
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(err(format!(
            "{left} of {TEMPLATES} outputs in {} did not show the expected values within {limit:?}",
            self.out.display()
        )))
    }
}
