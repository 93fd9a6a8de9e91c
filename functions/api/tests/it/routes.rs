//! Every route against a real Postgres and the fakes: what it does, what it answers without
//! credentials, another user's resource (404, indistinguishable from none), bad input (4xx that says
//! what is wrong), and the admin boundary.

use crate::app::{fixtures, jpeg, multipart, tma, App, ADMIN_ID};
use crate::views::{
    Balance, Erasure, GenerationView, Health, Invoice, Me, ModelDeletion, ModelView, Pack, Page,
    PaymentView, Profile, Referrals, Stats, StyleView,
};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use shared::domain::status::ModelStatus;
use shared::repo::models;
use shared::repo::rate_limits::Limit;
use shared::repo::styles::{self, NewStyle};
use testkit::stored;

const ANN: i64 = 101;
const BOB: i64 = 202;

/// Every route, as `(method, path)` with ids that exist for ANN's resources where it matters.
fn unauthenticated_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/api/me"),
        (Method::DELETE, "/api/me"),
        (Method::PATCH, "/api/me"),
        (Method::GET, "/api/user/101"),
        (Method::GET, "/api/models"),
        (Method::GET, "/api/models/1"),
        (Method::DELETE, "/api/models/1"),
        (Method::POST, "/api/train"),
        (Method::POST, "/api/models/1/retrain"),
        (Method::POST, "/api/uploads"),
        (Method::GET, "/api/generations"),
        (Method::POST, "/api/generations"),
        (Method::GET, "/api/generations/1"),
        (Method::POST, "/api/generations/1/again"),
        (Method::POST, "/api/generations/1/redo"),
        (Method::GET, "/api/styles"),
        (Method::GET, "/api/packs"),
        (Method::POST, "/api/payments/invoice"),
        (Method::GET, "/api/payments"),
        (Method::GET, "/api/referrals"),
        (Method::GET, "/api/admin/stats"),
        (Method::GET, "/api/admin/costs"),
        (Method::GET, "/api/admin/users/101/costs"),
        (Method::GET, "/api/admin/users"),
        (Method::POST, "/api/admin/users/101/block"),
        (Method::POST, "/api/admin/users/101/unblock"),
        (Method::POST, "/api/admin/users/101/tokens"),
        (Method::GET, "/api/admin/payments"),
        (Method::POST, "/api/admin/styles"),
        (Method::PATCH, "/api/admin/styles/1"),
        (Method::DELETE, "/api/admin/styles/1"),
    ]
}

#[tokio::test]
async fn every_api_route_needs_init_data_and_changes_nothing_without_it() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 500).await;
    assert_eq!(model.id, 1);
    for (method, path) in unauthenticated_routes() {
        let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
        let answer = app.call(method.clone(), path, None, body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer:?}"
        );
        assert_eq!(answer.code(), "missing_auth", "{method} {path}");
    }
    assert_eq!(app.balance(ANN).await, 500);
    assert_eq!(stored::model(app.db(), 1).await.status, ModelStatus::Ready);
}

#[tokio::test]
async fn admin_routes_are_forbidden_to_everyone_else() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 500).await;
    for (method, path) in unauthenticated_routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/admin"))
    {
        let body = matches!(method, Method::POST | Method::PATCH)
            .then(|| json!({"delta": 5, "reason": "x", "name": "S"}));
        let answer = app.call(method.clone(), path, Some(ANN), body).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {answer:?}"
        );
        assert_eq!(answer.code(), "forbidden");
    }
    assert_eq!(app.balance(ANN).await, 500, "the grant did not happen");
}

#[tokio::test]
async fn me_shows_the_profile_balance_link_and_prices() {
    let app = App::spawn().await;
    let ann = fixtures::user(app.db(), ANN, 250).await;
    let answer = app.get("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let me: Me = answer.json();
    assert_eq!(me.profile.id, ANN);
    assert_eq!(me.profile.tokens_left, 250);
    assert!(!me.is_admin);
    assert_eq!(
        me.referral_link,
        Some(format!(
            "https://t.me/{}?start={}",
            testkit::BOT_USERNAME,
            ann.referral_code
        ))
    );
    assert_eq!(me.prices.training_cost, 100);
    assert_eq!(me.prices.generation_cost_per_image, 5);
    assert_eq!(me.prices.currency, "XTR");
    assert_eq!(me.prices.packs[0], Pack::xtr("small", 100, 150));

    fixtures::user(app.db(), ADMIN_ID, 0).await;
    assert!(app.get("/api/me", ADMIN_ID).await.json::<Me>().is_admin);
}

/// The Mini App reads the language the bot speaks and sets it; the bot's menu follows, a language we
/// do not speak is a 422 naming the field, and nothing changes then.
#[tokio::test]
async fn the_caller_reads_and_sets_their_language() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await; // Telegram's language: English

    let me: Me = app.get("/api/me", ANN).await.json();
    assert_eq!((me.language.as_str(), me.language_chosen), ("en", false));

    let changed = app.patch("/api/me", ANN, json!({"language": "ru"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let me: Me = changed.json();
    assert_eq!((me.language.as_str(), me.language_chosen), ("ru", true));
    assert_eq!(me.profile.id, ANN);
    let me: Me = app.get("/api/me", ANN).await.json();
    assert_eq!(me.language, "ru");
    assert_eq!(
        stored::user(app.db(), ANN).await.language.as_deref(),
        Some("ru")
    );
    // The chat's own command menu is now the Russian one.
    let menu = app.env.telegram.last_call("setMyCommands");
    assert_eq!(menu.body["scope"], json!({"type": "chat", "chat_id": ANN}));
    assert!(menu.body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["command"] == "train" && c["description"] == "Обучить модель по фото"));

    for bad in [
        json!({"language": "de"}),
        json!({}),
        json!({"language": "en", "x": 1}),
    ] {
        let refused = app.patch("/api/me", ANN, bad.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad} {refused:?}"
        );
    }
    let refused = app.patch("/api/me", ANN, json!({"language": "de"})).await;
    assert_eq!(refused.error().details["field"], "language");
    assert_eq!(
        stored::user(app.db(), ANN).await.language.as_deref(),
        Some("ru")
    );
}

/// Someone who met us in the Mini App only has no chat with the bot: their language is set, and
/// the menu that chat would have is skipped, not an effect failed for the admins to read about.
#[tokio::test]
async fn a_language_set_before_any_chat_with_the_bot_fails_nothing() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    app.env
        .telegram
        .fail_next("setMyCommands", 400, "Bad Request: chat not found", None);
    let changed = app.patch("/api/me", ANN, json!({"language": "ru"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert!(fixtures::unsettled_effects(app.db()).await.is_empty());
    let conn = app.db().conn().await.unwrap();
    let settled = conn
        .query_one(
            "SELECT state, result->>'skipped' FROM effects WHERE kind = 'refresh_commands'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(settled.get::<_, String>(0), "done");
    assert_eq!(
        settled.get::<_, Option<String>>(1).as_deref(),
        Some("no chat with the bot yet")
    );
    assert!(
        app.env.telegram.sent_to(ADMIN_ID).is_empty(),
        "no admin notice"
    );
}

#[tokio::test]
async fn a_user_sees_their_own_profile_and_only_admins_see_others() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    fixtures::user(app.db(), BOB, 40).await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;

    let own = app.get("/api/user/101", ANN).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.json::<Profile>().id, ANN);

    let other = app.get("/api/user/202", ANN).await;
    let none = app.get("/api/user/999", ANN).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.body, none.body,
        "another user's profile looks like no profile"
    );

    let by_admin = app.get("/api/user/202", ADMIN_ID).await;
    assert_eq!(by_admin.status, StatusCode::OK);
    assert_eq!(by_admin.json::<Profile>().tokens_left, 40);
    assert_eq!(
        app.get("/api/user/999", ADMIN_ID).await.status,
        StatusCode::NOT_FOUND
    );

    let bad = app.get("/api/user/not-a-number", ANN).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "bad_request");
}

#[tokio::test]
async fn referrals_show_the_link_and_who_joined() {
    let app = App::spawn().await;
    let ann = fixtures::user(app.db(), ANN, 0).await;
    {
        let conn = app.db().conn().await.unwrap();
        fixtures::user(app.db(), BOB, 0).await;
        shared::repo::referrals::record_invite(&**conn, ANN, BOB)
            .await
            .unwrap();
    }
    let answer = app.get("/api/referrals", ANN).await;
    assert_eq!(answer.status, StatusCode::OK);
    let referrals: Referrals = answer.json();
    assert_eq!(referrals.code, ann.referral_code);
    assert_eq!(referrals.stats.joined, 1);
    assert_eq!(referrals.stats.paid, 0);
    assert_eq!(referrals.bonus_tokens_per_referral, 30);
    assert!(referrals.link.ends_with(&ann.referral_code));
}

#[tokio::test]
async fn models_are_listed_in_pages_and_others_models_are_not_found() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 1000).await;
    fixtures::user(app.db(), BOB, 1000).await;
    let first = fixtures::ready_model(app.db(), ANN).await;
    let second = fixtures::queued_model(app.db(), ANN, 10, 0).await;
    let third = fixtures::queued_model(app.db(), ANN, 12, 0).await;
    let bobs = fixtures::queued_model(app.db(), BOB, 10, 0).await;

    let page = app.get("/api/models?limit=2", ANN).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    let page: Page<ModelView> = page.json();
    assert_eq!(page.ids(), vec![third.id, second.id]);
    assert_eq!(page.next_cursor, Some(second.id));
    let next: Page<ModelView> = app
        .get(&format!("/api/models?limit=2&cursor={}", second.id), ANN)
        .await
        .json();
    assert_eq!(next.ids(), vec![first.id]);
    assert_eq!(next.next_cursor, None);
    let all = app.get("/api/models", ANN).await;
    assert_eq!(all.json::<Page<ModelView>>().items.len(), 3);
    assert!(
        all.body["items"][0].get("version").is_none(),
        "Replicate references are not shown"
    );

    let one = app.get(&format!("/api/models/{}", first.id), ANN).await;
    assert_eq!(one.status, StatusCode::OK);
    let one: ModelView = one.json();
    assert_eq!(one.status, "ready");
    assert_eq!(one.photo_count, 10);

    let foreign = app.get(&format!("/api/models/{}", bobs.id), ANN).await;
    let missing = app.get("/api/models/424242", ANN).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.body, missing.body);

    for (query, status, field) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "limit"),
        ("limit=101", StatusCode::UNPROCESSABLE_ENTITY, "limit"),
        ("cursor=-4", StatusCode::UNPROCESSABLE_ENTITY, "cursor"),
        ("limit=ten", StatusCode::UNPROCESSABLE_ENTITY, "limit"),
    ] {
        let answer = app.get(&format!("/api/models?{query}"), ANN).await;
        assert_eq!(answer.status, status, "{query}: {answer:?}");
        let error = answer.error();
        assert!(error.message.len() > 5);
        if !field.is_empty() {
            assert_eq!(error.field(), field);
        }
    }
}

#[tokio::test]
async fn deleting_a_ready_model_removes_its_photos_and_its_version_at_replicate() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    fixtures::user(app.db(), BOB, 0).await;
    let model = fixtures::ready_model(app.db(), ANN).await;

    let foreign = app.delete(&format!("/api/models/{}", model.id), BOB).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert!(app.env.replicate.calls_to("DELETE", "/models").is_empty());

    let answer = app.delete(&format!("/api/models/{}", model.id), ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let deletion: ModelDeletion = answer.json();
    assert_eq!(deletion.photos_removed, 10);
    assert!(deletion.version_deleted);
    assert!(!deletion.training_canceled);
    assert_eq!(deletion.model.status, "canceled");
    assert_eq!(deletion.model.photo_count, 0);
    let deletes = app
        .env
        .replicate
        .calls_to("DELETE", "/models/dreamtest/dream-photo-loras/versions/");
    assert_eq!(deletes.len(), 1);
    assert!(deletes[0].path.ends_with(&"b".repeat(64)));

    let stored = stored::model(app.db(), model.id).await;
    assert_eq!(stored.version, None);
    assert_eq!(stored.weights_url, None);
    assert!(stored::photos(app.db(), model.id).await.is_empty());

    // Deleting again does nothing more.
    let again = app.delete(&format!("/api/models/{}", model.id), ANN).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json::<ModelDeletion>().photos_removed, 0);
    assert_eq!(app.env.replicate.calls_to("DELETE", "/models").len(), 1);

    let bad = app.delete("/api/models/x", ANN).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deleting_a_model_in_training_cancels_it_and_a_queued_one_is_refunded() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 300).await;
    let training = fixtures::training_model(app.db(), ANN, "tr_77", 100).await;
    let queued = fixtures::queued_model(app.db(), ANN, 10, 100).await;
    assert_eq!(app.balance(ANN).await, 100);

    let answer = app
        .delete(&format!("/api/models/{}", training.id), ANN)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let deletion: ModelDeletion = answer.json();
    assert!(deletion.training_canceled);
    assert_eq!(deletion.refunded, 0);
    assert_eq!(
        app.env
            .replicate
            .calls_to("POST", "/trainings/tr_77/cancel")
            .len(),
        1
    );

    let answer = app.delete(&format!("/api/models/{}", queued.id), ANN).await;
    assert_eq!(answer.json::<ModelDeletion>().refunded, 100);
    assert_eq!(app.balance(ANN).await, 200);
    // The worker then finds nothing to train.
    training_worker_skips(&app, queued.id).await;
}

#[tokio::test]
async fn a_deletion_whose_refund_meets_a_concurrent_one_fails_for_now_and_is_done_on_retry() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 300).await;
    let queued = fixtures::queued_model(app.db(), ANN, 10, 100).await;
    // The model's refund is written by someone else just after this deletion looked (a trigger
    // writes it first, once): the deletion's transaction meets the ledger's once-only index.
    fixtures::meanwhile(
        app.db(),
        "refunded_meanwhile",
        "BEFORE INSERT ON token_ledger",
        "IF NEW.reason = 'refund' AND pg_trigger_depth() = 1
            AND nextval('refunded_meanwhile_count') = 1 THEN
             INSERT INTO token_ledger (user_id, delta, balance_after, reason, reference)
             VALUES (NEW.user_id, NEW.delta, NEW.balance_after, NEW.reason, NEW.reference);
         END IF;
         RETURN NEW;",
    )
    .await;

    let path = format!("/api/models/{}", queued.id);
    let raced = app.delete(&path, ANN).await;
    assert_eq!(raced.status, StatusCode::SERVICE_UNAVAILABLE, "{raced:?}");
    assert_eq!(
        stored::model(app.db(), queued.id).await.status,
        ModelStatus::Queued,
        "nothing changed"
    );
    let retried = app.delete(&path, ANN).await;
    assert_eq!(retried.status, StatusCode::OK, "{retried:?}");
    assert_eq!(retried.json::<ModelDeletion>().refunded, 100);
    assert_eq!(app.balance(ANN).await, 300, "refunded once");
    training_worker_skips(&app, queued.id).await;
}

async fn training_worker_skips(app: &App, model_id: i64) {
    let conn = app.db().conn().await.unwrap();
    let model = stored::model(app.db(), model_id).await;
    assert_eq!(model.status, ModelStatus::Canceled);
    assert!(!models::start_training(&**conn, model_id, "tr_late", "x/y")
        .await
        .unwrap());
}

#[tokio::test]
async fn deletion_fails_cleanly_when_replicate_fails() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 0).await;
    app.env
        .replicate
        .fail_next("/models/dreamtest", 500, "boom");
    let answer = app.delete(&format!("/api/models/{}", model.id), ANN).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.code(), "temporarily_unavailable");
    let stored = stored::model(app.db(), model.id).await;
    assert_eq!(stored.status, ModelStatus::Ready, "nothing was deleted");
    assert_eq!(stored.photo_count, 10);
}

fn photos(n: u8) -> Vec<(&'static str, String, &'static str, Vec<u8>)> {
    (0..n)
        .map(|i| ("photos", format!("p{i}.jpg"), "image/jpeg", jpeg(i)))
        .collect()
}

async fn post_form(
    app: &App,
    user: i64,
    name: &str,
    files: Vec<(&'static str, String, &'static str, Vec<u8>)>,
) -> crate::app::Answer {
    let files: Vec<(&str, &str, &str, Vec<u8>)> = files
        .iter()
        .map(|(f, n, c, b)| (*f, n.as_str(), *c, b.clone()))
        .collect();
    let (content_type, body) = multipart(&[("name", name)], &files);
    app.post_bytes("/api/train", user, content_type, body).await
}

#[tokio::test]
async fn training_from_a_form_keeps_the_photos_in_our_bucket_and_queues_the_model() {
    let mut app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    let answer = post_form(&app, ANN, "Me at work", photos(11)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let model: ModelView = answer.json();
    assert_eq!(model.status, "queued");
    assert_eq!(model.name, "Me at work");
    assert_eq!(model.photo_count, 11);
    assert_eq!(model.cost_tokens, 100);
    let model_id = model.id;

    // Nothing goes to Replicate's file storage: the photos are ours, under the model.
    assert!(app.env.replicate.calls_to("POST", "/files").is_empty());
    assert_eq!(app.balance(ANN).await, 50);
    assert_eq!(app.jobs.try_recv().unwrap().model_id, model_id);
    let stored = stored::photos(app.db(), model_id).await;
    assert_eq!(stored.len(), 11);
    assert!(stored.iter().all(|p| p
        .storage_key
        .as_deref()
        .unwrap()
        .starts_with(&format!("photos/{ANN}/{model_id}/"))
        && p.source_url.is_none()
        && p.telegram_file_id.is_none()
        && p.mime_type.as_deref() == Some("image/jpeg")));
    assert_eq!(
        app.env
            .objects
            .list(&format!("photos/{ANN}/{model_id}/"))
            .len(),
        11
    );
}

#[tokio::test]
async fn uploaded_photos_are_known_by_their_bytes_not_their_declared_type() {
    let mut app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;

    let mut html = photos(10);
    html[4].3 = b"<!doctype html><html><body>Sign in</body></html>".to_vec();
    let answer = post_form(&app, ANN, "Me", html).await;
    assert_unprocessable(
        &answer,
        json!({"field": "photos", "index": 4, "reason": "the file is not an image (JPEG, PNG, WebP or HEIC)"}),
    );
    assert!(app.env.objects.list("photos/").is_empty());

    // A PNG sent as "image/jpeg" is kept as what it is.
    let mut png = photos(10);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&[0u8; 32]);
    png[0].3 = bytes;
    let answer = post_form(&app, ANN, "Me", png).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let model_id = answer.json::<ModelView>().id;
    assert_eq!(app.jobs.try_recv().unwrap().model_id, model_id);
    let stored = stored::photos(app.db(), model_id).await;
    let types: Vec<_> = stored
        .iter()
        .map(|p| p.mime_type.as_deref().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "image/png").count(),
        1,
        "{types:?}"
    );
    assert_eq!(types.iter().filter(|t| **t == "image/jpeg").count(), 9);
    let kept = app.env.objects.list(&format!("photos/{ANN}/{model_id}/"));
    assert_eq!(
        kept.iter().filter(|k| k.ends_with(".png")).count(),
        1,
        "{kept:?}"
    );
}

#[tokio::test]
async fn training_requests_that_break_a_rule_are_refused_before_anything_is_uploaded() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    fixtures::user(app.db(), BOB, 10).await;

    let answer = post_form(&app, ANN, "Me", photos(9)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = answer.error();
    assert_eq!(error.field(), "photos");
    assert!(error.message.contains("10 to 20 photos"));

    // The same photo eleven times is one photo.
    let same: Vec<_> = (0..11)
        .map(|i| ("photos", format!("p{i}.jpg"), "image/jpeg", jpeg(1)))
        .collect();
    assert_eq!(
        post_form(&app, ANN, "Me", same).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let mut pdf = photos(10);
    pdf[3] = (
        "photos",
        "doc.pdf".into(),
        "application/pdf",
        b"%PDF-1.7".to_vec(),
    );
    let answer = post_form(&app, ANN, "Me", pdf).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = answer.error();
    assert_eq!(error.details["index"], 3);
    assert!(error.message.contains("not an image"));

    let mut disguised = photos(10);
    disguised[0].3 = b"definitely not a jpeg".to_vec();
    assert_eq!(
        post_form(&app, ANN, "Me", disguised).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let answer = post_form(&app, ANN, "", photos(10)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.error().field(), "name");

    let answer = post_form(&app, BOB, "Me", photos(10)).await;
    assert_eq!(answer.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(answer.code(), "insufficient_tokens");
    assert_eq!(
        answer.error().details,
        json!({"available": 10, "required": 100})
    );

    assert!(
        app.env.replicate.calls_to("POST", "/files").is_empty(),
        "nothing was uploaded"
    );
    assert_eq!(app.balance(ANN).await, 150);
    let models = app.get("/api/models", ANN).await;
    assert!(
        models.json::<Page<ModelView>>().items.is_empty(),
        "no drafts are left behind"
    );
}

/// `POST /api/train` by ANN with photo URLs.
async fn train_from_urls(app: &App, name: &str, urls: &[String]) -> crate::app::Answer {
    let body = json!({"name": name, "photo_urls": urls});
    app.post("/api/train", ANN, body).await
}

/// A 422 whose details are exactly these.
fn assert_unprocessable(answer: &crate::app::Answer, details: serde_json::Value) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.error().details, details);
}

#[tokio::test]
async fn training_from_photo_urls_and_bad_bodies() {
    let mut app = App::spawn().await;
    fixtures::user(app.db(), ANN, 100).await;
    let urls: Vec<String> = (0..12)
        .map(|i| format!("https://cdn.example.com/ann/{i}.jpg"))
        .collect();
    let answer = train_from_urls(&app, "Ann", &urls).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(answer.json::<ModelView>().photo_count, 12);
    let model_id = answer.json::<ModelView>().id;
    assert_eq!(app.jobs.try_recv().unwrap().model_id, model_id);
    assert!(app.env.replicate.calls_to("POST", "/files").is_empty());
    let stored = stored::photos(app.db(), model_id).await;
    assert_eq!(
        stored[0].source_url.as_deref(),
        Some("https://cdn.example.com/ann/0.jpg")
    );

    // Now out of tokens.
    let answer = train_from_urls(&app, "Again", &urls).await;
    assert_eq!(answer.status, StatusCode::PAYMENT_REQUIRED);

    let mut local = urls.clone();
    local[5] = "http://169.254.169.254/latest/meta-data/".into();
    let answer = train_from_urls(&app, "Ann", &local).await;
    assert_unprocessable(
        &answer,
        json!({"field": "photo_urls", "index": 5, "reason": "the URL must point to a public host"}),
    );

    let mut plain = urls.clone();
    plain[2] = "http://cdn.example.com/ann/2.jpg".into();
    let answer = train_from_urls(&app, "Ann", &plain).await;
    assert_unprocessable(
        &answer,
        json!({"field": "photo_urls", "index": 2, "reason": "only https URLs"}),
    );

    let answer = app.post("/api/train", ANN, json!({"name": "Ann"})).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.error().message.contains("photo_urls"), "{answer:?}");

    let answer = train_from_urls(&app, "A\u{0}B", &urls).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.error().field(), "name");

    let answer = app
        .post_bytes("/api/train", ANN, "application/json", "{\"name\": ")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "malformed_json");

    let answer = app
        .post_bytes("/api/train", ANN, "text/plain", "hello")
        .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn bodies_over_what_lambda_receives_are_refused_with_413() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 1000).await;
    let big = vec![0xAB_u8; api::MAX_BODY_BYTES + 1024];
    let (content_type, body) = multipart(
        &[("name", "Big")],
        &[("photos", "big.jpg", "image/jpeg", big)],
    );
    let answer = app.post_bytes("/api/train", ANN, content_type, body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
    assert_eq!(answer.code(), "payload_too_large");

    let prompt = "x".repeat(api::MAX_BODY_BYTES + 10);
    let answer = app.generate(ANN, 1, &prompt, 1).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), "payload_too_large");
}

#[tokio::test]
async fn costly_routes_are_rate_limited_per_user_in_postgres() {
    let limits = api::RateLimits {
        generation: Limit {
            action: "generation",
            max: 2,
            window_seconds: 60,
        },
        training: Limit {
            action: "training",
            max: 1,
            window_seconds: 3600,
        },
        ..Default::default()
    };
    let app = App::spawn_with(|_| {}, limits).await;
    fixtures::user(app.db(), ANN, 1000).await;
    fixtures::user(app.db(), BOB, 1000).await;
    let model = fixtures::ready_model(app.db(), ANN).await;
    let bobs = fixtures::ready_model(app.db(), BOB).await;
    let generate =
        |_user: i64, model: i64| json!({"model_id": model, "prompt": "on a beach", "count": 1});
    for _ in 0..2 {
        assert_eq!(
            app.post("/api/generations", ANN, generate(ANN, model.id))
                .await
                .status,
            StatusCode::ACCEPTED
        );
    }
    let limited = app
        .post("/api/generations", ANN, generate(ANN, model.id))
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    let retry: i64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.error().retry_after(), retry);
    assert_eq!(
        app.balance(ANN).await,
        990,
        "the limited request cost nothing"
    );
    // Another user has their own allowance; so does another Lambda (a second router, same database).
    assert_eq!(
        app.post("/api/generations", BOB, generate(BOB, bobs.id))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let (services, _jobs) = app.env.services();
    let other_lambda = api::router(api::State::with_limits(services, limits));
    let request = Request::post("/api/generations")
        .header(header::AUTHORIZATION, tma(ANN))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(generate(ANN, model.id).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(other_lambda, request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    let urls: Vec<String> = (0..10)
        .map(|i| format!("https://cdn.example.com/{i}.jpg"))
        .collect();
    assert_eq!(
        train_from_urls(&app, "A", &urls).await.status,
        StatusCode::ACCEPTED
    );
    let answer = train_from_urls(&app, "B", &urls).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    // Windows are aligned to the clock: the wait is what is left of this hour's window.
    let retry_after = answer.error().retry_after();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn generations_are_paid_started_listed_and_private() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 100).await;
    fixtures::user(app.db(), BOB, 100).await;
    let model = fixtures::ready_model(app.db(), ANN).await;
    let style = {
        let conn = app.db().conn().await.unwrap();
        styles::create(
            &**conn,
            &NewStyle {
                name: "Noir".into(),
                prompt_template: "{prompt}, film noir".into(),
                lora_scale: 1.0,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap()
    };

    let answer = app
        .post(
            "/api/generations",
            ANN,
            json!({"model_id": model.id, "prompt": "on a beach", "style_id": style.id, "count": 2}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert!(answer.body.get("full_prompt").is_none());
    let generation: GenerationView = answer.json();
    assert_eq!(generation.status, "starting");
    assert_eq!(generation.num_images, 2);
    assert_eq!(generation.cost_tokens, 10);
    assert_eq!(generation.style_id, Some(style.id));
    let id = generation.id;
    assert_eq!(app.balance(ANN).await, 90);
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions.len(), 1);
    assert!(predictions[0]
        .input("prompt")
        .as_str()
        .unwrap()
        .contains("film noir"));

    let list: Page<GenerationView> = app.get("/api/generations", ANN).await.json();
    assert_eq!(list.ids(), vec![id]);
    assert_eq!(list.next_cursor, None);
    let one: GenerationView = app.get(&format!("/api/generations/{id}"), ANN).await.json();
    assert_eq!(one.prompt, "on a beach");

    let foreign = app.get(&format!("/api/generations/{id}"), BOB).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(
        foreign.body,
        app.get("/api/generations/999999", BOB).await.body
    );
    let bobs: Page<GenerationView> = app.get("/api/generations", BOB).await.json();
    assert!(bobs.items.is_empty());

    // Generating with another user's model: not found, nothing charged.
    let answer = app.generate(BOB, model.id, "hi", 1).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(app.balance(BOB).await, 100);
}

/// Four generations at once with tokens for one: one is paid and started, the others are refused
/// with 402 and leave nothing behind (no generation, no Replicate call, no status message), and the
/// balance is the ledger's sum.
#[tokio::test]
async fn concurrent_generations_pay_once_for_the_tokens_there_are() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 5).await;
    let body = json!({"model_id": model.id, "prompt": "on a beach", "count": 1});
    let answers =
        futures::future::join_all((0..4).map(|_| app.post("/api/generations", ANN, body.clone())))
            .await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            StatusCode::ACCEPTED,
            StatusCode::PAYMENT_REQUIRED,
            StatusCode::PAYMENT_REQUIRED,
            StatusCode::PAYMENT_REQUIRED
        ],
        "{answers:?}"
    );
    assert_eq!(stored::balance(app.db(), ANN).await, 0);
    let list: Page<GenerationView> = app.get("/api/generations", ANN).await.json();
    assert_eq!(list.items.len(), 1, "the refused ones left no generation");
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 1);
    assert_eq!(
        app.env.telegram.calls_of("sendMessage").len(),
        1,
        "one status message"
    );
}

#[tokio::test]
async fn generation_input_is_checked_and_failures_are_refunded() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 12).await;
    let queued = fixtures::queued_model(app.db(), ANN, 10, 0).await;
    let cases = [
        (
            json!({"model_id": model.id, "prompt": "hi", "count": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "count",
        ),
        (
            json!({"model_id": model.id, "prompt": "  ", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt",
        ),
        (
            json!({"model_id": model.id, "prompt": "x".repeat(501), "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt",
        ),
        (
            json!({"model_id": model.id, "prompt": "a\u{0}b", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt",
        ),
        (
            json!({"model_id": queued.id, "prompt": "hi", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "model_id",
        ),
        (
            json!({"model_id": model.id, "prompt": "hi", "count": 1, "style_id": 77}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"model_id": model.id, "prompt": "hi", "count": 3}),
            StatusCode::PAYMENT_REQUIRED,
            "",
        ),
        (
            json!({"model_id": "one", "prompt": "hi", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            json!({"prompt": "hi", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (json!([1, 2]), StatusCode::UNPROCESSABLE_ENTITY, ""),
    ];
    for (body, status, field) in cases {
        let answer = app.post("/api/generations", ANN, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {answer:?}");
        let error = answer.error();
        assert!(!error.message.is_empty());
        if !field.is_empty() {
            assert_eq!(error.field(), field, "{body}");
        }
    }
    assert_eq!(app.balance(ANN).await, 12);

    app.env
        .replicate
        .fail_next("/predictions", 422, "invalid input");
    let answer = app.generate(ANN, model.id, "hi", 2).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
    assert_eq!(answer.code(), "upstream_error");
    assert_eq!(app.balance(ANN).await, 12, "refunded");
    // The status message sent while Replicate was asked does not stay behind.
    assert_eq!(app.env.telegram.calls_of("deleteMessage").len(), 1);
}

#[tokio::test]
async fn styles_and_packs_are_listed() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    {
        let conn = app.db().conn().await.unwrap();
        for (name, tags) in [
            ("Noir", vec!["film".to_owned()]),
            ("Beach", vec![]),
            ("Old", vec!["film".to_owned()]),
        ] {
            styles::create(
                &**conn,
                &NewStyle {
                    name: name.into(),
                    prompt_template: "{prompt}".into(),
                    lora_scale: 1.0,
                    tags,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        let old = styles::list(&**conn, true)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.name == "Old")
            .unwrap();
        let off = styles::StyleUpdate {
            is_active: Some(false),
            ..Default::default()
        };
        styles::update(&**conn, old.id, &off).await.unwrap();
    }
    let names = |answer: &crate::app::Answer| {
        answer
            .json::<Vec<StyleView>>()
            .into_iter()
            .map(|style| style.name)
            .collect::<Vec<_>>()
    };
    let all = app.get("/api/styles", ANN).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(names(&all), vec!["Beach", "Noir"]);
    // Users see what a style is, not how it is made.
    let fields: Vec<&String> = all.body[0].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        vec!["description", "gender", "id", "name", "preview_url", "tags"]
    );
    assert_eq!(
        names(&app.get("/api/styles?tag=FILM", ANN).await),
        vec!["Noir"]
    );
    assert!(names(&app.get("/api/styles?tag=no%20such%20tag", ANN).await).is_empty());

    let packs = app.get("/api/packs", ANN).await;
    assert_eq!(packs.status, StatusCode::OK);
    let packs: Vec<Pack> = packs.json();
    assert_eq!(packs.len(), 3);
    assert_eq!(packs[2], Pack::xtr("large", 1000, 1200));
}

#[tokio::test]
async fn an_invoice_link_is_made_for_a_pack_and_payments_are_private() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    fixtures::user(app.db(), BOB, 0).await;

    let answer = app
        .post("/api/payments/invoice", ANN, json!({"pack_id": "medium"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let invoice: Invoice = answer.json();
    assert_eq!(invoice.url, "https://t.me/$invoice-test");
    assert_eq!(invoice.price, 400);
    assert_eq!(invoice.tokens, 300);
    let calls = app.env.telegram.calls_of("createInvoiceLink");
    assert_eq!(calls.len(), 1);
    let link = calls[0].invoice();
    assert_eq!(link.payload, "pack:medium:300:400");
    assert_eq!(link.currency, "XTR");
    assert_eq!(link.amount(), 400);
    assert_eq!(link.provider_token, None);

    let answer = app
        .post("/api/payments/invoice", ANN, json!({"pack_id": "huge"}))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.error().field(), "pack_id");
    let answer = app
        .post("/api/payments/invoice", ANN, json!({"pack": "small"}))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);

    app.env.telegram.outage_next("createInvoiceLink");
    let answer = app
        .post("/api/payments/invoice", ANN, json!({"pack_id": "small"}))
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");

    fixtures::small_pack_paid(app.db(), ANN, "ch_1").await;
    let mine = app.get("/api/payments", ANN).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body["items"][0].get("telegram_charge_id").is_none());
    assert_eq!(mine.json::<Page<PaymentView>>().items[0].amount, 150);
    let bobs: Page<PaymentView> = app.get("/api/payments", BOB).await.json();
    assert!(bobs.items.is_empty());
}

#[tokio::test]
async fn admins_see_statistics_users_and_payments() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 10).await;
    fixtures::user(app.db(), BOB, 20).await;
    fixtures::small_pack_paid(app.db(), BOB, "ch_9").await;
    let stats = app.get("/api/admin/stats", ADMIN_ID).await;
    assert_eq!(stats.status, StatusCode::OK);
    let stats: Stats = stats.json();
    assert_eq!(stats.users_total, 3);
    assert_eq!(stats.revenue[0].amount, 150);

    let users = |query: String| {
        let app = &app;
        async move {
            let answer = app
                .get(&format!("/api/admin/users?{query}"), ADMIN_ID)
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
            answer.json::<Page<Profile>>()
        }
    };
    assert_eq!(users("query=%40user202".into()).await.ids(), vec![BOB]);
    assert_eq!(users("query=101".into()).await.ids(), vec![ANN]);
    let page = users("limit=2".into()).await;
    assert_eq!(page.items.len(), 2);
    let cursor = page.next_cursor.expect("a next page");
    assert_eq!(
        users(format!("limit=2&cursor={cursor}")).await.items.len(),
        1
    );
    let bad = app
        .get(
            &format!("/api/admin/users?query={}", "a".repeat(65)),
            ADMIN_ID,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let payments = app.get("/api/admin/payments", ADMIN_ID).await;
    assert_eq!(
        payments.json::<Page<PaymentView>>().items[0].user_id,
        Some(BOB)
    );
}

#[tokio::test]
async fn admins_block_unblock_and_adjust_tokens() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 10).await;

    let blocked = app.post_empty("/api/admin/users/101/block", ADMIN_ID).await;
    assert_eq!(blocked.status, StatusCode::OK);
    assert!(blocked.json::<Profile>().is_blocked);
    assert_eq!(app.get("/api/me", ANN).await.code(), "blocked");
    let unblocked = app
        .post_empty("/api/admin/users/101/unblock", ADMIN_ID)
        .await;
    assert!(!unblocked.json::<Profile>().is_blocked);
    assert_eq!(app.get("/api/me", ANN).await.status, StatusCode::OK);
    assert_eq!(
        app.post_empty("/api/admin/users/555/block", ADMIN_ID)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let own = app
        .post_empty(&format!("/api/admin/users/{ADMIN_ID}/block"), ADMIN_ID)
        .await;
    assert_eq!(own.status, StatusCode::CONFLICT);

    let granted = app
        .post(
            "/api/admin/users/101/tokens",
            ADMIN_ID,
            json!({"delta": 50, "reason": "support"}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{granted:?}");
    let balance: Balance = granted.json();
    assert_eq!((balance.user_id, balance.tokens_left), (ANN, 60));
    let taken = app
        .post(
            "/api/admin/users/101/tokens",
            ADMIN_ID,
            json!({"delta": -20, "reason": "mistake"}),
        )
        .await;
    assert_eq!(taken.json::<Balance>().tokens_left, 40);
    assert_eq!(app.balance(ANN).await, 40);

    let too_much = app
        .post(
            "/api/admin/users/101/tokens",
            ADMIN_ID,
            json!({"delta": -41, "reason": "x"}),
        )
        .await;
    assert_eq!(too_much.status, StatusCode::PAYMENT_REQUIRED);
    for (body, field) in [
        (json!({"delta": 0, "reason": "x"}), "delta"),
        (json!({"delta": 2_000_000_000_i64, "reason": "x"}), "delta"),
        (json!({"delta": 5, "reason": " "}), "reason"),
    ] {
        let answer = app
            .post("/api/admin/users/101/tokens", ADMIN_ID, body)
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.error().field(), field);
    }
    let nobody = app
        .post(
            "/api/admin/users/555/tokens",
            ADMIN_ID,
            json!({"delta": 5, "reason": "x"}),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert_eq!(app.balance(ANN).await, 40);
}

#[tokio::test]
async fn admins_create_change_and_disable_styles() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 0).await;

    let created = app
        .post("/api/admin/styles", ADMIN_ID, json!({"name": "Noir", "prompt_template": "{prompt}, film noir", "tags": ["Film"], "gender": "female"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let created: StyleView = created.json();
    assert_eq!(created.tags, vec!["film"]);
    assert_eq!(created.is_active, Some(true));
    let id = created.id;

    let duplicate = app
        .post("/api/admin/styles", ADMIN_ID, json!({"name": "Noir"}))
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "X", "lora_scale": 9.5}), "lora_scale"),
        (json!({"name": "X", "gender": "robot"}), "gender"),
        (
            json!({"name": "X", "trigger_word": "two words"}),
            "trigger_word",
        ),
    ] {
        let answer = app.post("/api/admin/styles", ADMIN_ID, body.clone()).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer.error().field(), field);
    }

    let changed = app
        .patch(
            &format!("/api/admin/styles/{id}"),
            ADMIN_ID,
            json!({"name": "Film noir", "gender": null, "lora_scale": 0.8}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let changed: StyleView = changed.json();
    assert_eq!(changed.name, "Film noir");
    assert_eq!(changed.gender, None);
    assert_eq!(changed.lora_scale, Some(0.8));
    assert_eq!(
        changed.prompt_template.as_deref(),
        Some("{prompt}, film noir"),
        "untouched fields stay"
    );

    let other = app
        .post("/api/admin/styles", ADMIN_ID, json!({"name": "Beach"}))
        .await;
    let taken = app
        .patch(
            &format!("/api/admin/styles/{}", other.json::<StyleView>().id),
            ADMIN_ID,
            json!({"name": "Film noir"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let missing = app
        .patch(
            "/api/admin/styles/9999",
            ADMIN_ID,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let disabled = app
        .delete(&format!("/api/admin/styles/{id}"), ADMIN_ID)
        .await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.json::<StyleView>().is_active, Some(false));
    let visible: Vec<StyleView> = app.get("/api/styles", ANN).await.json();
    assert_eq!(visible.len(), 1, "only Beach is left for users");
    let back = app
        .patch(
            &format!("/api/admin/styles/{id}"),
            ADMIN_ID,
            json!({"is_active": true}),
        )
        .await;
    assert_eq!(back.json::<StyleView>().is_active, Some(true));
    assert_eq!(
        app.delete("/api/admin/styles/9999", ADMIN_ID).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = App::spawn().await;
    let answer = app.call(Method::GET, "/api/nothing-here", None, None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.code(), "no_route");
    let answer = app.call(Method::PUT, "/api/models", None, None).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.code(), "method_not_allowed");
}

#[tokio::test]
async fn health_tells_the_public_degraded_but_not_why() {
    let port = testkit::cluster::free_port().unwrap();
    let down = format!("postgres://postgres:secret-pass@127.0.0.1:{port}/dream");
    let app = App::spawn_with_var("DATABASE_URL", Some(&down)).await;
    let answer = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let health: Health = answer.json();
    assert_eq!(health.status, "degraded");
    assert_eq!(health.database.status, "error");
    let text = answer.body.to_string();
    for private in [
        "127.0.0.1",
        &port.to_string(),
        "refused",
        "secret-pass",
        "error trying",
    ] {
        assert!(!text.contains(private), "{private} in {text}");
    }
}

#[tokio::test]
async fn admins_cannot_grant_themselves_and_grants_are_capped() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 0).await;
    let grant = |user: i64, delta: i64| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/admin/users/{user}/tokens"),
                ADMIN_ID,
                json!({"delta": delta, "reason": "support"}),
            )
            .await
        }
    };
    let own = grant(ADMIN_ID, 100).await;
    assert_eq!(own.status, StatusCode::CONFLICT, "{own:?}");
    assert!(own.error().message.contains("themselves"));
    assert_eq!(app.balance(ADMIN_ID).await, 0);

    let huge = grant(ANN, 10_001).await;
    assert_eq!(huge.status, StatusCode::CONFLICT, "{huge:?}");
    for _ in 0..5 {
        assert_eq!(grant(ANN, 10_000).await.status, StatusCode::OK);
    }
    let over = grant(ANN, 1).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{over:?}");
    assert!(over.error().message.contains("a day"));
    assert_eq!(app.balance(ANN).await, 50_000);
    // Taking back is not a grant: still allowed.
    assert_eq!(grant(ANN, -1).await.status, StatusCode::OK);

    let conn = app.db().conn().await.unwrap();
    let audited = shared::repo::admins::actions(&**conn, shared::repo::Page::first(100))
        .await
        .unwrap();
    assert_eq!(
        audited
            .iter()
            .filter(|a| a.target_user_id == Some(ANN))
            .count(),
        6,
        "every change is audited"
    );
}

#[tokio::test]
async fn a_form_of_fifty_thousand_parts_or_twenty_one_photos_is_refused_before_any_work() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 1000).await;
    let post = |content_type: String, body: Vec<u8>| {
        app.send(
            Request::post("/api/train")
                .header(header::AUTHORIZATION, tma(ANN))
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
    };
    let mut many = Vec::new();
    for _ in 0..50_000 {
        many.extend_from_slice(b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n");
    }
    many.extend_from_slice(b"--b--\r\n");
    assert!(
        many.len() < api::MAX_BODY_BYTES,
        "within the body limit: the parts are the attack"
    );
    let answer = post("multipart/form-data; boundary=b".into(), many).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert!(answer.error().message.contains("at most"));

    let photos: Vec<_> = (0..21u8)
        .map(|i| ("photos", "p.jpg", "image/jpeg", jpeg(i)))
        .collect();
    let (content_type, body) = multipart(&[("name", "Many")], &photos);
    let answer = post(content_type, body).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert!(answer.error().message.contains("21"), "{answer:?}");

    assert!(app.env.replicate.calls().is_empty(), "nothing uploaded");
    let conn = app.db().conn().await.unwrap();
    assert!(
        models::list_for_user(&**conn, ANN, shared::repo::Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn invoice_links_are_rate_limited_per_user() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    for _ in 0..20 {
        let answer = app
            .post("/api/payments/invoice", ANN, json!({"pack_id": "small"}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    let limited = app
        .post("/api/payments/invoice", ANN, json!({"pack_id": "small"}))
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.env.telegram.calls_of("createInvoiceLink").len(), 20);
}

#[tokio::test]
async fn deleting_my_data_erases_everything_but_payments_and_the_ledger_and_deletes_it_at_replicate(
) {
    let app = App::spawn().await;
    let ann = fixtures::account_with_everything(app.db(), ANN, &app.env.replicate.url()).await;
    let (_, bobs) = fixtures::user_with_ready_model(app.db(), BOB, 0).await;
    let balance_before = app.balance(ANN).await;

    let answer = app.delete("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let erased: Erasure = answer.json();
    assert_eq!(
        erased,
        Erasure {
            photos: 21,
            models: 2,
            generations: 1,
            feedback: 1,
            profile: true,
            trainings_canceled: 1,
            versions_deleted: 1,
            files_deleted: 3,
            ..erased
        },
        "{answer:?}"
    );

    assert_eq!(
        fixtures::assert_account_erased(app.db(), ANN).await,
        balance_before,
        "the balance stays the person's"
    );
    let replicate = &app.env.replicate;
    assert_eq!(
        replicate
            .calls_to("POST", &format!("/trainings/{}/cancel", ann.training_id))
            .len(),
        1,
        "the running training is canceled"
    );
    let (model, id) = ann.version.split_once(':').unwrap();
    assert_eq!(
        replicate
            .calls_to("DELETE", &format!("/models/{model}/versions/{id}"))
            .len(),
        1
    );
    for file in &ann.file_ids {
        assert_eq!(
            replicate
                .calls_to("DELETE", &format!("/files/{file}"))
                .len(),
            1,
            "{file} is deleted at Replicate"
        );
    }
    // The cancel went out before anything was deleted.
    let calls = replicate.calls();
    let cancel = calls
        .iter()
        .position(|c| c.path.ends_with("/cancel"))
        .unwrap();
    let first_delete = calls.iter().position(|c| c.method == "DELETE").unwrap();
    assert!(cancel < first_delete, "{calls:?}");
    assert!(
        fixtures::unsettled_effects(app.db()).await.is_empty(),
        "every deletion is done"
    );
    // Bob's data is untouched.
    let bob_model = stored::model(app.db(), bobs.id).await;
    assert_eq!(bob_model.status, ModelStatus::Ready);
    assert_eq!(stored::photos(app.db(), bobs.id).await.len(), 10);

    // Erasing again does nothing more (the request itself signs the caller in again first).
    let calls_before = replicate.calls().len();
    let again = app.delete("/api/me", ANN).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    let erased: Erasure = again.json();
    assert_eq!(
        erased,
        Erasure {
            photos: 0,
            models: 0,
            generations: 0,
            feedback: 0,
            files_deleted: 0,
            ..erased
        },
        "{again:?}"
    );
    assert_eq!(
        replicate.calls().len(),
        calls_before,
        "no new Replicate call"
    );
    assert_eq!(app.balance(ANN).await, balance_before);

    // Afterwards the person is someone the Mini App can sign in again, names refreshed.
    let me = app.get("/api/me", ANN).await;
    assert_eq!(me.status, StatusCode::OK);
    let me: Me = me.json();
    assert_eq!(me.profile.first_name, format!("User{ANN}"));
    assert_eq!(me.profile.tokens_left, balance_before);
}

#[tokio::test]
async fn concurrent_erasures_erase_once() {
    let app = App::spawn().await;
    let ann = fixtures::account_with_everything(app.db(), ANN, &app.env.replicate.url()).await;
    // Two "Lambda instances", each with its own connection.
    let ((one, _jobs_one), (two, _jobs_two)) = (app.env.services(), app.env.services());
    let (a, b) = tokio::join!(
        shared::usecases::deletion::erase_account(&one, ANN),
        shared::usecases::deletion::erase_account(&two, ANN),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.rows.photos + b.rows.photos, 21, "{a:?} {b:?}");
    assert_eq!(a.files_deleted + b.files_deleted, ann.file_ids.len());
    assert_eq!(a.versions_deleted + b.versions_deleted, 1);
    fixtures::assert_account_erased(app.db(), ANN).await;
    for file in &ann.file_ids {
        assert_eq!(
            app.env
                .replicate
                .calls_to("DELETE", &format!("/files/{file}"))
                .len(),
            1,
            "{file} is deleted once"
        );
    }
}

#[tokio::test]
async fn replicate_failing_leaves_the_deletions_pending_and_the_sweep_finishes_them() {
    let app = App::spawn().await;
    let ann = fixtures::account_with_everything(app.db(), ANN, &app.env.replicate.url()).await;
    let replicate = &app.env.replicate;
    replicate.fail_always("/files", 500);
    replicate.fail_always("/models", 500);
    replicate.fail_always("/trainings", 503);

    let answer = app.delete("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    fixtures::assert_account_erased(app.db(), ANN).await;
    let pending = fixtures::unsettled_effects(app.db()).await;
    assert_eq!(pending.len(), 1 + 1 + ann.file_ids.len(), "{pending:?}");
    assert!(pending.iter().all(|e| e.attempts >= 1));

    // Replicate is back; one file is already gone there (404 counts as deleted).
    replicate.heal();
    replicate.fail_next(&format!("/files/{}", ann.file_ids[0]), 404, "Not found.");
    fixtures::make_effects_due(app.db()).await;
    let drained = shared::dispatch::drain(&app.services, 100).await.unwrap();
    assert_eq!(drained.done, pending.len(), "{drained:?}");
    assert!(fixtures::unsettled_effects(app.db()).await.is_empty());
    for file in &ann.file_ids {
        let deletes = replicate.calls_to("DELETE", &format!("/files/{file}"));
        assert!(deletes.len() >= 2, "{file} was asked again");
    }
    let (model, id) = ann.version.split_once(':').unwrap();
    assert!(
        replicate
            .calls_to("DELETE", &format!("/models/{model}/versions/{id}"))
            .len()
            >= 2
    );
}

#[tokio::test]
async fn deleting_a_model_in_training_deletes_its_training_zip_at_replicate() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 100).await;
    let model = fixtures::training_model(app.db(), ANN, "tr_zip", 100).await;
    let zip_url = format!("{}/files/zip77/download", app.env.replicate.url());
    fixtures::attempt(
        app.db(),
        shared::repo::attempts::Kind::Training,
        model.id,
        &shared::repo::attempts::new_tag(),
        Some(&zip_url),
        60,
    )
    .await;

    let answer = app.delete(&format!("/api/models/{}", model.id), ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        app.env.replicate.calls_to("DELETE", "/files/zip77").len(),
        1
    );
    assert!(fixtures::unsettled_effects(app.db()).await.is_empty());
}

#[tokio::test]
async fn deleting_my_data_cancels_a_generation_in_progress_and_its_results_are_never_kept() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    let generation =
        fixtures::generation_in_flight(app.db(), ANN, model.id, "pr_live", 2, 20).await;

    let answer = app.delete("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json::<Erasure>().predictions_canceled, 1);
    assert_eq!(
        app.env
            .replicate
            .calls_to("POST", "/predictions/pr_live/cancel")
            .len(),
        1
    );
    // Results arriving late find the generation settled: nothing is stored or sent.
    let urls = vec!["https://replicate.delivery/pbxt/late/out-0.jpg".to_owned()];
    assert!(
        shared::transitions::results_arrived(app.db(), generation.id, &urls, None, None)
            .await
            .unwrap()
            .1
            .is_none()
    );
    let stored = stored::generation(app.db(), generation.id).await;
    assert_eq!(
        stored.status,
        shared::domain::status::GenerationStatus::Canceled
    );
    assert!(stored.result_urls.is_empty());
    assert_eq!(stored.prompt, "");
    let user = stored::user(app.db(), ANN).await;
    assert_eq!((user.first_name.as_str(), user.username), ("", None));
}

#[tokio::test]
async fn deleting_my_data_refunds_a_paid_generation_that_never_reached_replicate() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    // Paid, its start unconfirmed: Replicate answered 500 without taking it, and the lookup failed.
    app.env
        .replicate
        .fail_next("/predictions", 500, "Replicate is down");
    app.env
        .replicate
        .fail_next("/predictions", 500, "Replicate is down");
    let started = app.generate(ANN, model.id, "on a beach", 1).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    assert_eq!(stored::user(app.db(), ANN).await.tokens_left, 95);

    let answer = app.delete("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json::<Erasure>().refunded, 5);
    assert_eq!(
        stored::user(app.db(), ANN).await.tokens_left,
        100,
        "nothing ran"
    );
    // Erasing again refunds nothing more.
    let again = app.delete("/api/me", ANN).await;
    assert_eq!(again.json::<Erasure>().refunded, 0);
    assert_eq!(stored::user(app.db(), ANN).await.tokens_left, 100);
}

#[tokio::test]
async fn deleting_my_data_takes_down_the_status_message_of_a_job_it_cancels() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    let started = app.generate(ANN, model.id, "on a beach", 1).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    let shown = app.env.telegram.last_call("sendMessage");
    assert_eq!(shown.chat_id(), Some(ANN), "the \"creating…\" message");

    let answer = app.delete("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let deleted = app.env.telegram.calls_of("deleteMessage");
    assert_eq!(deleted.len(), 1, "the status message taken down");
    assert_eq!(deleted[0].chat_id(), Some(ANN));
    assert!(fixtures::unsettled_effects(app.db()).await.is_empty());
}

#[tokio::test]
async fn a_generation_without_replicate_configured_is_refused_before_anything_is_paid() {
    let app = App::spawn_with_var("REPLICATE_API_TOKEN", None).await;
    fixtures::user(app.db(), ANN, 100).await;
    let model = fixtures::ready_model(app.db(), ANN).await;

    let answer = app.generate(ANN, model.id, "on a beach", 1).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    let error = answer.error();
    assert_eq!(error.code, "not_configured");
    assert!(error.message.contains("REPLICATE_API_TOKEN"), "{error:?}");
    assert_eq!(stored::user(app.db(), ANN).await.tokens_left, 100);
    assert!(app.env.replicate.predictions().is_empty());
}
