//! `resource_statuses` through its handler: paging invariants, bad input, scopes, expiry, deletion.

use super::*;

#[tokio::test]
async fn paging_survives_changes_between_pages() {
    let s = sim(300, 4);
    let h = bearer_for(&s, Scope::Partner);
    let mut seen: Vec<String> = Vec::new();
    let mut changed: HashSet<String> = HashSet::new();
    let mut query = "order=desc(updated_at)&limit=37".to_string();
    for page in 0.. {
        let (status, body) = list(&s, &h, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().expect("items");
        let times: Vec<&str> = items
            .iter()
            .map(|i| i["context"]["updated_at"].as_str().expect("time"))
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "desc order");
        seen.extend(
            items
                .iter()
                .map(|i| i["context"]["id"].as_str().expect("id").to_string()),
        );
        assert_eq!(body["paging"]["cursors"].get("before").is_some(), page > 0);
        changed.extend(s.touch(3, None));
        s.advance(Duration::from_secs(600));
        match body["paging"]["cursors"]["after"].as_str() {
            Some(after) => query = format!("order=desc(updated_at)&limit=37&after={after}"),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "nothing served twice in one desc pass"
    );
    for r in s.resources(None, usize::MAX).expect("all") {
        assert!(
            unique.contains(&r.id) || changed.contains(&r.id) || r.updated_at > start(),
            "{} skipped",
            r.id
        );
    }
}

#[tokio::test]
async fn garbage_parameters_are_400_not_panics() {
    let s = sim(50, 1);
    let h = bearer_for(&s, Scope::Partner);
    for q in [
        "after=garbage",
        "after=%FF%FE",
        "before=cnMxOmE6ZDox",
        "after=x&before=y",
        "limit=ten",
        "order=desc(name)",
        "include_deleted=maybe",
        "updated_at=gt(yesterday)",
        "updated_at=ge(2024-01-01T00:00:00Z",
        "resource_id=not-a-uuid",
        "type=or(a,b",
        "limit=1&limit=2",
    ] {
        let (status, body) = list(&s, &h, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["code"], "BadRequestError", "{q}");
        assert_eq!(body["domain"], "General");
    }
    // A cursor for the other order or direction is refused too.
    let (_, body) = list(&s, &h, "order=desc(updated_at)&limit=5").await;
    let after = body["paging"]["cursors"]["after"]
        .as_str()
        .expect("more pages")
        .to_string();
    for q in [
        format!("order=asc(updated_at)&after={after}"),
        format!("before={after}"),
    ] {
        assert_eq!(list(&s, &h, &q).await.0, StatusCode::BAD_REQUEST, "{q}");
    }
    // A bare cursor keeps the order it was issued for.
    let (status, page2) = list(&s, &h, &format!("after={after}&limit=5")).await;
    assert_eq!(status, StatusCode::OK);
    let last = body["items"][4]["context"]["updated_at"]
        .as_str()
        .expect("time");
    assert!(
        page2["items"][0]["context"]["updated_at"]
            .as_str()
            .expect("time")
            <= last
    );
    // Limits are clamped, not refused.
    let (status, body) = list(&s, &h, "limit=0").await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
}

#[tokio::test]
async fn scoped_tokens_see_their_customer_and_units_only() {
    let s = sim(400, 1);
    let c1 = customer(&s, 1); // customer 1 always has units
    let other = customer(&s, 0);
    let (c1_uuid, c1_numeric, unit_uuid, other_uuid) = {
        let w = s.world();
        let t = w.tenants.get(c1);
        (
            t.uuid.clone(),
            t.numeric_id.clone(),
            w.tenants.get(t.children[0]).uuid.clone(),
            w.tenants.get(other).uuid.clone(),
        )
    };
    let h = bearer_for(&s, Scope::Customer(c1));
    let (status, all) = list(&s, &h, "limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let expected = s
        .resources(Some(&c1_uuid), usize::MAX)
        .expect("customer")
        .len();
    assert_eq!(all["items"].as_array().map(Vec::len), Some(expected));
    for q in [
        format!("tenant_id={c1_numeric}"),
        format!("tenant_id={c1_uuid}"),
    ] {
        let (status, body) = list(&s, &h, &format!("{q}&limit=1000")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["items"].as_array().map(Vec::len),
            Some(expected),
            "{q}"
        );
    }
    let unit_count = s
        .resources(Some(&unit_uuid), usize::MAX)
        .expect("unit")
        .len();
    let (status, body) = list(&s, &h, &format!("tenant_id={unit_uuid}&limit=1000")).await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(unit_count))
    );
    let (status, body) = list(&s, &h, &format!("tenant_id={other_uuid}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "AccessDeniedError");
    assert_eq!(
        body["context"]["required_scope"],
        format!("urn:acronis.com:tenant-id:{other_uuid}")
    );
    let (status, _) = list(&s, &h, "tenant_id=12345").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "unknown tenants are outside every scope"
    );
    // The partner token sees both customers in one query.
    let p = bearer_for(&s, Scope::Partner);
    let (_, both) = list(
        &s,
        &p,
        &format!("tenant_id=or({c1_uuid},{other_uuid},{unit_uuid})&limit=1000"),
    )
    .await;
    let other_count = s
        .resources(Some(&other_uuid), usize::MAX)
        .expect("other")
        .len();
    assert_eq!(
        both["items"].as_array().map(Vec::len),
        Some(expected + other_count)
    );
}

#[tokio::test]
async fn tokens_expire_and_unknown_tokens_are_refused() {
    let s = sim(20, 1);
    let h = bearer_for(&s, Scope::Partner);
    assert_eq!(list(&s, &h, "").await.0, StatusCode::OK);
    s.advance(Duration::from_secs(3 * 3600));
    let (status, body) = list(&s, &h, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AuthenticationTimeout"))
    );
    let (status, body) = list(&s, &HeaderMap::new(), "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UnauthorizedRequest"))
    );
}

#[tokio::test]
async fn deleted_and_purged_machines() {
    let s = sim(30, 5);
    let h = bearer_for(&s, Scope::Partner);
    let ids: Vec<String> = s
        .resources(None, 2)
        .expect("some")
        .into_iter()
        .map(|r| r.id)
        .collect();
    s.advance(Duration::from_secs(60));
    s.delete_resource(&ids[0], false).expect("known");
    s.delete_resource(&ids[1], true).expect("known");
    assert!(
        s.set_resource(&ids[1], ResourcePatch::default()).is_err(),
        "purged is gone"
    );
    let (_, live) = list(&s, &h, "limit=1000").await;
    let (_, with_deleted) = list(
        &s,
        &h,
        "limit=1000&include_deleted=true&order=desc(updated_at)",
    )
    .await;
    assert_eq!(live["items"].as_array().map(Vec::len), Some(28));
    let first = &with_deleted["items"][0]["context"];
    assert_eq!(first["id"], ids[0].as_str());
    assert_eq!(first["deleted_at"], first["updated_at"]);
    assert_eq!(with_deleted["items"].as_array().map(Vec::len), Some(29));
    assert!(live["items"][0]["context"].get("deleted_at").is_none());
}

#[tokio::test]
async fn id_filters_combine_and_respect_scope() {
    let s = sim(120, 3);
    let p = bearer_for(&s, Scope::Partner);
    let (_, all) = list(&s, &p, "limit=1000").await;
    let item = |i: usize| {
        let c = &all["items"][i]["context"];
        (
            c["id"].as_str().expect("id").to_string(),
            c["agent_id"].as_str().expect("agent").to_string(),
        )
    };
    let ((id0, agent0), (id1, agent1)) = (item(0), item(1));
    let count = |body: &Value| body["items"].as_array().map(Vec::len);
    let (_, by_ids) = list(&s, &p, &format!("resource_id={id0}&id={id1}")).await;
    assert_eq!(
        count(&by_ids),
        Some(2),
        "resource_id and id are the same filter"
    );
    let (_, by_agent) = list(&s, &p, &format!("agent_id=or({agent0},{agent1})")).await;
    assert_eq!(count(&by_agent), Some(2));
    let (_, both) = list(
        &s,
        &p,
        &format!("resource_id={id0},{id1}&agent_id={agent1}"),
    )
    .await;
    assert_eq!(both["items"][0]["context"]["id"], id1.as_str());
    assert_eq!(count(&both), Some(1), "both kinds must match");
    let (_, typed) = list(&s, &p, &format!("resource_id={id0}&type=resource.other")).await;
    assert_eq!(count(&typed), Some(0));
    // A scoped token does not reach another customer's machine by id.
    let owner = s.resource(&id0).expect("known").customer;
    let other = (0..5)
        .map(|n| customer(&s, n))
        .find(|&c| s.world().tenants.get(c).uuid != owner)
        .expect("another");
    let scoped = bearer_for(&s, Scope::Customer(other));
    let (status, body) = list(&s, &scoped, &format!("resource_id={id0}")).await;
    assert_eq!((status, count(&body)), (StatusCode::OK, Some(0)));
}

#[tokio::test]
async fn before_cursors_and_time_windows() {
    let s = sim(90, 8);
    let h = bearer_for(&s, Scope::Partner);
    let q = "order=desc(updated_at)&limit=20";
    let (_, p1) = list(&s, &h, q).await;
    let after = p1["paging"]["cursors"]["after"]
        .as_str()
        .expect("more")
        .to_string();
    let (_, p2) = list(&s, &h, &format!("{q}&after={after}")).await;
    let before = p2["paging"]["cursors"]["before"]
        .as_str()
        .expect("page 2 has before")
        .to_string();
    let (status, back) = list(&s, &h, &format!("{q}&before={before}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        back["items"], p1["items"],
        "before goes back exactly one page"
    );
    assert!(
        back["paging"]["cursors"].get("before").is_none(),
        "nothing precedes page 1"
    );
    assert_eq!(
        back["paging"]["cursors"]["after"].as_str(),
        Some(after.as_str())
    );
    // updated_at windows: [t5, t2) in desc order is items 3..=5.
    let t = |i: usize| {
        p1["items"][i]["context"]["updated_at"]
            .as_str()
            .expect("time")
            .to_string()
    };
    let (_, window) = list(
        &s,
        &h,
        &format!("{q}&updated_at=lt({})&updated_at=ge({})", t(2), t(5)),
    )
    .await;
    let times: Vec<&str> = window["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["context"]["updated_at"].as_str().expect("time"))
        .collect();
    assert_eq!(times, vec![t(3).as_str(), t(4).as_str(), t(5).as_str()]);
    let (_, none) = list(
        &s,
        &h,
        &format!("{q}&updated_at=gt({})&updated_at=le({})", t(2), t(5)),
    )
    .await;
    assert_eq!(
        none["items"],
        serde_json::json!([]),
        "an inverted window is empty, not a panic"
    );
}
