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
    // The shipped rules fire on the simulated fleet's critical machines at first sight,
    // and each notification is rendered with the shipped templates.
    assert!(
        stdout.contains("rendered this cycle") && stdout.contains("machine-critical firing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"blocks\""),
        "a Slack Block Kit payload: {stdout}"
    );
    assert!(
        stdout.contains("(teams)") && stdout.contains("\"attachments\""),
        "a Teams message: {stdout}"
    );
    assert!(stdout.contains("Subject: "), "an email: {stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    // Only the emails, as .eml files under ./demo-outbox/.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["demo-outbox"], "the demo left other files behind");
    let emls: Vec<_> = std::fs::read_dir(dir.path().join("demo-outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!emls.is_empty());
    for eml in emls {
        assert_eq!(eml.extension().unwrap(), "eml");
        let text = std::fs::read_to_string(&eml).unwrap();
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("Subject: "), "{text}");
    }
}
