//! consul-template's query strings: `[tag.]name[?query][@dc][~near][|filter]`
//! for `service` and `connect`, `what[?query][@dc][~near]` for the others,
//! and the health filters.

use std::sync::LazyLock;

use super::At;

/// A parsed `[tag.]name[?query][@dc][~near][|filter]` (consul-template's
/// `service` and `connect` argument).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceQuery {
    /// Service name.
    pub name: String,
    /// Required tag.
    pub tag: Option<String>,
    /// `?query`, `@dc`, `~near`.
    pub at: At,
    /// `|filter` statuses (not yet normalized).
    pub filter: Vec<String>,
}

fn query_params(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !matches!(k, "ns" | "partition" | "peer" | "sameness-group") {
            return Err(format!(
                "unsupported query parameter {k:?}: use ns, partition, peer or sameness-group"
            ));
        }
        out.push((k.to_string(), v.to_string()));
    }
    let has = |k: &str| out.iter().any(|(n, _)| n == k);
    if has("peer") && has("sameness-group") {
        return Err("peer and sameness-group cannot be used together".into());
    }
    Ok(out)
}

/// consul-template's grammar of a `service` argument, compiled once.
static SERVICE_QUERY: LazyLock<Result<regex::Regex, regex::Error>> = LazyLock::new(|| {
    regex::Regex::new(
        r"\A(?:(?P<tag>[\w=:.\-]+)\.)?(?P<name>[\w\-]+)(?:\?(?P<query>[\w\-=&]+))?(?:@(?P<dc>[\w.\-]+))?(?:~(?P<near>[\w.\-]+))?(?:\|(?P<filter>[\w,]+))?\z",
    )
});

/// The grammar of the other functions' arguments, compiled once.
static SCOPED_QUERY: LazyLock<Result<regex::Regex, regex::Error>> = LazyLock::new(|| {
    regex::Regex::new(
        r"\A(?P<what>[^@?~]*)(?:\?(?P<query>[\w\-=&]+))?(?:@(?P<dc>[\w.\-]+))?(?:~(?P<near>[\w.\-]+))?\z",
    )
});

/// Parses consul-template's `[tag.]name[?query][@dc][~near][|filter]`.
pub fn parse_service_query(q: &str) -> Result<ServiceQuery, String> {
    let c = SERVICE_QUERY
        .as_ref()
        .map_err(|e| e.to_string())?
        .captures(q)
        .ok_or_else(|| {
            format!("invalid format: {q:?}: expected [tag.]name[?ns=..][@dc][~near][|filter]")
        })?;
    let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
    Ok(ServiceQuery {
        name: get("name").unwrap_or_default(),
        tag: get("tag"),
        at: At {
            query: query_params(&get("query").unwrap_or_default())?,
            dc: get("dc"),
            near: get("near"),
        },
        filter: get("filter")
            .map(|f| {
                f.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Parses `what[?query][@dc][~near]` as consul-template's KV, catalog and
/// node functions take it (`near` only where `allow_near`); `what` is
/// everything before `?` or `@` (a key may hold any other character).
pub fn parse_scoped(q: &str, allow_near: bool) -> Result<(String, At), String> {
    let c = SCOPED_QUERY
        .as_ref()
        .map_err(|e| e.to_string())?
        .captures(q)
        .ok_or_else(|| format!("invalid format: {q:?}: expected NAME[?ns=..][@dc]"))?;
    let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
    let near = get("near");
    if near.is_some() && !allow_near {
        return Err(format!(
            "invalid format: {q:?}: `~near` is not allowed here"
        ));
    }
    Ok((
        get("what").unwrap_or_default(),
        At {
            query: query_params(&get("query").unwrap_or_default())?,
            dc: get("dc"),
            near,
        },
    ))
}

/// The default and normalized health filter.
pub fn normalize_filter(mut f: Vec<String>) -> Result<Vec<String>, String> {
    if f.is_empty() {
        f.push("passing".into());
    }
    for s in &f {
        if !matches!(
            s.as_str(),
            "any" | "passing" | "warning" | "critical" | "maintenance"
        ) {
            return Err(format!(
                "unknown health filter {s:?}: use any, passing, warning, critical or maintenance"
            ));
        }
    }
    f.sort();
    f.dedup();
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::super::Dep;
    use super::*;

    #[test]
    fn keys_and_query_syntax() {
        let q =
            parse_service_query("v1.web?ns=team&partition=p@dc2~_agent|passing,warning").unwrap();
        assert_eq!(q.name, "web");
        assert_eq!(q.tag.as_deref(), Some("v1"));
        assert_eq!(q.at.dc.as_deref(), Some("dc2"));
        assert_eq!(q.at.near.as_deref(), Some("_agent"));
        assert_eq!(
            q.at.query,
            [
                ("ns".into(), "team".into()),
                ("partition".into(), "p".into())
            ]
        );
        assert_eq!(q.filter, ["passing", "warning"]);
        let q = parse_service_query("a.b.web").unwrap();
        assert_eq!((q.tag.as_deref(), q.name.as_str()), (Some("a.b"), "web"));
        assert!(parse_service_query("web?color=red")
            .unwrap_err()
            .contains("color"));
        assert!(parse_service_query("web?peer=a&sameness-group=b").is_err());
        assert!(parse_service_query("we b")
            .unwrap_err()
            .contains("invalid format"));
        let (path, at) = parse_scoped("app/config@dc2", false).unwrap();
        assert_eq!(
            (path.as_str(), at.dc.as_deref()),
            ("app/config", Some("dc2"))
        );
        assert!(parse_scoped("n~x", false).is_err());
        let d = Dep::Service {
            name: "web".into(),
            tag: None,
            at: At::default(),
            filter: normalize_filter(vec![]).unwrap(),
            connect: false,
        };
        assert_eq!(d.key(), "health.service(web|passing)");
        let d = Dep::Service {
            name: "web".into(),
            tag: Some("v1".into()),
            at: q_at(),
            filter: vec!["any".into()],
            connect: true,
        };
        assert_eq!(d.key(), "health.connect(v1.web?ns=a@dc2~n|any)");
        assert!(normalize_filter(vec!["healthy".into()]).is_err());
    }

    fn q_at() -> At {
        At {
            query: vec![("ns".into(), "a".into())],
            dc: Some("dc2".into()),
            near: Some("n".into()),
        }
    }
}
