use super::*;

fn ms_list(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|&m| Duration::from_millis(m)).collect()
}

#[test]
fn percentile_is_nearest_rank_of_any_order() {
    let v = ms_list(&[5, 1, 4, 2, 3]);
    assert_eq!(percentile(&v, 50), Duration::from_millis(3));
    assert_eq!(percentile(&v, 0), Duration::from_millis(1));
    assert_eq!(percentile(&v, 100), Duration::from_millis(5));
    let hundred: Vec<u64> = (1..=100).collect();
    assert_eq!(
        percentile(&ms_list(&hundred), 99),
        Duration::from_millis(99)
    );
    assert_eq!(percentile(&[], 99), Duration::ZERO);
}

#[test]
fn durations_in_milliseconds() {
    let d = Duration::from_micros(12_345);
    assert_eq!(ms(d), "12.35 ms");
    assert_eq!(ms_to(d, 1), "12.3 ms");
    assert!((millis(d) - 12.345).abs() < 1e-9);
    assert_eq!(spread(&ms_list(&[1, 2, 3]), 1), "2.0 ms / 3.0 ms / 3.0 ms");
    assert_eq!(mib(1536), 1.5);
}

#[test]
fn yes_no_marks_a_miss_in_bold() {
    assert_eq!(yes_no(true), "yes");
    assert_eq!(yes_no(false), "**no**");
}

#[test]
fn metric_reads_unlabelled_values() {
    let text = "# HELP devagent_blocking_queries open\n\
                devagent_blocking_queries_total 7\n\
                devagent_blocking_queries 100\n\
                templater_renders 2.0\n";
    assert_eq!(metric(text, "devagent_blocking_queries"), Some(100));
    assert_eq!(metric(text, "templater_renders"), Some(2));
    assert_eq!(metric(text, "missing"), None);
}

#[test]
fn memory_parses_status() {
    let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
    assert_eq!(
        Memory::parse(status),
        Some(Memory {
            rss_kib: 1024,
            peak_kib: 2048
        })
    );
    assert_eq!(Memory::parse("VmRSS:\t1 kB\n"), None);
}

#[test]
fn proc_readings_of_this_process() {
    let own = Memory::of(None).expect("/proc/self/status");
    assert!(own.rss_kib > 0 && own.peak_kib >= own.rss_kib);
    let by_pid = Memory::of(Some(std::process::id())).expect("/proc/<pid>/status");
    assert!(by_pid.rss_kib > 0);
    cpu_ticks(None).expect("/proc/self/stat");
    cpu_ticks(Some(std::process::id())).expect("/proc/<pid>/stat");
    assert!(Memory::of(Some(u32::MAX)).is_err());
    assert!(clk_tck() > 0);
    assert!(open_file_limit().is_some_and(|l| l > 0));
    assert!(machine().contains(" cores ("));
}

#[test]
fn load_fields_of_a_line() {
    let line = "0.52 0.58 0.59 1/1234 5678";
    assert_eq!(load_fields(line, 1), "0.52");
    assert_eq!(load_fields(line, 3), "0.52 0.58 0.59");
    let now = loadavg().expect("/proc/loadavg");
    assert_eq!(load1(), load_fields(&now, 1));
}

#[test]
fn results_are_written_with_their_directory() {
    let dir = std::env::temp_dir().join(format!("testkit-bench-{}", std::process::id()));
    let path = dir.join("a/b/report.md");
    write_results(&path, "# report\n").expect("writing");
    assert_eq!(
        std::fs::read_to_string(&path).expect("reading"),
        "# report\n"
    );
    std::fs::remove_dir_all(&dir).expect("cleaning up");
}

#[test]
fn git_tells_the_commit_here() {
    let dir = env!("CARGO_MANIFEST_DIR");
    // Outside a git checkout (a packaged crate) both are None.
    if let Some(head) = git_head(dir) {
        assert!(!head.is_empty());
        assert!(git_dirty(dir, ".").is_some());
    }
    assert_eq!(git_head("/nonexistent-testkit-dir"), None);
}

#[tokio::test]
async fn within_names_what_took_too_long() {
    let slow = within(Duration::from_millis(10), "the slow step", async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    })
    .await;
    let e = slow.expect_err("a timeout").to_string();
    assert!(e.starts_with("the slow step: not done within"), "{e}");
    let quick = within(Duration::from_secs(5), "quick", async { Ok(7) }).await;
    assert_eq!(quick.expect("in time"), 7);
    assert_eq!(err("a message").to_string(), "a message");
}

#[test]
fn run_main_turns_the_outcome_into_the_exit_code() {
    let ok = run_main(
        "test",
        tokio::runtime::Builder::new_current_thread(),
        async { Ok(()) },
    );
    assert_eq!(ok, ExitCode::SUCCESS);
    let failed = run_main(
        "test",
        tokio::runtime::Builder::new_current_thread(),
        async { Err(err("on purpose")) },
    );
    assert_eq!(failed, ExitCode::FAILURE);
}

#[tokio::test]
async fn spawn_devagent_reports_a_missing_binary() {
    let e = spawn_devagent(
        Path::new("/nonexistent/devagent"),
        0,
        Duration::from_secs(1),
    )
    .await
    .expect_err("no such binary")
    .to_string();
    assert!(e.starts_with("spawning /nonexistent/devagent"), "{e}");
}
