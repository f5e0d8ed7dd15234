use std::path::{Path, PathBuf};

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn hcl_and_json_files_merge_and_templates_append() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.hcl",
        r#"
consul {
  address = "127.0.0.1:8500"
  retry {
backoff = "500ms"
max_backoff = "10s"
  }
}
wait { min = "2s" max = "10s" }
template {
  source = "in.tmpl"
  destination = "out.conf"
  command = "nginx -s reload"
  perms = "0600"
}
template {
  contents = "x"
  destination = "b.conf"
  wait = "1s"
}
"#,
    );
    write(
        dir.path(),
        "b.json",
        r#"{"template": {"source": "c.tmpl", "destination": "c.conf", "backup": true}, "max_stale": "0s"}"#,
    );
    let cfg = Config::from_files(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(cfg.templates.len(), 3);
    assert_eq!(cfg.templates[0].command, ["nginx -s reload"]);
    assert_eq!(cfg.templates[0].perms, Some(0o600));
    assert_eq!(
        cfg.templates[1].wait,
        Some(Wait {
            min: Duration::from_secs(1),
            max: Duration::from_secs(4)
        })
    );
    assert!(cfg.templates[2].backup);
    assert_eq!(
        cfg.wait,
        Some(Wait {
            min: Duration::from_secs(2),
            max: Duration::from_secs(10)
        })
    );
    assert_eq!(cfg.consul.retry_max_backoff, Some(Duration::from_secs(10)));
    assert_eq!(cfg.max_stale, Duration::ZERO);
}

#[test]
fn errors_name_the_file_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bad.hcl",
        "template {\n  source = \"a\"\n  destinaton = \"b\"\n}\n",
    );
    let e = Config::from_files(&[f]).unwrap_err().to_string();
    assert!(e.contains("bad.hcl:3") && e.contains("destinaton"), "{e}");
    let f = write(dir.path(), "broken.hcl", "template {\n  source = \n");
    let e = Config::from_files(&[f]).unwrap_err().to_string();
    assert!(e.contains("broken.hcl") && e.contains("invalid HCL"), "{e}");
    let f = write(dir.path(), "v.hcl", "vault {\n  address = \"x\"\n}\n");
    assert!(Config::from_files(&[f])
        .unwrap_err()
        .to_string()
        .contains("not supported"));
    let f = write(dir.path(), "w.hcl", "wait = \"10s:1s\"\n");
    assert!(Config::from_files(&[f])
        .unwrap_err()
        .to_string()
        .contains("min is larger"));
    let f = write(
        dir.path(),
        "p.json",
        "{\"template\": {\"source\": \"a\", \"perms\": \"0999\"}}",
    );
    assert!(Config::from_files(&[f])
        .unwrap_err()
        .to_string()
        .contains("octal"));
    assert!(Config::from_files(&[dir.path().join("missing.hcl")]).is_err());
}

#[test]
fn template_flags() {
    let t = parse_template_flag("in.tmpl:/etc/out.conf:nginx -s reload").unwrap();
    assert_eq!(t.source.unwrap(), PathBuf::from("in.tmpl"));
    assert_eq!(t.destination.unwrap(), PathBuf::from("/etc/out.conf"));
    assert_eq!(t.command, ["nginx -s reload"]);
    let t = parse_template_flag("C:\\in.tmpl:C").unwrap();
    assert_eq!(t.source.unwrap(), PathBuf::from("C:\\in.tmpl"));
    let t = parse_template_flag("a:b:sh -c 'x:y'").unwrap();
    assert_eq!(t.command, ["sh -c 'x:y'"]);
    assert!(parse_template_flag("").is_err());
    assert_eq!(Wait::parse("5s").unwrap().max, Duration::from_secs(20));
}
