//! The README's figures have one source each: a line of the Figures table
//! whose "How" cell names a results file (`` `devagent-scale.md` ``, in
//! `benches/results/`; "same" keeps the line above's files) quotes it, so
//! every number of its "Measured" cell must be a number of that file. A
//! figure rounded, converted or remembered from another run fails here;
//! re-running a bench changes the file, and this test says which README
//! numbers no longer match.

use std::collections::HashSet;
use std::path::Path;

const README: &str = include_str!("../../README.md");

/// The numbers of `text`, thousands separators removed (`10,000` and
/// `10000` are the same number, and a sign is not part of it); a digit
/// run inside a word (`p99`, `-c64`, `IPv4`) is not a number.
fn numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let mut n = String::new();
        while i < chars.len() {
            let c = chars[i];
            let next_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() || (c == '.' && next_digit) {
                n.push(c);
            } else if c != ',' || !next_digit {
                break;
            }
            i += 1;
        }
        out.push(n);
    }
    out
}

/// The cells of a table row (`| a | b |`; a `|` inside a code span is text).
fn cells(line: &str) -> Vec<&str> {
    let row = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = Vec::new();
    let (mut start, mut code) = (0, false);
    for (i, c) in row.char_indices() {
        match c {
            '`' => code = !code,
            '|' if !code => {
                out.push(row[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(row[start..].trim());
    out
}

/// The results files a "How" cell names (code spans ending in `.md`).
fn named_files(how: &str) -> Vec<String> {
    how.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.ends_with(".md"))
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
        .collect()
}

#[test]
fn figures_that_name_their_results_file_quote_it() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/results");
    let section = README
        .split_once("\n## Figures\n")
        .map(|(_, s)| s.split("\n## ").next().unwrap_or(s))
        .expect("README.md has a ## Figures section");
    let mut files: Vec<String> = Vec::new();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let row = cells(line);
        let [figure, _target, measured, how] = row[..] else {
            continue;
        };
        if how != "same" {
            files = named_files(how);
        }
        if files.is_empty() {
            continue;
        }
        let mut known = HashSet::new();
        for f in &files {
            let path = results.join(f);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "README figure {figure:?} names {}, which cannot be read: {e}",
                    path.display()
                )
            });
            known.extend(numbers(&text));
        }
        for n in numbers(measured) {
            if !known.contains(&n) {
                wrong.push(format!("{figure}: {n} is not in {}", files.join(", ")));
            }
        }
        checked += 1;
    }
    assert!(
        wrong.is_empty(),
        "README figures that their results file does not say (re-run the bench or quote the file):\n{}",
        wrong.join("\n")
    );
    assert!(
        checked >= 10,
        "only {checked} README figures name their results file"
    );
}

#[test]
fn numbers_and_cells_are_read_as_written() {
    assert_eq!(
        numbers("1.157× (1.14–1.17): 149,770 req/s, p99 0.07 ms, -c64, −2.1 %, 9900 of 10,000."),
        ["1.157", "1.14", "1.17", "149770", "0.07", "2.1", "9900", "10000"]
    );
    assert_eq!(
        cells("| a `x|y` | | 1 |"),
        ["a `x|y`", "", "1"],
        "an empty cell is a cell; a | in code is text"
    );
}
