//! What a request's URL names, and the request to a picked instance in its
//! place: plain service URLs (`http://worker/x`) are rewritten by
//! concatenation, anything else through the URL parser.

use reqwest::Method;

use crate::error::{Error, ErrorKind, Result};
use crate::instance::{rewrite, service_name, Instance};

/// What a request's URL names.
pub(super) enum Target<'a> {
    /// `scheme://name/rest` with a plain lowercase service name: rewritten
    /// by concatenation, without parsing the URL twice (the common case).
    Fast {
        /// The whole URL.
        url: &'a str,
        /// `http://` or `https://`.
        scheme: &'a str,
        name: &'a str,
        /// Path, query and fragment, from the first `/`, `?` or `#`.
        rest: &'a str,
    },
    /// A service name in a URL that needs the URL parser.
    Parsed(url::Url, String),
    /// Not a service name: sent as it is.
    Other(url::Url),
}

impl<'a> Target<'a> {
    /// The fast form of `url`, if it has one.
    pub(super) fn of(url: &'a str) -> Option<Target<'a>> {
        // Prefixes and bytes, not `split_once` and `find`: a string searcher
        // costs more to set up than this whole function.
        let (scheme, after) = if let Some(after) = url.strip_prefix("http://") {
            ("http://", after)
        } else if let Some(after) = url.strip_prefix("https://") {
            ("https://", after)
        } else {
            return None;
        };
        let end = after
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(after.len());
        let (host, rest) = after.split_at(end);
        let plain = host.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        // Anything the URL parser would rewrite (spaces, backslashes,
        // non-ASCII, dot segments) takes the parser's path.
        let clean = rest.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            && !rest.contains("/.")
            && (rest.is_empty() || rest.starts_with('/'));
        if !plain || !clean {
            return None;
        }
        let name = service_name(host)?;
        Some(Target::Fast {
            url,
            scheme,
            name,
            rest,
        })
    }

    /// A request to `inst` in place of the service name.
    pub(super) fn request(
        &self,
        http: &reqwest::Client,
        method: &Method,
        inst: &Instance,
    ) -> Result<reqwest::RequestBuilder> {
        match self {
            Target::Fast {
                url, scheme, rest, ..
            } => {
                let rest = if rest.is_empty() { "/" } else { rest };
                let Some(authority) = inst.dial() else {
                    let mut parsed = url::Url::parse(url).map_err(|e| {
                        Error::new(ErrorKind::InvalidInput, format!("invalid URL {url:?}: {e}"))
                    })?;
                    rewrite(&mut parsed, inst)?;
                    return Ok(http.request(method.clone(), parsed));
                };
                // Built in a buffer of the right size: `format!` grows its
                // string step by step, and those reallocations cost more than
                // everything else discovery does for a request (about 1.5 µs
                // a request with 8 callers on 2 cores, glibc malloc).
                let mut to = String::with_capacity(scheme.len() + authority.len() + rest.len());
                to.push_str(scheme);
                to.push_str(authority);
                to.push_str(rest);
                Ok(http.request(method.clone(), to))
            }
            Target::Parsed(parsed, _) => {
                let mut url = parsed.clone();
                rewrite(&mut url, inst)?;
                Ok(http.request(method.clone(), url))
            }
            Target::Other(parsed) => Ok(http.request(method.clone(), parsed.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::service_host;

    fn fast(url: &str) -> Option<(&str, &str, &str)> {
        match Target::of(url)? {
            Target::Fast {
                scheme, name, rest, ..
            } => Some((scheme, name, rest)),
            _ => None,
        }
    }

    #[test]
    fn plain_service_urls_take_the_fast_path() {
        assert_eq!(
            fast("http://worker/square?n=3"),
            Some(("http://", "worker", "/square?n=3"))
        );
        assert_eq!(fast("https://api-2"), Some(("https://", "api-2", "")));
        assert_eq!(
            fast("http://worker.service.consul/x#f"),
            Some(("http://", "worker", "/x#f"))
        );
        assert_eq!(
            fast("http://worker.service.dc2.consul./x"),
            Some(("http://", "worker", "/x"))
        );
        // A query without a path: the parser adds the `/`.
        assert_eq!(fast("http://w?q=1"), None);
    }

    #[test]
    fn anything_the_url_parser_would_change_takes_its_path() {
        for url in [
            "http://Worker/x",          // uppercase: the parser lowercases
            "http://worker:8080/x",     // a port
            "http://user@worker/x",     // userinfo
            "http://worker/a b",        // a space
            "http://worker/a/../b",     // dot segments
            "http://worker/é",          // non-ASCII
            "http://127.0.0.1/x",       // an address
            "http://1234/x",            // a number is an IPv4 address
            "http://localhost/x",       // not a service
            "http://www.example.com/x", // not a service
            "ftp://worker/x",           // another scheme
            "worker/x",                 // no scheme
        ] {
            assert_eq!(fast(url), None, "{url}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_parser_on_the_service_name() {
        for url in [
            "http://worker/x",
            "http://worker.service.consul/x",
            "http://worker.service.dc1.consul/x",
            "http://worker.other.consul/x",
            "http://a.b/x",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            let slow = service_host(&parsed);
            let quick = fast(url).map(|(_, name, _)| name.to_string());
            assert!(
                quick.is_none() || quick == slow,
                "{url}: {quick:?} vs {slow:?}"
            );
            assert_eq!(quick.is_some(), slow.is_some(), "{url}");
        }
    }

    #[test]
    fn instance_addresses_go_in_whole_or_the_instance_is_skipped() {
        let http = reqwest::Client::new();
        let to = |addr: &str| -> std::result::Result<String, String> {
            let inst = Instance::for_test(addr, 8080);
            let target = Target::of("http://worker/x?n=1").ok_or("not fast")?;
            let req = target
                .request(&http, &Method::GET, &inst)
                .map_err(|e| e.to_string())?;
            let req = req.build().map_err(|e| e.to_string())?;
            Ok(req.url().to_string())
        };
        assert_eq!(to("127.0.0.1").unwrap(), "http://127.0.0.1:8080/x?n=1");
        assert_eq!(
            to("2001:db8::1").unwrap(),
            "http://[2001:db8::1]:8080/x?n=1"
        );
        assert_eq!(to("node-1.dc1").unwrap(), "http://node-1.dc1:8080/x?n=1");
        assert_eq!(
            to("[2001:db8::1]").unwrap(),
            "http://[2001:db8::1]:8080/x?n=1"
        );
        for bad in ["a/?", "u@10.0.0.9", "a b", ""] {
            assert!(to(bad).is_err(), "{bad:?}: {:?}", to(bad));
        }
        // Whatever the address, the fast path and the parser agree.
        for addr in [
            "127.0.0.1",
            "2001:db8::1",
            "node-1.dc1",
            "[::1]",
            "10.0.0.5:8080",
        ] {
            let mut parsed = url::Url::parse("http://worker/x?n=1").unwrap();
            let slow =
                rewrite(&mut parsed, &Instance::for_test(addr, 8080)).map(|()| parsed.to_string());
            assert_eq!(to(addr).ok(), slow.ok(), "{addr}");
        }
    }
}
