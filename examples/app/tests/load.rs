//! The benches' load generators (`benches/examples/load.rs`, with their
//! targets), tested here so that `cargo test -p app` runs their tests.
#![allow(clippy::unwrap_used)]

// The bench binary uses all of them; these tests, part.
#[allow(dead_code)]
#[path = "../benches/examples/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../benches/examples/target.rs"]
mod target;

use target::Target;

#[tokio::test]
async fn both_targets_use_the_same_http_client_settings() {
    let config = dcy::Config::builder()
        .address("http://127.0.0.1:9")
        .build()
        .unwrap();
    let discovery = dcy::Discovery::new(dcy::Client::new(config).unwrap());
    let settings = format!("{:?}", app::http_client());
    match Target::fixed("127.0.0.1:1", "127.0.0.1:2") {
        Target::Fixed { http, .. } => assert_eq!(format!("{http:?}"), settings),
        other => panic!("{other:?}"),
    }
    match Target::discovery(&discovery) {
        Target::Discovery(t) => {
            let d = format!("{t:?}");
            assert!(d.contains(&format!("http: {settings}")), "{d}");
        }
        other => panic!("{other:?}"),
    }
}
