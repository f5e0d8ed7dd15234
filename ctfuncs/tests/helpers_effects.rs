//! `plugin` and `writeToFile` against real programs and a real directory.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gotemplate::{Funcs, Options, Template, Value};

fn render(text: &str, timeout: Duration) -> Result<String, String> {
    let env = ctfuncs::Env {
        vars: Arc::new(Default::default()),
        plugin_timeout: timeout,
        ..ctfuncs::Env::default()
    };
    let mut f = Funcs::new();
    ctfuncs::helpers::install(&mut f, &env);
    Template::parse("t", text, &f, &Options::default())
        .and_then(|t| t.execute(&Value::Missing))
        .map_err(|e| e.to_string())
}

#[test]
fn plugin_runs_without_a_shell_with_the_piped_value_last() {
    let out = render(
        r#"{{ "  piped\n" | plugin "echo" " a " "" "b;c" }}"#,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(out, "a b;c piped");
    assert_eq!(
        render(r#"[{{ plugin "" }}]"#, Duration::from_secs(5)).unwrap(),
        "[]"
    );
}

#[test]
fn plugin_failure_carries_stdout_and_stderr() {
    let e = render(
        r#"{{ plugin "sh" "-c" "echo out; echo err >&2; exit 3" }}"#,
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(
        e.contains("exec \"sh\": exit status 3\n\nstdout:\n\nout\n\n\nstderr:\n\nerr\n"),
        "{e}"
    );
    let e = render(
        r#"{{ plugin "/nonexistent/plugin" }}"#,
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(e.contains("exec \"/nonexistent/plugin\""), "{e}");
}

#[test]
fn plugin_is_stopped_at_its_timeout_with_what_it_started() {
    let started = Instant::now();
    let e = render(
        r#"{{ plugin "sh" "-c" "sleep 30 & sleep 30" }}"#,
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert!(e.contains("did not finish in 0.3s"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn plugin_output_is_bounded() {
    let e = render(
        r#"{{ plugin "head" "-c" "20000000" "/dev/zero" }}"#,
        Duration::from_secs(20),
    )
    .unwrap_err();
    assert!(
        e.contains("wrote more than 16777216 bytes"),
        "{}",
        &e[..200.min(e.len())]
    );
}

#[test]
fn write_to_file_writes_appends_and_sets_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("new/sub/out.txt");
    let t = format!(
        r#"{{{{ "one" | writeToFile "{0}" "" "" "0640" }}}}{{{{ "two" | writeToFile "{0}" "" "" "0640" "append,newline" }}}}"#,
        p.display()
    );
    assert_eq!(render(&t, Duration::from_secs(5)).unwrap(), "");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "onetwo\n");
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    let bad = format!(
        r#"{{{{ "x" | writeToFile "{}" "" "" "rw" }}}}"#,
        p.display()
    );
    assert!(render(&bad, Duration::from_secs(5))
        .unwrap_err()
        .contains("invalid syntax"));
    let nobody = format!(
        r#"{{{{ "x" | writeToFile "{}" "no-such-user-here" "" "0644" }}}}"#,
        p.display()
    );
    assert!(render(&nobody, Duration::from_secs(5))
        .unwrap_err()
        .contains("unknown user no-such-user-here"));
}

#[test]
fn write_to_file_refuses_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let t = format!(
        r#"{{{{ "x" | writeToFile "{}" "" "" "0644" }}}}"#,
        link.display()
    );
    assert!(render(&t, Duration::from_secs(5))
        .unwrap_err()
        .contains("symlinked file"));
    let real_dir = dir.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let dir_link = dir.path().join("dirlink");
    std::os::unix::fs::symlink(&real_dir, &dir_link).unwrap();
    let t = format!(
        r#"{{{{ "x" | writeToFile "{}/f" "" "" "0644" }}}}"#,
        dir_link.display()
    );
    assert!(render(&t, Duration::from_secs(5))
        .unwrap_err()
        .contains("symlinked directory"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(!real_dir.join("f").exists());
}

#[test]
fn write_to_file_stays_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("box");
    std::fs::create_dir(&sandbox).unwrap();
    let env = ctfuncs::Env {
        sandbox: Some(sandbox.clone()),
        ..ctfuncs::Env::default()
    };
    let mut f = Funcs::new();
    ctfuncs::helpers::install(&mut f, &env);
    let run = |path: String| {
        let t = format!(r#"{{{{ "x" | writeToFile "{path}" "" "" "0644" }}}}"#);
        Template::parse("t", &t, &f, &Options::default())
            .and_then(|t| t.execute(&Value::Missing))
            .map_err(|e| e.to_string())
    };
    assert!(run(format!("{}/in/ok", sandbox.display())).is_ok());
    let e = run(format!("{}/../escape", sandbox.display())).unwrap_err();
    assert!(e.contains("outside of sandbox"), "{e}");
    assert!(!dir.path().join("escape").exists());
}
