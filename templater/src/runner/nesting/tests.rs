use super::*;

fn nested(n: usize, open: &str, close: &str, sep: &str, inner: &str) -> String {
    let mut s = String::with_capacity(n * (open.len() + close.len() + sep.len()));
    for _ in 0..n {
        s.push_str(open);
        s.push_str(sep);
    }
    s.push_str(inner);
    for _ in 0..n {
        s.push_str(close);
    }
    s
}

fn ifs(n: usize, inner: &str) -> String {
    nested(n, "{% if true %}", "{% endif %}", "", inner)
}

/// An expression of `levels` levels: parentheses around a chain of `+`.
fn expression(levels: usize) -> String {
    let ops = levels / 2;
    let parens = levels - ops;
    format!(
        "{{{{ {}{}{} }}}}",
        "(".repeat(parens),
        vec!["1"; ops + 1].join(" + "),
        ")".repeat(parens)
    )
}

/// A chain of `n` macros, each calling the next.
fn macro_chain(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "{{% macro m{i}() %}}{{{{ self::m{}() }}}}{{% endmacro m{i} %}}\n",
            i + 1
        ));
    }
    s.push_str(&format!(
        "{{% macro m{n}() %}}x{{% endmacro m{n} %}}\n{{{{ self::m0() }}}}"
    ));
    s
}

#[test]
fn ordinary_templates_pass() {
    let ok = [
        "plain text { not a tag } and {{ x }}",
        "{% for s in service(name=\"web\") %}{{ s.Address }}:{{ s.Port }}\n{% else %}none{% endfor %}",
        "{%- if a and (b or c) -%}{{ (1 + 2) * 3 | round }}{%- endif -%}",
        "{{ \"((((]]]] {% if %} and or\" }}{# {% if %} ((( #}",
        "{% raw %}{% if %}{% if %}((((((({% include 'x' %}{% endraw %}after",
        "{% macro a(n) %}{{ n }}{% endmacro a %}{% macro b(n) %}{{ self::a(n=n) }}{% endmacro b %}{{ self::b(n=1) }}",
        "{% filter upper %}{% block x %}y{% endblock x %}{% endfilter %}",
        "{{ \"unterminated",
    ];
    for t in ok {
        assert_eq!(check(t), Ok(()), "{t}");
    }
    assert_eq!(check(&ifs(MAX_NESTING, "")), Ok(()));
}

#[test]
fn a_hundred_thousand_levels_are_refused_with_the_line() {
    let n = 100_000;
    let e = check(&nested(n, "{% if true %}", "{% endif %}", "\n", "x")).unwrap_err();
    assert_eq!(e.line, MAX_NESTING + 1, "{e}");
    assert!(
        e.message
            .contains("blocks nested 101 levels deep, deeper than the limit of 100"),
        "{e}"
    );
    let e = check(&nested(n, "{% for a in b %}", "{% endfor %}", "", "x")).unwrap_err();
    assert_eq!(e.line, 1, "{e}");
    for (open, close) in [("(", ")"), ("[", "]")] {
        let t = format!("a\nb\n{{{{ {}1{} }}}}", open.repeat(n), close.repeat(n));
        let e = check(&t).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("an expression"), "{e}");
    }
    for op in [" + ", " and ", " * ", " == ", " ~ x - "] {
        let t = format!("{{% if {} %}}x{{% endif %}}", vec!["1"; n].join(op));
        let e = check(&t).unwrap_err();
        assert!(e.message.contains("an expression"), "{op}: {e}");
    }
    assert!(check(&ifs(MAX_NESTING + 1, "")).is_err());
    assert!(check(&ifs(MAX_NESTING / 2 + 1, &expression(MAX_NESTING / 2))).is_err());
    let e = check(&macro_chain(n)).unwrap_err();
    assert!(e.message.contains("the call of macro"), "{e}");
}

#[test]
fn recursive_macros_and_other_templates_are_refused() {
    let direct = "text\n{% macro m(n) %}{{ self::m(n=n+1) }}{% endmacro m %}{{ self::m(n=1) }}";
    let e = check(direct).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("macro `m` calls itself:"), "{e}");
    let indirect = "{% macro a(n) %}{% if n %}{{ self::b(n=n) }}{% endif %}{% endmacro a %}\n\
                    {% macro b(n) %}{% set x = self::c(n=n) %}{% endmacro b %}\n\
                    {% macro c(n) %}{{ self::a(n=n) }}{% endmacro c %}";
    let e = check(indirect).unwrap_err();
    assert!(
        e.message.contains("macro `a` calls itself (through b, c)"),
        "{e}"
    );
    for t in [
        "a\n{% include \"template 0\" %}",
        "a\n{%- extends \"template 1\" -%}",
        "a\n{% import \"template 2\" as m %}",
    ] {
        let e = check(t).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("is not supported"), "{e}");
    }
}

fn renders_on_a_two_mib_stack(t: String) -> String {
    assert_eq!(check(&t), Ok(()));
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut tera = tera::Tera::default();
            tera.add_raw_template("t", &t).map_err(|e| e.to_string())?;
            tera.render("t", &tera::Context::new())
                .map_err(|e| e.to_string())
        })
        .unwrap()
        .join()
        .unwrap()
        .unwrap()
}

/// The deepest templates the limit lets through parse and render on a
/// thread with a tokio worker's stack (2 MiB), even in a debug build.
#[test]
fn the_deepest_allowed_templates_render_on_a_two_mib_stack() {
    let half = MAX_NESTING / 2;
    let blocks_and_expression = ifs(half, &expression(MAX_NESTING - half));
    assert_eq!(
        renders_on_a_two_mib_stack(blocks_and_expression),
        (MAX_NESTING / 4 + 1).to_string()
    );
    assert_eq!(renders_on_a_two_mib_stack(ifs(MAX_NESTING, "x")), "x");
    // `in` and `[1]` are two levels of the tag of the innermost loop.
    let fors = nested(
        MAX_NESTING - 2,
        "{% for a in [1] %}",
        "{% endfor %}",
        "",
        "x",
    );
    assert_eq!(renders_on_a_two_mib_stack(fors), "x");
    assert_eq!(
        renders_on_a_two_mib_stack(expression(MAX_NESTING - 1)),
        (MAX_NESTING / 2).to_string()
    );
    // Each call is 2 levels (the macro and the call's parentheses), the
    // call at the top 1, the last macro 2.
    let chain = macro_chain(MAX_NESTING / 2 - 2);
    assert_eq!(renders_on_a_two_mib_stack(chain).trim(), "x");
    assert!(check(&macro_chain(MAX_NESTING / 2 - 1)).is_err());
}
