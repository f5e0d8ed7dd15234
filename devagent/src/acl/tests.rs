//! Decisions, written from Consul's "ACL rules" documentation: exact rules
//! beat prefix rules, the longest prefix wins, deny wins between policies at
//! equal specificity, `list` is read plus listing, and the default policy
//! decides when no rule does (never granting ACL management).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use super::authz::{Authz, Compiled, Level, Resource, ANONYMOUS_ID};
use super::rules::{self, Global, Kind, Rules};

fn authz(policies: &[&str], default_allow: bool) -> Authz {
    let parsed: Vec<Rules> = policies
        .iter()
        .map(|p| Rules::parse(p).expect("rules parse"))
        .collect();
    Authz::new(
        Arc::from("3f1c0d9e-0000-4000-8000-000000000001"),
        Arc::new(Compiled::new(parsed.iter())),
        default_allow,
    )
}

fn can(a: &Authz, kind: Kind, level: Level, name: &str) -> bool {
    a.allows(Resource::Named(kind), level, name)
}

#[test]
fn each_named_kind_grants_read_write_and_deny() {
    for kind in Kind::ALL {
        let k = kind.as_str();
        let a = authz(
            &[&format!(
                "{k} \"r\" {{ policy = \"read\" }}\n{k} \"w\" {{ policy = \"write\" }}\n{k} \"d\" {{ policy = \"deny\" }}"
            )],
            true,
        );
        assert!(
            can(&a, kind, Level::Read, "r") && !can(&a, kind, Level::Write, "r"),
            "{k} read"
        );
        assert!(
            can(&a, kind, Level::Read, "w") && can(&a, kind, Level::Write, "w"),
            "{k} write"
        );
        assert!(
            !can(&a, kind, Level::Read, "d") && !can(&a, kind, Level::Write, "d"),
            "{k} deny"
        );
        // No rule: the default policy (allow here).
        assert!(can(&a, kind, Level::Write, "other"), "{k} default");
    }
}

#[test]
fn an_exact_rule_beats_any_prefix_rule() {
    let a = authz(
        &[r#"
        key_prefix "" { policy = "deny" }
        key_prefix "app/" { policy = "write" }
        key "app/config" { policy = "read" }
        service_prefix "" { policy = "write" }
        service "db" { policy = "deny" }"#],
        false,
    );
    assert!(can(&a, Kind::Key, Level::Read, "app/config"));
    assert!(!can(&a, Kind::Key, Level::Write, "app/config"));
    assert!(can(&a, Kind::Key, Level::Write, "app/config2"));
    assert!(!can(&a, Kind::Service, Level::Read, "db"));
    assert!(can(&a, Kind::Service, Level::Write, "db-replica"));
}

#[test]
fn the_longest_prefix_wins() {
    let a = authz(
        &[r#"
        node_prefix "" { policy = "read" }
        node_prefix "web-" { policy = "write" }
        node_prefix "web-secret-" { policy = "deny" }"#],
        false,
    );
    assert!(can(&a, Kind::Node, Level::Read, "db-1"));
    assert!(!can(&a, Kind::Node, Level::Write, "db-1"));
    assert!(can(&a, Kind::Node, Level::Write, "web-1"));
    assert!(!can(&a, Kind::Node, Level::Read, "web-secret-1"));
    // A name shorter than a prefix rule is not under it.
    assert!(!can(&a, Kind::Node, Level::Write, "web"));
}

#[test]
fn between_policies_deny_then_write_then_list_then_read() {
    let read = r#"service "web" { policy = "read" }"#;
    let write = r#"service "web" { policy = "write" }"#;
    let deny = r#"service "web" { policy = "deny" }"#;
    let a = authz(&[read, write], false);
    assert!(can(&a, Kind::Service, Level::Write, "web"));
    let a = authz(&[write, deny, read], true);
    assert!(!can(&a, Kind::Service, Level::Read, "web"));
    let a = authz(
        &[
            r#"key_prefix "a/" { policy = "read" }"#,
            r#"key_prefix "a/" { policy = "list" }"#,
        ],
        false,
    );
    assert!(can(&a, Kind::Key, Level::List, "a/b"));
}

#[test]
fn list_is_read_and_listing_but_not_write() {
    let a = authz(&[r#"key_prefix "app/" { policy = "list" }"#], false);
    assert!(can(&a, Kind::Key, Level::List, "app/"));
    assert!(can(&a, Kind::Key, Level::Read, "app/x"));
    assert!(!can(&a, Kind::Key, Level::Write, "app/x"));
    let r = authz(&[r#"key_prefix "app/" { policy = "read" }"#], false);
    assert!(!can(&r, Kind::Key, Level::List, "app/"));
}

#[test]
fn deleting_a_tree_needs_write_on_everything_under_it() {
    let a = authz(
        &[r#"
        key_prefix "" { policy = "write" }
        key "app/locked" { policy = "read" }"#],
        false,
    );
    assert!(!a.key_write_prefix("app/"));
    assert!(!a.key_write_prefix(""));
    assert!(a.key_write_prefix("other/"));
    assert!(a.key_write_prefix("app/locked/under"));
    let none = authz(&[], true);
    assert!(none.key_write_prefix("x/"), "default allow");
    let none = authz(&[], false);
    assert!(!none.key_write_prefix("x/"), "default deny");
}

#[test]
fn one_level_resources_and_mesh_and_peering_fall_back_to_operator() {
    let a = authz(
        &[r#"operator = "read"
        keyring = "write"
        acl = "read""#],
        false,
    );
    let g = |g: Global, l: Level| a.allows(Resource::Global(g), l, "");
    assert!(g(Global::Operator, Level::Read) && !g(Global::Operator, Level::Write));
    assert!(g(Global::Keyring, Level::Write));
    assert!(g(Global::Acl, Level::Read) && !g(Global::Acl, Level::Write));
    assert!(g(Global::Mesh, Level::Read) && !g(Global::Mesh, Level::Write));
    assert!(g(Global::Peering, Level::Read) && !g(Global::Peering, Level::Write));
    let m = authz(
        &[r#"operator = "read"
        mesh = "write""#],
        false,
    );
    assert!(m.allows(Resource::Global(Global::Mesh), Level::Write, ""));
}

#[test]
fn default_allow_never_grants_acl_management() {
    let a = authz(&[], true);
    assert!(can(&a, Kind::Service, Level::Write, "anything"));
    assert!(a.allows(Resource::Global(Global::Operator), Level::Write, ""));
    assert!(!a.allows(Resource::Global(Global::Acl), Level::Read, ""));
    let d = authz(&[], false);
    assert!(!can(&d, Kind::Service, Level::Read, "anything"));
}

#[test]
fn identities_expand_to_consuls_synthetic_policies() {
    let svc = rules::service_identity("web");
    let c = Compiled::new([&svc]);
    let a = Authz::new(Arc::from("x"), Arc::new(c), false);
    assert!(can(&a, Kind::Service, Level::Write, "web"));
    assert!(can(&a, Kind::Service, Level::Write, "web-sidecar-proxy"));
    assert!(!can(&a, Kind::Service, Level::Write, "db"));
    assert!(can(&a, Kind::Service, Level::Read, "db"));
    assert!(can(&a, Kind::Node, Level::Read, "any-node"));
    assert!(!can(&a, Kind::Key, Level::Read, "k"));
    let node = rules::node_identity("n1");
    let a = Authz::new(Arc::from("x"), Arc::new(Compiled::new([&node])), false);
    assert!(can(&a, Kind::Node, Level::Write, "n1"));
    assert!(!can(&a, Kind::Node, Level::Read, "n2"));
    assert!(can(&a, Kind::Service, Level::Read, "web"));
}

#[test]
fn denials_say_who_lacks_what_on_which_name() {
    let a = authz(&[], false);
    let e = a.denied(Resource::Named(Kind::Service), Level::Write, "web");
    assert_eq!(e.status.as_u16(), 403);
    assert_eq!(
        e.message,
        "Permission denied: token with AccessorID '3f1c0d9e-0000-4000-8000-000000000001' lacks permission 'service:write' on \"web\""
    );
    let e = a.denied(Resource::Global(Global::Operator), Level::Read, "");
    assert!(
        e.message.ends_with("lacks permission 'operator:read'"),
        "{}",
        e.message
    );
    let anon = Authz::new(
        Arc::from(ANONYMOUS_ID),
        Arc::new(Compiled::default()),
        false,
    );
    let e = anon.denied(Resource::Named(Kind::Key), Level::Read, "k");
    assert_eq!(
        e.message,
        "Permission denied: anonymous token lacks permission 'key:read' on \"k\". The anonymous token is used implicitly when a request does not specify a token."
    );
}
