//! The loop's rules, driven by a scripted fetch function under paused time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::config::Config;
use crate::error::ErrorKind;
use tokio::time::Instant;

type Script = Arc<Mutex<VecDeque<Result<(u32, u64)>>>>;

struct Fake {
    script: Script,
    calls: Arc<Mutex<Vec<(u64, Instant)>>>,
    fetch: FetchFn<u32>,
}

/// A fetch function that answers from a script, then blocks (as a long poll).
fn fake(answers: Vec<Result<(u32, u64)>>) -> Fake {
    let script: Script = Arc::new(Mutex::new(answers.into()));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (s, c) = (Arc::clone(&script), Arc::clone(&calls));
    let fetch: FetchFn<u32> = Arc::new(move |index| {
        c.lock().unwrap().push((index, Instant::now()));
        let next = s.lock().unwrap().pop_front();
        Box::pin(async move {
            match next {
                Some(r) => r,
                None => std::future::pending().await,
            }
        })
    });
    Fake {
        script,
        calls,
        fetch,
    }
}

fn hub() -> WatchHub {
    let client = Client::new(Config::default()).unwrap();
    WatchHub::with_options(
        client,
        WatchOptions {
            wait: Duration::from_secs(60),
            min_interval: Duration::from_millis(100),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        },
    )
}

fn down() -> Error {
    Error::new(ErrorKind::Connect, "connection refused")
}

async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn index_rules() {
    assert_eq!(next_index(0, 7), 7);
    assert_eq!(next_index(7, 7), 7);
    assert_eq!(next_index(7, 9), 9);
    assert_eq!(next_index(9, 3), 0, "backwards resets to 0");
    assert_eq!(next_index(0, 0), 1, "an index below 1 is treated as 1");
}

#[tokio::test(start_paused = true)]
async fn sends_zero_then_the_returned_index_and_resets_when_it_goes_backwards() {
    let f = fake(vec![Ok((1, 10)), Ok((2, 12)), Ok((3, 5)), Ok((3, 6))]);
    let h = hub();
    let mut w = h.watch_fn("k".into(), f.fetch.clone());
    w.ready(Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent: Vec<u64> = f.calls.lock().unwrap().iter().map(|(i, _)| *i).collect();
    assert_eq!(sent, [0, 10, 12, 0, 6]);
    assert_eq!(*w.value().unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn publishes_only_when_the_value_changes() {
    let f = fake(vec![Ok((1, 10)), Ok((1, 11)), Ok((1, 12)), Ok((2, 13))]);
    let h = hub();
    let w = h.watch_fn("k".into(), f.fetch.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        f.calls.lock().unwrap().len(),
        5,
        "all four answers were read"
    );
    let snap = w.snapshot();
    assert_eq!((*snap.value.unwrap(), snap.index), (2, 13));
    assert_eq!(snap.version, 2, "two distinct values, two publications");
}

#[tokio::test(start_paused = true)]
async fn quick_answers_with_an_unchanged_index_are_rate_limited() {
    let answers = (0..6).map(|_| Ok((1, 5))).collect();
    let f = fake(answers);
    let h = hub();
    let _w = h.watch_fn("k".into(), f.fetch.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = f.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 7);
    for pair in calls.windows(2).skip(1) {
        let gap = pair[1].1 - pair[0].1;
        assert!(
            gap >= Duration::from_millis(100),
            "spin: {gap:?} between queries"
        );
        assert!(gap <= Duration::from_millis(121), "over-slept: {gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn errors_back_off_with_a_cap_keep_the_value_and_never_give_up() {
    let mut answers = vec![Ok((7, 3))];
    answers.extend((0..20).map(|_| Err(down())));
    answers.push(Ok((8, 4)));
    let f = fake(answers);
    let h = hub();
    let mut w = h.watch_fn("k".into(), f.fetch.clone());
    w.ready(Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = w.status();
    assert!(st.is_stale() && st.consecutive_failures >= 1, "{st:?}");
    assert!(st
        .error
        .as_ref()
        .is_some_and(|e| e.to_string().contains("connection refused") && e.is_connect()));
    assert_eq!(*w.value().unwrap(), 7, "the last good value stays");
    // Let all 20 failures play out (capped at 30s each, with jitter ≤ 2x).
    w.changed().await.unwrap();
    assert_eq!(*w.value().unwrap(), 8);
    assert!(!w.status().is_stale());
    let calls = f.calls.lock().unwrap().clone();
    let gaps: Vec<Duration> = calls.windows(2).map(|p| p[1].1 - p[0].1).collect();
    assert!(
        gaps[1] >= Duration::from_millis(250),
        "first retry waits: {:?}",
        gaps[1]
    );
    assert!(
        gaps.iter().all(|g| *g <= Duration::from_secs(60)),
        "capped: {gaps:?}"
    );
    assert!(
        gaps[10..20].iter().all(|g| *g >= Duration::from_secs(30)),
        "grows to the cap: {gaps:?}"
    );
    let sent: Vec<u64> = calls.iter().map(|(i, _)| *i).collect();
    assert!(
        sent[1..21].iter().all(|i| *i == 3),
        "retries keep the last index"
    );
    assert!(f.script.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn subscribers_share_one_loop_and_the_last_drop_stops_it() {
    let f = fake(vec![Ok((1, 1))]);
    let h = hub();
    let a = h.watch_fn("k".into(), f.fetch.clone());
    let b = h.watch_fn("k".into(), f.fetch.clone());
    let other = h.watch_fn::<u32>("other".into(), fake(vec![]).fetch);
    settle().await;
    assert_eq!(h.len(), 2);
    let one_loop = f.calls.lock().unwrap().len();
    assert_eq!(one_loop, 2, "one loop: first query, then the blocking one");
    drop(a);
    settle().await;
    assert_eq!(h.len(), 2, "b still listens");
    drop(b);
    settle().await;
    assert_eq!(h.len(), 1, "the loop for k stopped");
    drop(other);
    settle().await;
    assert!(h.is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_loop() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let fetch: FetchFn<u32> = Arc::new(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(down()) })
    });
    let h = hub();
    let mut w = h.watch_fn("k".into(), fetch);
    tokio::time::sleep(Duration::from_secs(5)).await;
    h.shutdown().await;
    settle().await;
    assert!(h.is_empty());
    let after = calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        after,
        "no query after shutdown"
    );
    assert!(w.changed().await.is_err(), "subscribers see the stop");
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn hash_blocking_sends_the_returned_hash_and_rate_limits_unchanged_answers() {
    type Sent = Arc<Mutex<Vec<(Cursor, Instant)>>>;
    let sent: Sent = Arc::default();
    type Answers = Arc<Mutex<VecDeque<(u32, Option<&'static str>)>>>;
    let answers: Answers = Arc::new(Mutex::new(
        vec![
            (1, Some("a")),
            (1, Some("a")),
            (1, Some("a")),
            (2, Some("b")),
        ]
        .into(),
    ));
    let (s, a) = (Arc::clone(&sent), Arc::clone(&answers));
    let fetch: Fetch<u32> = Arc::new(move |cursor| {
        s.lock().unwrap().push((cursor, Instant::now()));
        let next = a.lock().unwrap().pop_front();
        Box::pin(async move {
            match next {
                Some((v, h)) => Ok((v, Cursor::Hash(h.map(str::to_string)))),
                None => std::future::pending().await,
            }
        })
    });
    let h = hub();
    let mut w = h.start("agent".into(), Cursor::Hash(None), fetch);
    w.ready(Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = sent.lock().unwrap().clone();
    let cursors: Vec<Cursor> = sent.iter().map(|(c, _)| c.clone()).collect();
    let hash = |h: &str| Cursor::Hash(Some(h.to_string()));
    assert_eq!(
        cursors,
        [
            Cursor::Hash(None),
            hash("a"),
            hash("a"),
            hash("a"),
            hash("b")
        ]
    );
    let gap = sent[3].1 - sent[2].1;
    assert!(
        gap >= Duration::from_millis(100),
        "an unchanged hash answered at once is rate-limited: {gap:?}"
    );
    assert_eq!(*w.value().unwrap(), 2);
    assert_eq!(w.snapshot().version, 2);
}

#[tokio::test(start_paused = true)]
async fn derived_watches_follow_their_sources_in_the_loops_and_stop_with_them() {
    let base = alive_tasks();
    let a = fake(vec![Ok((1, 10)), Ok((5, 11))]);
    let b = fake(vec![Ok((100, 3))]);
    let h = hub();
    let wa = h.watch_fn("a".into(), a.fetch.clone());
    let wb = h.watch_fn("b".into(), b.fetch.clone());
    let mut sum = Watch::merge(&[wa.clone(), wb.clone()], |v| {
        Some(v.iter().flatten().map(|x| **x).sum::<u32>())
    });
    let mut doubled = sum.map(|s| s * 2);
    drop((wa, wb));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*sum.value().unwrap(), 105);
    assert_eq!(
        *doubled.value().unwrap(),
        210,
        "derived from a derived watch"
    );
    assert_eq!(
        alive_tasks() - base,
        2,
        "one task per query loop, none for the derived watches"
    );
    assert_eq!(h.len(), 2, "the derived watches keep their sources' loops");
    h.shutdown().await;
    sum.rx.mark_unchanged();
    doubled.rx.mark_unchanged();
    assert!(
        sum.changed().await.is_err(),
        "a merged watch stops with its sources"
    );
    assert!(doubled.changed().await.is_err());
    assert_eq!(*doubled.value().unwrap(), 210, "and keeps its last value");
    drop((sum, doubled));
    assert_eq!(alive_tasks(), base);
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_until_every_loop_ended_and_later_watches_come_back_stopped() {
    let base = alive_tasks();
    let h = hub();
    let watches: Vec<Watch<u32>> = (0..20)
        .map(|i| h.watch_fn(format!("k{i}"), fake(vec![Ok((i, 1))]).fetch))
        .collect();
    settle().await;
    assert_eq!(alive_tasks() - base, 20);
    h.shutdown().await;
    assert_eq!(
        alive_tasks(),
        base,
        "every loop ended when shutdown returned"
    );
    assert!(h.is_empty());
    let mut late = h.watch_fn::<u32>("late".into(), fake(vec![Ok((1, 1))]).fetch);
    assert!(late.changed().await.is_err());
    assert!(late.status().error.is_some_and(|e| e.is_cancelled()));
    assert_eq!(alive_tasks(), base, "nothing started after shutdown");
    drop(watches);
}

#[tokio::test(start_paused = true)]
async fn for_each_gets_every_published_value_in_order_without_a_task_until_dropped() {
    let base = alive_tasks();
    let f = fake(vec![Ok((1, 10)), Ok((1, 11)), Ok((2, 12)), Ok((3, 13))]);
    let h = hub();
    let w = h.watch_fn("k".into(), f.fetch.clone());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&got);
    let sub = w.for_each(move |v| seen.lock().unwrap().push(**v));
    drop(w);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        *got.lock().unwrap(),
        vec![1, 2, 3],
        "each change once, in order (an unchanged answer publishes nothing)"
    );
    assert_eq!(
        alive_tasks() - base,
        1,
        "the query's loop and no other task"
    );
    assert_eq!(h.len(), 1, "the subscription keeps the watch running");

    // A late subscriber gets the current value at once.
    let late = Arc::new(Mutex::new(Vec::new()));
    let l = Arc::clone(&late);
    let w = h.watch_fn("k".into(), f.fetch.clone());
    let sub2 = w.for_each(move |v| l.lock().unwrap().push(**v));
    assert_eq!(*late.lock().unwrap(), vec![3]);

    drop((sub, sub2, w));
    settle().await;
    assert_eq!(h.len(), 0, "the last subscription dropped stops the loop");
    assert_eq!(alive_tasks(), base);
}
