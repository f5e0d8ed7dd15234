//! The Sprig functions whose output Go cannot give twice the same (random
//! strings, UUIDs, bcrypt, the clock, DNS), checked by shape; the limits
//! that keep a call from allocating without bound; and the full list of
//! names against Sprig 3.2.3's `genericMap`.
#![allow(clippy::unwrap_used)]

use gotemplate::{Funcs, Options, Template, Value};

/// Every name in Sprig 3.2.3's functions.go `genericMap`.
const SPRIG_NAMES: &[&str] = &[
    "abbrev",
    "abbrevboth",
    "add",
    "add1",
    "add1f",
    "addf",
    "adler32sum",
    "ago",
    "all",
    "any",
    "append",
    "atoi",
    "b32dec",
    "b32enc",
    "b64dec",
    "b64enc",
    "base",
    "bcrypt",
    "biggest",
    "buildCustomCert",
    "camelcase",
    "cat",
    "ceil",
    "chunk",
    "clean",
    "coalesce",
    "compact",
    "concat",
    "contains",
    "date",
    "dateInZone",
    "dateModify",
    "date_in_zone",
    "date_modify",
    "decryptAES",
    "deepCopy",
    "deepEqual",
    "default",
    "derivePassword",
    "dict",
    "dig",
    "dir",
    "div",
    "divf",
    "duration",
    "durationRound",
    "empty",
    "encryptAES",
    "env",
    "expandenv",
    "ext",
    "fail",
    "first",
    "float64",
    "floor",
    "fromJson",
    "genCA",
    "genCAWithKey",
    "genPrivateKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "get",
    "getHostByName",
    "has",
    "hasKey",
    "hasPrefix",
    "hasSuffix",
    "hello",
    "htmlDate",
    "htmlDateInZone",
    "htpasswd",
    "indent",
    "initial",
    "initials",
    "int",
    "int64",
    "isAbs",
    "join",
    "kebabcase",
    "keys",
    "kindIs",
    "kindOf",
    "last",
    "list",
    "lower",
    "max",
    "maxf",
    "merge",
    "mergeOverwrite",
    "min",
    "minf",
    "mod",
    "mul",
    "mulf",
    "mustAppend",
    "mustChunk",
    "mustCompact",
    "mustDateModify",
    "mustDeepCopy",
    "mustFirst",
    "mustFromJson",
    "mustHas",
    "mustInitial",
    "mustLast",
    "mustMerge",
    "mustMergeOverwrite",
    "mustPrepend",
    "mustPush",
    "mustRegexFind",
    "mustRegexFindAll",
    "mustRegexMatch",
    "mustRegexReplaceAll",
    "mustRegexReplaceAllLiteral",
    "mustRegexSplit",
    "mustRest",
    "mustReverse",
    "mustSlice",
    "mustToDate",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "mustUniq",
    "mustWithout",
    "must_date_modify",
    "nindent",
    "nospace",
    "now",
    "omit",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "pick",
    "pluck",
    "plural",
    "prepend",
    "push",
    "quote",
    "randAlpha",
    "randAlphaNum",
    "randAscii",
    "randBytes",
    "randInt",
    "randNumeric",
    "regexFind",
    "regexFindAll",
    "regexMatch",
    "regexQuoteMeta",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "repeat",
    "replace",
    "rest",
    "reverse",
    "round",
    "semver",
    "semverCompare",
    "seq",
    "set",
    "sha1sum",
    "sha256sum",
    "shuffle",
    "slice",
    "snakecase",
    "sortAlpha",
    "split",
    "splitList",
    "splitn",
    "squote",
    "sub",
    "subf",
    "substr",
    "swapcase",
    "ternary",
    "title",
    "toDate",
    "toDecimal",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "toString",
    "toStrings",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trimall",
    "trunc",
    "tuple",
    "typeIs",
    "typeIsLike",
    "typeOf",
    "uniq",
    "unixEpoch",
    "unset",
    "until",
    "untilStep",
    "untitle",
    "upper",
    "urlJoin",
    "urlParse",
    "uuidv4",
    "values",
    "without",
    "wrap",
    "wrapWith",
];

fn render(text: &str) -> Result<String, String> {
    let mut funcs = Funcs::new();
    ctfuncs::sprig::install(&mut funcs, "sprig_");
    Template::parse("shape", text, &funcs, &Options::default())
        .and_then(|t| t.execute(&Value::Missing))
        .map_err(|e| e.to_string())
}

#[test]
fn every_sprig_name_is_there_and_no_other() {
    let mut want: Vec<&str> = SPRIG_NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(ctfuncs::sprig::names(), want);
    assert_eq!(want.len(), 210);
}

#[test]
fn random_strings_have_their_length_and_alphabet() {
    let out = render(r#"{{ sprig_randAlpha 64 }} {{ sprig_randAlphaNum 64 }} {{ sprig_randNumeric 64 }} {{ sprig_randAscii 64 }}"#).unwrap();
    let parts: Vec<&str> = out.splitn(4, ' ').collect();
    assert!(parts[0].len() == 64 && parts[0].bytes().all(|c| c.is_ascii_alphabetic()));
    assert!(parts[1].len() == 64 && parts[1].bytes().all(|c| c.is_ascii_alphanumeric()));
    assert!(parts[2].len() == 64 && parts[2].bytes().all(|c| c.is_ascii_digit()));
    assert!(parts[3].len() == 64 && parts[3].bytes().all(|c| (32..127).contains(&c)));
    // Two draws differ (64 letters: a repeat is a broken source).
    let a = render("{{ sprig_randAlphaNum 64 }}").unwrap();
    let b = render("{{ sprig_randAlphaNum 64 }}").unwrap();
    assert_ne!(a, b);
    let bytes = render("{{ sprig_randBytes 30 }}").unwrap();
    assert_eq!(bytes.len(), 40, "{bytes}");
    for _ in 0..50 {
        let n: i64 = render("{{ sprig_randInt -3 3 }}").unwrap().parse().unwrap();
        assert!((-3..3).contains(&n), "{n}");
    }
    let mut s: Vec<char> = render(r#"{{ sprig_shuffle "abcdefé🚀" }}"#)
        .unwrap()
        .chars()
        .collect();
    s.sort_unstable();
    let mut want: Vec<char> = "abcdefé🚀".chars().collect();
    want.sort_unstable();
    assert_eq!(s, want);
}

#[test]
fn uuid_now_and_bcrypt_have_go_s_shapes() {
    let u = render("{{ sprig_uuidv4 }}").unwrap();
    let b = u.as_bytes();
    assert_eq!(u.len(), 36, "{u}");
    assert!(b[8] == b'-' && b[13] == b'-' && b[18] == b'-' && b[23] == b'-' && b[14] == b'4');
    assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{u}");
    // time.Now().String(): "2006-01-02 15:04:05.999999999 -0700 MST m=+0.000000001"
    let now = render("{{ sprig_now }}").unwrap();
    let (wall, mono) = now.split_once(" m=+").unwrap();
    assert!(mono.split_once('.').unwrap().1.len() == 9, "{now}");
    assert_eq!(&wall[4..5], "-");
    assert!(wall.contains(':'), "{now}");
    let year: i64 = render("{{ (sprig_now).Year }}").unwrap().parse().unwrap();
    assert!(year >= 2024);
    let h = render(r#"{{ sprig_bcrypt "password" }}"#).unwrap();
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    let h = render(r#"{{ sprig_htpasswd "admin" "pw" }}"#).unwrap();
    assert!(h.starts_with("admin:$2a$10$"), "{h}");
    let round = render(r#"{{ sprig_encryptAES "k3y" "hello" | sprig_decryptAES "k3y" }}"#).unwrap();
    assert_eq!(round, "hello");
    assert_eq!(render(r#"{{ sprig_ago (sprig_now) }}"#).unwrap(), "0s");
    let ago = render(r#"{{ sprig_ago 0 }}"#).unwrap();
    assert!(ago.ends_with('s') && ago.contains('h'), "{ago}");
    let d = render(r#"{{ sprig_date "2006" (sprig_now) }}"#).unwrap();
    assert_eq!(d, year.to_string());
}

#[test]
fn get_host_by_name_resolves_localhost_to_loopback() {
    let ip = render(r#"{{ sprig_getHostByName "localhost" }}"#).unwrap();
    let ip: std::net::IpAddr = ip.parse().unwrap();
    assert!(ip.is_loopback(), "{ip}");
    // An empty name fails in the resolver itself, without asking a server.
    let e = render(r#"{{ sprig_getHostByName "" }}"#).unwrap_err();
    assert!(
        e.contains("error calling sprig_getHostByName: lookup :"),
        "{e}"
    );
}

#[test]
fn huge_counts_fail_instead_of_allocating() {
    for (text, what) in [
        (r#"{{ sprig_repeat 100000000000 "ab" }}"#, "bytes"),
        (r#"{{ sprig_randAlpha 100000000000 }}"#, "bytes"),
        (r#"{{ sprig_randBytes 100000000000 }}"#, "bytes"),
        (r#"{{ sprig_indent 100000000000 "a" }}"#, "bytes"),
        (r#"{{ sprig_until 100000000000 }}"#, "elements"),
        (
            r#"{{ sprig_untilStep 0 9000000000000000000 1 }}"#,
            "elements",
        ),
        (r#"{{ sprig_seq 100000000000 }}"#, "elements"),
        (
            r#"{{ sprig_regexReplaceAll "" (sprig_repeat 1000000 "a") (sprig_repeat 100 "b") }}"#,
            "bytes",
        ),
        (
            r#"{{ sprig_replace "" (sprig_repeat 100 "b") (sprig_repeat 1000000 "a") }}"#,
            "bytes",
        ),
    ] {
        let e = render(text).unwrap_err();
        assert!(
            e.contains("over the limit") && e.contains(what),
            "{text}: {e}"
        );
    }
    let deep = format!("{{{{ sprig_mustFromJson \"{}\" }}}}", "[".repeat(5000));
    assert!(render(&deep).unwrap_err().contains("exceeded max depth"));
}
