//! The API for promo codes, feedback, system models, the funnel, admins and the audit log.

use crate::app::{fixtures, App, ADMIN_ID};
use crate::views::{Admins, AuditEntry, Insights, ModelView, Page, Promo, SystemModel};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn promo_codes_through_the_api_and_concurrent_redemption_of_the_last_use() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    // Admin boundary: a user cannot create codes.
    fixtures::user(app.db(), 1, 0).await;
    let refused = create_promo(&app, 1, json!({"code": "FREE", "tokens": 10})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Bad input is a clear 4xx.
    let bad = create_promo(&app, ADMIN_ID, json!({"code": "x", "tokens": 10})).await;
    assert_eq!(bad.status, StatusCode::CONFLICT, "{bad:?}");
    let bad = create_promo(
        &app,
        ADMIN_ID,
        json!({"code": "BOTH", "tokens": 10, "discount_percent": 5}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::CONFLICT, "{bad:?}");

    let created = create_promo(
        &app,
        ADMIN_ID,
        json!({"code": "LAST", "tokens": 30, "max_uses": 1}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.json::<Promo>().code, "LAST");
    for id in 10..16 {
        fixtures::user(app.db(), id, 0).await;
    }
    let attempts = (10..16).map(|id| app.post("/api/promo", id, json!({"code": "last"})));
    let answers = futures::future::join_all(attempts).await;
    let ok: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert_eq!(
        ok[0].body,
        json!({"kind": "tokens", "tokens": 30, "balance": 30})
    );
    assert!(answers
        .iter()
        .filter(|a| a.status != StatusCode::OK)
        .all(|a| a.code() == "promo_exhausted"));

    let unknown = app.post("/api/promo", 1, json!({"code": "NOPE"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let unauthenticated = app
        .call(
            Method::POST,
            "/api/promo",
            None,
            Some(json!({"code": "LAST"})),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);

    let changed = app
        .patch(
            "/api/admin/promos/last",
            ADMIN_ID,
            json!({"max_uses": 5, "valid_until": null}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(changed.json::<Promo>().max_uses, Some(5));
    let again = app.post("/api/promo", 11, json!({"code": "LAST"})).await;
    assert_eq!(again.status, StatusCode::OK);
    let listed = app.get("/api/admin/promos", ADMIN_ID).await;
    assert_eq!(listed.json::<Vec<Promo>>()[0].used_count, 2);

    create_promo(
        &app,
        ADMIN_ID,
        json!({"code": "SALE", "discount_percent": 25}),
    )
    .await;
    let discount = app.post("/api/promo", 1, json!({"code": "sale"})).await;
    assert_eq!(discount.body, json!({"kind": "discount", "percent": 25}));
    let twice = app.post("/api/promo", 1, json!({"code": "sale"})).await;
    assert_eq!(twice.code(), "promo_already_used");
}

/// User 1's ready model and a generation of theirs in flight (one photo, 5 tokens paid), and user 2,
/// who has neither.
async fn a_generation_of_user_1_and_user_2(
    app: &App,
) -> (
    shared::repo::models::Model,
    shared::repo::generations::Generation,
) {
    fixtures::user(app.db(), 1, 100).await;
    fixtures::user(app.db(), 2, 0).await;
    let model = fixtures::ready_model(app.db(), 1).await;
    let generation = fixtures::generation_in_flight(app.db(), 1, model.id, "pr_1", 1, 5).await;
    (model, generation)
}

#[tokio::test]
async fn feedback_on_ones_own_generation_only() {
    let app = App::spawn().await;
    let (_, generation) = a_generation_of_user_1_and_user_2(&app).await;
    let path = format!("/api/generations/{}/feedback", generation.id);
    let rated = app
        .post(&path, 1, json!({"rating": 1, "comment": "not me"}))
        .await;
    assert_eq!(rated.status, StatusCode::OK, "{rated:?}");
    // Not delivered: no free redo, however low the rating.
    assert_eq!(
        rated.body,
        serde_json::json!({"rating": 1, "free_redo": false})
    );
    let theirs = app.post(&path, 2, json!({"rating": 5})).await;
    assert_eq!(
        theirs.status,
        StatusCode::NOT_FOUND,
        "another user's generation is not found"
    );
    let bad = app.post(&path, 1, json!({"rating": 9})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error().field(), "rating");

    fixtures::user(app.db(), ADMIN_ID, 0).await;
    let insights = app.get("/api/admin/insights", ADMIN_ID).await;
    assert_eq!(insights.status, StatusCode::OK);
    let insights: Insights = insights.json();
    assert_eq!(
        insights.recent_low_ratings[0].comment.as_deref(),
        Some("not me")
    );
    assert_eq!(insights.funnels.len(), 3);
    assert_eq!(
        app.get("/api/admin/insights", 1).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn owners_manage_admins_and_read_the_audit_log_through_the_api() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), 2, 0).await;
    fixtures::user(app.db(), 3, 0).await;
    assert_eq!(
        app.get("/api/admin/stats", 2).await.status,
        StatusCode::FORBIDDEN
    );
    let added = app
        .post("/api/admin/admins", ADMIN_ID, json!({"user_id": 2}))
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{added:?}");
    // Now an admin (from the database), but not an owner.
    assert_eq!(app.get("/api/admin/stats", 2).await.status, StatusCode::OK);
    assert_eq!(
        app.post("/api/admin/admins", 2, json!({"user_id": 3}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/admin/actions", 2).await.status,
        StatusCode::FORBIDDEN
    );
    let tokens = app
        .post(
            "/api/admin/users/3/tokens",
            2,
            json!({"delta": 50, "reason": "gift"}),
        )
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    let owner_removal = app
        .delete(&format!("/api/admin/admins/{ADMIN_ID}"), ADMIN_ID)
        .await;
    assert_eq!(owner_removal.status, StatusCode::CONFLICT);

    let model = fixtures::ready_model(app.db(), 3).await;
    let offer = |admin: i64| {
        let app = &app;
        let path = format!("/api/admin/models/{}/system", model.id);
        async move { app.post(&path, admin, json!({"system": true})).await }
    };
    // A plain admin cannot publish someone's face; an owner cannot either without its owner's consent.
    assert_eq!(offer(2).await.status, StatusCode::FORBIDDEN);
    let unconsented = offer(ADMIN_ID).await;
    assert_eq!(unconsented.status, StatusCode::CONFLICT, "{unconsented:?}");
    assert!(system_models(&app, 3).await.is_empty());
    let sharing = format!("/api/models/{}/sharing", model.id);
    let stranger = app.put(&sharing, 2, json!({"consent": true})).await;
    assert_eq!(
        stranger.status,
        StatusCode::NOT_FOUND,
        "only the model's owner consents"
    );
    let consent = app.put(&sharing, 3, json!({"consent": true})).await;
    assert_eq!(consent.status, StatusCode::NO_CONTENT, "{consent:?}");
    let system = offer(ADMIN_ID).await;
    assert_eq!(system.status, StatusCode::NO_CONTENT, "{system:?}");
    let offered = app.get("/api/system-models", 2).await;
    assert_eq!(offered.json::<Vec<SystemModel>>()[0].id, model.id);
    // The public view names nothing of its owner, weights or training.
    let fields: Vec<&String> = offered.body[0].as_object().unwrap().keys().collect();
    assert_eq!(fields, vec!["created_at", "id", "name", "preview_url"]);
    // Withdrawn: no longer offered, at once.
    let withdrawn = app.put(&sharing, 3, json!({"consent": false})).await;
    assert_eq!(withdrawn.status, StatusCode::NO_CONTENT);
    assert!(system_models(&app, 2).await.is_empty());
    assert_eq!(offer(ADMIN_ID).await.status, StatusCode::CONFLICT);

    let removed = app.delete("/api/admin/admins/2", ADMIN_ID).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/admin/stats", 2).await.status,
        StatusCode::FORBIDDEN
    );

    let log = app.get("/api/admin/actions?limit=10", ADMIN_ID).await;
    assert_eq!(log.status, StatusCode::OK);
    let log: Page<AuditEntry> = log.json();
    let actions: Vec<&str> = log.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["admin_remove", "model_change", "tokens", "admin_add"],
        "refused offers change nothing and are not logged as changes"
    );
    let admins = app.get("/api/admin/admins", ADMIN_ID).await;
    let admins: Admins = admins.json();
    assert_eq!(admins.owners, vec![ADMIN_ID]);
    assert!(admins.admins.is_empty());
}

#[tokio::test]
async fn a_model_preview_can_be_chosen_from_its_delivered_generations() {
    let app = App::spawn().await;
    let (model, generation) = a_generation_of_user_1_and_user_2(&app).await;
    let path = format!("/api/models/{}/preview", model.id);
    let not_yet = app
        .post(&path, 1, json!({"generation_id": generation.id}))
        .await;
    assert_eq!(
        not_yet.status,
        StatusCode::CONFLICT,
        "nothing delivered yet"
    );
    {
        let conn = app.db().conn().await.unwrap();
        shared::repo::generations::advance(
            &**conn,
            generation.id,
            shared::domain::status::GenerationStatus::Succeeded,
            Some(&["https://replicate.delivery/x/out-0.jpg".to_owned()]),
            None,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        app.post(&path, 2, json!({"generation_id": generation.id}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&path, 1, json!({"generation_id": generation.id}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let shown = app.get(&format!("/api/models/{}", model.id), 1).await;
    assert_eq!(
        shown.json::<ModelView>().preview_url.as_deref(),
        Some("https://replicate.delivery/x/out-0.jpg")
    );
}

#[tokio::test]
async fn sixty_wrong_promo_codes_meet_a_429() {
    let app = App::spawn().await;
    fixtures::user(app.db(), 1, 0).await;
    let mut limited = 0;
    for i in 0..60 {
        let answer = app
            .post("/api/promo", 1, json!({"code": format!("GUESS{i}")}))
            .await;
        match answer.status {
            StatusCode::NOT_FOUND => assert!(i < 10, "attempt {i} was not limited"),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(answer.code(), "rate_limited");
                limited += 1;
            }
            other => panic!("attempt {i}: {other} {answer:?}"),
        }
    }
    assert_eq!(limited, 50);
    // Another user is not affected.
    fixtures::user(app.db(), 2, 0).await;
    let other = app.post("/api/promo", 2, json!({"code": "GUESS"})).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

/// The system models `user` is offered.
async fn system_models(app: &App, user: i64) -> Vec<SystemModel> {
    app.get("/api/system-models", user).await.json()
}

/// `POST /api/admin/promos` as `user`.
async fn create_promo(app: &App, user: i64, promo: serde_json::Value) -> crate::app::Answer {
    app.post("/api/admin/promos", user, promo).await
}
