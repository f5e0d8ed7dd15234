//! The example services as real processes against a devagent process: the
//! app's squares are right and come from several workers; a worker killed
//! with SIGKILL stops getting traffic within one check interval and no
//! request is lost; a devagent restart mid-run is survived.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::{devagent, eventually, read_line, spawn};
use nix::sys::signal::Signal;

async fn stats(http: &reqwest::Client, app: &str) -> app::Stats {
    match http.get(format!("http://{app}/stats")).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => app::Stats::default(),
    }
}

async fn passing(http: &reqwest::Client, consul: &str, service: &str) -> Vec<String> {
    let url = format!("{consul}/v1/health/service/{service}?passing");
    let Ok(r) = http.get(url).send().await else {
        return Vec::new();
    };
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["Service"]["ID"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_survive_a_killed_worker_and_an_agent_restart() {
    let (mut agent, http_addr) = devagent(0).await;
    let consul = format!("http://{http_addr}");
    let common = ["--http-addr", consul.as_str(), "--check-interval", "1s"];
    let _sensor = spawn("sensor", &common).unwrap();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let mut w = spawn("worker", &common).unwrap();
        let line = read_line(&mut w, "worker listening on", Duration::from_secs(20))
            .await
            .unwrap();
        let port = line.rsplit(':').next().unwrap().to_string();
        workers.push((w, format!("worker-{port}")));
    }
    let mut app = spawn(
        "app",
        &[
            "--http-addr",
            &consul,
            "--check-interval",
            "1s",
            "--interval",
            "5ms",
            "--concurrency",
            "2",
        ],
    )
    .unwrap();
    let line = read_line(&mut app, "app listening on", Duration::from_secs(30))
        .await
        .unwrap();
    let app_addr = line.rsplit(' ').next().unwrap().to_string();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // Correct squares, from more than one worker.
    assert!(
        eventually(20, || async {
            let s = stats(&http, &app_addr).await;
            s.ok >= 100 && s.by_worker.len() == 3
        })
        .await,
        "{:?}",
        stats(&http, &app_addr).await
    );
    let s = stats(&http, &app_addr).await;
    assert_eq!((s.failed, s.wrong), (0, 0), "{s:?}");
    assert!(s.last.iter().all(|r| r.square == r.n * r.n));

    // SIGKILL one worker: no deregistration, only its failing check tells.
    let (victim, victim_id) = workers.remove(0);
    victim.signal(Signal::SIGKILL);
    let killed = Instant::now();
    drop(victim);
    let left = eventually(5, || async {
        !passing(&http, &consul, "worker").await.contains(&victim_id)
    })
    .await;
    assert!(left, "the killed worker leaves the passing set");
    let out_after = killed.elapsed();
    assert!(
        out_after < Duration::from_millis(2500),
        "out of service {out_after:?} after the kill (check interval 1s)"
    );
    let at_out = stats(&http, &app_addr).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = stats(&http, &app_addr).await;
    assert_eq!(
        later.by_worker.get(&victim_id),
        at_out.by_worker.get(&victim_id),
        "no traffic to the dead worker once it is out"
    );
    assert!(later.ok > at_out.ok + 50, "the app keeps working");
    assert_eq!(
        later.failed, 0,
        "retried requests are not lost: {:?}",
        later.last_error
    );

    // Restart devagent on the same port: everything re-registers, the app recovers.
    let port: u16 = http_addr.rsplit(':').next().unwrap().parse().unwrap();
    agent.signal(Signal::SIGTERM);
    assert!(agent.wait(Duration::from_secs(10)).await.is_some());
    let (_agent2, _) = devagent(port).await;
    let back = eventually(15, || async {
        passing(&http, &consul, "worker").await.len() == 2
            && passing(&http, &consul, "sensor").await.len() == 1
            && passing(&http, &consul, "app").await.len() == 1
    })
    .await;
    assert!(back, "every service re-registered with the new agent");
    let before = stats(&http, &app_addr).await.ok;
    assert!(
        eventually(10, || async {
            stats(&http, &app_addr).await.ok > before + 50
        })
        .await,
        "the app works after the restart"
    );
    let end = stats(&http, &app_addr).await;
    assert_eq!(end.wrong, 0);
    assert_eq!(
        end.failed, 0,
        "no failed rounds through the restart: {:?}",
        end.last_error
    );
}
