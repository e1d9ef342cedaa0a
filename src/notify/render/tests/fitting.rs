//! Messages fit their channel (SPEC §8), and the Teams card is a valid Adaptive Card 1.4.

use super::*;
use crate::notify::{pagerduty::fit as pagerduty, slack::fit as slack, teams::fit as teams};

/// 250 alerts (200 listed, 50 only counted) whose names and summaries are 10 KB each.
fn huge() -> OutboxItem {
    let now = sample::now();
    let mut item = sample::item(critical(), None, AlertStatus::Firing, 250, 200, now);
    for (i, a) in item.alerts.iter_mut().enumerate() {
        a.resource.name = format!("{i}-{}", "N&<".repeat(3400));
        a.tenant.name = "T".repeat(10_000);
        a.summary = "S".repeat(10_000);
    }
    item
}

fn slack_texts(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for b in v["blocks"].as_array().unwrap() {
        let kind = b["type"].as_str().unwrap().to_string();
        if let Some(t) = b.pointer("/text/text").and_then(Value::as_str) {
            out.push((kind.clone(), t.to_string()));
        }
        for e in b["elements"].as_array().into_iter().flatten() {
            out.push((kind.clone(), e["text"].as_str().unwrap_or("").to_string()));
        }
    }
    out
}

#[test]
fn slack_fits_50_blocks_and_3000_characters_per_text() {
    let r = shipped();
    for item in [
        huge(),
        sample::item(
            critical(),
            None,
            AlertStatus::Firing,
            250,
            200,
            sample::now(),
        ),
    ] {
        let v = json_of(
            r.render(&channel("noc-slack"), &item, sample::now())
                .unwrap(),
        );
        let blocks = v["blocks"].as_array().unwrap();
        assert!(blocks.len() <= slack::MAX_BLOCKS, "{} blocks", blocks.len());
        assert!(
            blocks.len() >= 40,
            "fitting keeps as many alerts as fit: {}",
            blocks.len()
        );
        for (kind, t) in slack_texts(&v) {
            assert!(
                t.chars().count() <= slack::MAX_TEXT,
                "{kind}: {}",
                t.chars().count()
            );
            if kind == "header" {
                assert!(t.chars().count() <= 150);
            }
        }
        assert!(v["text"].as_str().unwrap().chars().count() <= slack::MAX_TEXT);
        let sections = blocks.iter().filter(|b| b["type"] == "section").count();
        let tail = slack_texts(&v).into_iter().rev().nth(1).unwrap().1;
        assert!(
            tail.contains(&format!("and *{} more*", 250 - sections)),
            "{tail}"
        );
    }
}

#[test]
fn teams_fits_20_kb() {
    let r = shipped();
    for item in [
        huge(),
        sample::item(
            critical(),
            None,
            AlertStatus::Firing,
            250,
            200,
            sample::now(),
        ),
    ] {
        let v = json_of(
            r.render(&channel("noc-teams"), &item, sample::now())
                .unwrap(),
        );
        let bytes = serde_json::to_vec(&v).unwrap().len();
        assert!(bytes <= teams::MAX_BODY, "{bytes} bytes");
        let body = v
            .pointer("/attachments/0/content/body")
            .unwrap()
            .as_array()
            .unwrap();
        let shown = body.len() - 3;
        assert!(shown >= 1, "at least one alert is listed");
        let more = body[body.len() - 2]["text"].as_str().unwrap();
        assert_eq!(more, format!("… and {} more (250 in all)", 250 - shown));
    }
}

#[test]
fn pagerduty_summary_fits_1024_characters() {
    let mut item = huge();
    item.alerts.truncate(1);
    item.more = 0;
    let v = json_of(
        shipped()
            .render(&channel("oncall"), &item, sample::now())
            .unwrap(),
    );
    let summary = v.pointer("/payload/summary").unwrap().as_str().unwrap();
    assert!(summary.chars().count() <= pagerduty::MAX_SUMMARY);
    assert!(summary.starts_with("[CRITICAL] "), "{summary}");
    assert_eq!(v.pointer("/payload/severity").unwrap(), "critical");
    assert!(serde_json::to_vec(&v).unwrap().len() < 512 * 1024);
}

#[test]
fn more_counts_alerts_not_even_stored() {
    let item = sample::item(critical(), None, AlertStatus::Firing, 9, 2, sample::now());
    let v = json_of(
        shipped()
            .render(&channel("ticketing"), &item, sample::now())
            .unwrap(),
    );
    assert_eq!(
        (v["count"].clone(), v["shown"].clone(), v["more"].clone()),
        (json!(9), json!(2), json!(7))
    );
}

#[test]
fn since_is_measured_at_render_time() {
    let item = sample::item(critical(), None, AlertStatus::Firing, 1, 1, sample::now());
    let later = sample::now() + chrono::Duration::minutes(90);
    let v = json_of(
        shipped()
            .render(&channel("ticketing"), &item, later)
            .unwrap(),
    );
    assert_eq!(v.pointer("/alerts/0/since").unwrap(), "1h 42m");
    assert_eq!(v["now"], "2026-03-02T11:00:00Z");
}

#[test]
fn teams_cards_validate_against_the_adaptive_card_1_4_schema() {
    let schema: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/adaptive-card-1.4.json"
    ))
    .unwrap();
    let validator = jsonschema::draft6::new(&schema).unwrap_or_else(|e| panic!("{e}"));
    let r = shipped();
    let mut items: Vec<OutboxItem> = sample::items(sample::now());
    items.push(huge());
    items.push(sample::item(
        critical(),
        None,
        AlertStatus::Firing,
        250,
        200,
        sample::now(),
    ));
    for item in items {
        let v = json_of(
            r.render(&channel("noc-teams"), &item, sample::now())
                .unwrap(),
        );
        assert_eq!(v["type"], "message");
        assert_eq!(
            v.pointer("/attachments/0/contentType").unwrap(),
            "application/vnd.microsoft.card.adaptive"
        );
        let card = v.pointer("/attachments/0/content").unwrap();
        assert_eq!(card["version"], "1.4");
        let errors: Vec<String> = validator
            .iter_errors(card)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The validator does reject what is not a card.
    assert!(
        !validator.is_valid(
            &json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "Nope"}]})
        )
    );
}
