//! Limits and hostile input: nothing may overflow the stack, run for ever
//! or allocate without bound.

use super::*;

fn parse(text: &str) -> Result<Template, Error> {
    Template::parse("t", text, &Funcs::new(), &Options::default())
}

/// Runs `f` on a thread with a 2 MiB stack (tokio's worker size), as
/// templater renders.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn the_deepest_allowed_template_runs_on_a_small_stack() {
    let out = on_small_stack(|| {
        let n = MAX_DEPTH;
        // A simpler body: one action with nested parentheses.
        let body = format!(
            "{{{{ print {}1{} }}}}",
            "(".repeat(n / 2 - 1),
            ")".repeat(n / 2 - 1)
        );
        let mut text = String::new();
        for _ in 0..n / 2 {
            text.push_str("{{ if true }}");
        }
        text.push_str(&body);
        for _ in 0..n / 2 {
            text.push_str("{{ end }}");
        }
        let mut funcs = Funcs::new();
        funcs.add("list", 0, None, |_, a| Ok(Value::list(a.to_vec())));
        let t = Template::parse("t", &text, &funcs, &Options::default()).unwrap();
        t.execute(&Value::Missing).unwrap()
    });
    assert_eq!(out, "1");
}

#[test]
fn recursion_stops_at_the_call_limit_on_a_small_stack() {
    let e = on_small_stack(|| {
        let t =
            parse(r#"{{ define "r" }}x{{ template "r" . }}{{ end }}{{ template "r" }}"#).unwrap();
        t.execute(&Value::Missing).unwrap_err()
    });
    assert!(e.is_limit(), "{e}");
    assert!(
        e.to_string()
            .contains("exceeded maximum template depth (100)"),
        "{e}"
    );
}

#[test]
fn nesting_past_the_limit_is_an_error_with_its_line() {
    for text in [
        format!("a\n{}", "{{ if true }}\n".repeat(100_000)),
        format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000)),
        "{{ with 1 }}{{ range . }}".repeat(50_000),
    ] {
        let e = on_small_stack(move || parse(&text).unwrap_err());
        assert!(e.is_limit(), "{e}");
        assert!(
            e.message().contains("nesting deeper than 100 levels"),
            "{e}"
        );
    }
    let e = parse(&format!("a\n{}", "{{ if true }}\n".repeat(200))).unwrap_err();
    assert_eq!(e.line(), 102, "the line where the limit was passed: {e}");
}

#[test]
fn steps_and_output_are_bounded() {
    let opts = Options {
        max_steps: 10_000,
        ..Options::default()
    };
    let mut funcs = Funcs::new();
    funcs.add_fixed("big", 0, |_| Ok(Value::Int(1_000_000_000)));
    let t = Template::parse("t", "{{ range big }}x{{ end }}", &funcs, &opts).unwrap();
    let e = t.execute(&Value::Missing).unwrap_err();
    assert!(
        e.is_limit() && e.message().contains("10000 evaluation steps"),
        "{e}"
    );
    let opts = Options {
        max_output: 1000,
        ..Options::default()
    };
    let t = Template::parse("t", "{{ range 2000 }}x{{ end }}", &Funcs::new(), &opts).unwrap();
    let e = t.execute(&Value::Missing).unwrap_err();
    assert!(
        e.is_limit() && e.message().contains("output larger than 1000 bytes"),
        "{e}"
    );
}

#[test]
fn odd_input_never_panics() {
    for text in [
        "{{",
        "}}",
        "{{-",
        "{{- -}}",
        "{{ . . }}",
        "{{ $ }}",
        "{{ $x }}",
        "{{ ( }}",
        "{{ ) }}",
        "{{ \"\\",
        "{{ 'ab' }}",
        "{{ 0x }}",
        "{{ 1e }}",
        "{{ .A. }}",
        "{{ else }}",
        "{{ end }}",
        "{{ range }}",
        "{{ define }}",
        "{{ define \"x\" }}",
        "{{ template }}",
        "{{ block \"b\" }}",
        "{{ if 1 }}{{ else if }}{{ end }}",
        "{{/*",
        "{{/* */",
        "{{ nil.X }}",
        "{{ (1).X }}",
        "{{ printf \"%[0]d\" 1 }}",
        "{{ printf \"%[99]d\" 1 }}",
        "{{ printf \"%*d\" \"x\" 1 }}",
        "{{ printf \"%.*d\" -1 1 }}",
        "{{ printf \"%\" }}",
        "{{ slice \"abc\" 2 1 }}",
        "{{ index 1 1 }}",
        "{{ len nil }}",
        "{{ \"é\" | printf \"%x\" }}",
        "{{ 99999999999999999999 }}",
        "{{ -9223372036854775808 }}",
        "{{ 0x1p-1074 }}",
        "\u{0}{{ \"\u{0}\" }}",
    ] {
        let r = parse(text).and_then(|t| t.execute(&Value::Missing));
        let _ = r.map_err(|e| e.to_string());
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_text_parses_or_fails_cleanly(s in "(\\{\\{|\\}\\}|[-$. ()|\"'`a-z0-9=:,]|\\{\\{-|-\\}\\}|if|end|range|else|with|define|template|block|printf|index|\\n){0,40}") {
            let r = parse(&s).and_then(|t| t.execute(&Value::Missing));
            let _ = r.map_err(|e| e.to_string());
        }
    }
}

#[test]
fn recursion_through_deep_nesting_stops_before_the_stack_does() {
    let e = on_small_stack(|| {
        let body = format!(
            "{}{{{{ template \"r\" (print (print (print 1))) }}}}{}",
            "{{ if true }}{{ with 1 }}".repeat(48),
            "{{ end }}{{ end }}".repeat(48)
        );
        let text = format!("{{{{ define \"r\" }}}}{body}{{{{ end }}}}{{{{ template \"r\" }}}}");
        let t = parse(&text).unwrap();
        t.execute(&Value::Missing).unwrap_err()
    });
    assert!(e.is_limit(), "{e}");
    assert!(e.message().contains("nested deeper than 500 levels"), "{e}");
}

#[test]
fn values_nested_past_the_limit_are_an_error_not_a_crash() {
    let e = on_small_stack(|| {
        let mut funcs = Funcs::new();
        funcs.add("list", 0, None, |_, a| Ok(Value::list(a.to_vec())));
        let t = Template::parse(
            "t",
            "{{ $l := list }}{{ range 100000 }}{{ $l = list $l }}{{ end }}{{ $l }}",
            &funcs,
            &Options::default(),
        )
        .unwrap();
        t.execute(&Value::Missing).unwrap_err()
    });
    assert!(
        e.is_limit() && e.message().contains("nested deeper than 1000 levels"),
        "{e}"
    );
}
