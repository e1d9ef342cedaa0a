//! `demo`, the README's main job: needs no config file, no credentials, no network.

mod support;

#[tokio::test]
async fn the_demo_polls_the_simulator_and_shows_each_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(support::BIN)
        .args(["demo", "--cycles", "2"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("cycle 1") && stdout.contains("cycle 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("full poll") && stdout.contains("incremental poll"),
        "{stdout}"
    );
    assert!(stdout.contains("idle"), "{stdout}");
    // The shipped rules fire on the simulated fleet's critical machines at first sight.
    assert!(
        stdout.contains("notifications queued") && stdout.contains("machine-critical firing"),
        "{stdout}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the demo left files behind"
    );
}
