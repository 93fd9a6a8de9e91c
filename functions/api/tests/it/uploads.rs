//! `POST /api/uploads` and the URLs it signs, with objects on this machine: what is refused, and
//! that a refusal changes nothing (no charge, no model, nothing taken).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use testkit::api::{UploadSlot, UploadSlots};
use testkit::fake_jpeg_sized;

use crate::app::{fixtures, App};

const ANN: i64 = 7001;
const BOB: i64 = 7002;

async fn slots(app: &App, user: i64, sizes: &[usize]) -> Vec<UploadSlot> {
    let photos: Vec<_> = sizes
        .iter()
        .map(|s| json!({"content_type": "image/jpeg", "size": s}))
        .collect();
    let answer = app
        .post("/api/uploads", user, json!({"photos": photos}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    answer.json::<UploadSlots>().uploads
}

async fn put(app: &App, slot: &UploadSlot, content_type: &str, body: Vec<u8>) -> StatusCode {
    let path = slot.url.strip_prefix(testkit::PUBLIC_URL).unwrap();
    let request = Request::put(path)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await.status
}

/// Ten distinct photos announced and PUT by `user`: their upload ids.
async fn ten_uploaded(app: &App, user: i64) -> Vec<String> {
    uploaded(app, user, 10).await
}

/// `n` distinct photos announced and PUT by `user`: their upload ids.
async fn uploaded(app: &App, user: i64, n: usize) -> Vec<String> {
    let set = slots(app, user, &vec![1000; n]).await;
    for (i, slot) in set.iter().enumerate() {
        assert_eq!(
            put(app, slot, "image/jpeg", fake_jpeg_sized(1000, i as u8)).await,
            StatusCode::OK
        );
    }
    set.into_iter().map(|slot| slot.id).collect()
}

#[tokio::test]
async fn announcing_uploads_refuses_what_could_never_train() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    for (photos, why) in [
        (json!([]), "none"),
        (
            json!((0..21)
                .map(|_| json!({"content_type": "image/jpeg", "size": 10}))
                .collect::<Vec<_>>()),
            "21",
        ),
        (
            json!([{"content_type": "application/pdf", "size": 10}]),
            "a PDF",
        ),
        (
            json!([{"content_type": "image/jpeg", "size": 21 * 1024 * 1024}]),
            "over 20 MB",
        ),
        (json!([{"content_type": "image/jpeg", "size": 0}]), "empty"),
    ] {
        let answer = app
            .post("/api/uploads", ANN, json!({"photos": photos}))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {answer:?}"
        );
    }
    assert!(app.env.objects.list("").is_empty());
    // Two full sets may wait at once; a third is refused until they are used.
    slots(&app, ANN, &[10; 20]).await;
    slots(&app, ANN, &[10; 20]).await;
    let answer = app
        .post(
            "/api/uploads",
            ANN,
            json!({"photos": [{"content_type": "image/jpeg", "size": 10}]}),
        )
        .await;
    assert_eq!(answer.code(), "too_many_uploads");
}

#[tokio::test]
async fn uploads_announced_at_once_keep_to_the_cap_on_what_waits() {
    // Five connections: the requests run at once, as on five Lambda instances.
    let app = App::spawn_with_var("DATABASE_POOL_SIZE", Some("5")).await;
    fixtures::user(app.db(), ANN, 150).await;
    let photos: Vec<_> = (0..20)
        .map(|_| json!({"content_type": "image/jpeg", "size": 10}))
        .collect();
    let body = json!({ "photos": photos });
    let answers =
        futures::future::join_all((0..5).map(|_| app.post("/api/uploads", ANN, body.clone())))
            .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
    let created = statuses.iter().filter(|&&s| s == StatusCode::CREATED);
    assert_eq!(created.count(), 2, "two full sets may wait: {statuses:?}");
    let refused = answers.iter().filter(|a| a.code() == "too_many_uploads");
    assert_eq!(refused.count(), 3);
    let conn = app.db().conn().await.unwrap();
    let waiting: i64 = conn
        .query_one("SELECT count(*) FROM uploads", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(waiting, 40);
}

#[tokio::test]
async fn an_upload_url_takes_exactly_what_it_was_signed_for() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    let slot = slots(&app, ANN, &[1000]).await.remove(0);
    assert_eq!(slot.headers["content-length"], "1000");
    assert_eq!(slot.headers["content-type"], "image/jpeg");
    assert_eq!(
        put(&app, &slot, "image/png", fake_jpeg_sized(1000, 1)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(&app, &slot, "image/jpeg", fake_jpeg_sized(999, 1)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(&app, &slot, "image/jpeg", fake_jpeg_sized(5000, 1)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let forged = UploadSlot {
        url: slot
            .url
            .replace(&format!("uploads/{ANN}/"), &format!("uploads/{BOB}/")),
        ..slot
    };
    assert_eq!(
        put(&app, &forged, "image/jpeg", fake_jpeg_sized(1000, 1)).await,
        StatusCode::FORBIDDEN
    );
    assert!(app.env.objects.list("").is_empty(), "nothing was stored");
}

#[tokio::test]
async fn training_refuses_uploads_that_are_missing_wrong_or_someone_elses() {
    let mut app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    fixtures::user(app.db(), BOB, 150).await;
    let ann = slots(&app, ANN, &[1000; 10]).await;
    for (i, slot) in ann.iter().enumerate().skip(1) {
        assert_eq!(
            put(&app, slot, "image/jpeg", fake_jpeg_sized(1000, i as u8)).await,
            StatusCode::OK
        );
    }
    let ids: Vec<String> = ann.iter().map(|s| s.id.clone()).collect();
    let train = |user: i64, ids: Vec<String>| {
        let app = &app;
        async move {
            app.post("/api/train", user, json!({"name": "Me", "upload_ids": ids}))
                .await
        }
    };
    // The first was never PUT.
    let answer = train(ANN, ids.clone()).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.body["error"]["details"]["index"], 0);
    // Not an image, though announced as a JPEG.
    assert_eq!(
        put(&app, &ann[0], "image/jpeg", vec![b'x'; 1000]).await,
        StatusCode::OK
    );
    let answer = train(ANN, ids.clone()).await;
    assert_eq!(answer.body["error"]["details"]["index"], 0, "{answer:?}");
    // Ann's uploads are not Bob's.
    assert_eq!(
        put(&app, &ann[0], "image/jpeg", fake_jpeg_sized(1000, 0)).await,
        StatusCode::OK
    );
    let answer = train(BOB, ids.clone()).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(app.balance(BOB).await, 150);
    // Refusals changed nothing: Ann trains with them now, once.
    assert_eq!(app.balance(ANN).await, 150);
    let answer = train(ANN, ids.clone()).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(app.balance(ANN).await, 50);
    assert!(app.jobs.try_recv().is_ok());
    assert!(
        app.env.objects.list(&format!("uploads/{ANN}/")).is_empty(),
        "copied under the model"
    );
    assert_eq!(app.env.objects.list(&format!("photos/{ANN}/")).len(), 10);
}

#[tokio::test]
async fn two_trainings_racing_for_the_same_uploads_charge_once() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 500).await;
    let ids = ten_uploaded(&app, ANN).await;
    let body = json!({"name": "Me", "upload_ids": ids});
    let (a, b) = tokio::join!(
        app.post("/api/train", ANN, body.clone()),
        app.post("/api/train", ANN, body)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::ACCEPTED, "{a:?} {b:?}");
    assert!(statuses[1].is_client_error(), "{a:?} {b:?}");
    assert_eq!(app.balance(ANN).await, 400, "one training paid");
    // The loser's copies are gone with its draft; the winner's photos stay.
    assert_eq!(app.env.objects.list(&format!("photos/{ANN}/")).len(), 10);
}

#[tokio::test]
async fn a_retraining_request_that_lost_the_race_keeps_the_photos_of_the_one_that_won() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 200).await;
    let ids = uploaded(&app, ANN, 3).await;
    // A second request for the same retraining (another device) submits the draft this one starts
    // before this one comes to record its photos.
    fixtures::meanwhile(
        app.db(),
        "submitted_meanwhile",
        "AFTER INSERT ON models",
        "IF NEW.retrain_of IS NOT NULL THEN
             UPDATE models SET status = 'queued' WHERE id = NEW.id;
         END IF;
         RETURN NULL;",
    )
    .await;
    let conn = app.db().conn().await.unwrap();

    let path = format!("/api/models/{}/retrain", model.id);
    let lost = app.post(&path, ANN, json!({"upload_ids": ids})).await;
    assert_eq!(lost.status, StatusCode::CONFLICT, "{lost:?}");
    let retraining = conn
        .query_one("SELECT id FROM models WHERE retrain_of = $1", &[&model.id])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(
        app.env
            .objects
            .list(&format!("photos/{ANN}/{retraining}/"))
            .len(),
        3,
        "the photos of the paid retraining stay"
    );
}

#[tokio::test]
async fn a_training_request_whose_draft_is_erased_meanwhile_keeps_none_of_its_photos() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 500).await;
    let ids = ten_uploaded(&app, ANN).await;
    // The owner erases their data (the draft is canceled) as soon as this request starts it,
    // before its photos are copied under it.
    fixtures::meanwhile(
        app.db(),
        "erased_meanwhile",
        "AFTER INSERT ON models",
        "UPDATE models SET status = 'canceled', error = 'deleted by its owner' WHERE id = NEW.id;
         RETURN NULL;",
    )
    .await;

    let refused = app
        .post("/api/train", ANN, json!({"name": "Me", "upload_ids": ids}))
        .await;
    assert!(refused.status.is_client_error(), "{refused:?}");
    assert_eq!(app.balance(ANN).await, 500, "nothing charged");
    assert_eq!(
        app.env.objects.list(&format!("photos/{ANN}/")),
        Vec::<String>::new(),
        "no copy of the photos kept under the erased draft"
    );
}

/// Puts an object at `key` in the app's storage, as a delivery or an upload would have.
async fn stored_object(app: &App, key: &str) {
    let key = shared::storage::ObjectKey::parse(key).unwrap();
    app.services
        .storage()
        .unwrap()
        .put(&key, testkit::fake_jpeg(), "image/jpeg")
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_my_data_empties_my_part_of_the_bucket_every_time() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    fixtures::user(app.db(), BOB, 150).await;
    for key in [
        format!("uploads/{ANN}/u1.jpg"),
        format!("photos/{ANN}/1/p1.jpg"),
        format!("generations/{ANN}/1/0.jpg"),
        format!("generations/{BOB}/2/0.jpg"),
    ] {
        stored_object(&app, &key).await;
    }
    let answer = app.delete("/api/me", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(app.env.objects.list(&format!("uploads/{ANN}/")).is_empty());
    assert!(app.env.objects.list(&format!("photos/{ANN}/")).is_empty());
    assert!(app
        .env
        .objects
        .list(&format!("generations/{ANN}/"))
        .is_empty());
    assert_eq!(
        app.env.objects.list(&format!("generations/{BOB}/")).len(),
        1,
        "only the caller's objects go"
    );
    // Back again, new images, erased again: those go too.
    stored_object(&app, &format!("generations/{ANN}/3/0.jpg")).await;
    app.delete("/api/me", ANN).await;
    assert!(app
        .env
        .objects
        .list(&format!("generations/{ANN}/"))
        .is_empty());
}

#[tokio::test]
async fn deleting_a_model_deletes_its_training_photos_from_the_bucket() {
    let app = App::spawn().await;
    let (user, model) = fixtures::user_with_ready_model(app.db(), ANN, 10).await;
    stored_object(&app, &format!("photos/{}/{}/p1.jpg", user.id, model.id)).await;
    stored_object(&app, &format!("generations/{}/9/0.jpg", user.id)).await;
    let answer = app.delete(&format!("/api/models/{}", model.id), ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(app.env.objects.list(&format!("photos/{ANN}/")).is_empty());
    assert_eq!(
        app.env.objects.list(&format!("generations/{ANN}/")).len(),
        1,
        "the images made with it stay the user's"
    );
}

#[tokio::test]
async fn uploads_held_by_a_request_that_died_before_paying_train_on_a_retry() {
    let mut app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    let ids = ten_uploaded(&app, ANN).await;
    // A first request took the uploads for its draft and died before the payment.
    let draft = fixtures::draft_model(app.db(), ANN, 0).await;
    {
        let conn = app.db().conn().await.unwrap();
        assert_eq!(
            shared::repo::uploads::take(&**conn, ANN, &ids, draft.id)
                .await
                .unwrap(),
            10
        );
    }
    let body = json!({"name": "Me", "upload_ids": ids});
    // While it might still be running, the uploads are its own.
    let answer = app.post("/api/train", ANN, body.clone()).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(app.balance(ANN).await, 150);
    // Past any request's time, they are given up to the retry: trained once, paid once.
    fixtures::rewrite_rows(
        app.db(),
        "UPDATE models SET created_at = now() - interval '10 minutes' WHERE id = $1",
        &[&draft.id],
    )
    .await;
    let answer = app.post("/api/train", ANN, body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(app.balance(ANN).await, 50);
    assert!(app.jobs.try_recv().is_ok());
    assert!(app.jobs.try_recv().is_err(), "one training queued");
}

#[tokio::test]
async fn an_uploaded_photo_waits_a_day_for_its_training_not_the_fifteen_minutes_of_its_url() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 150).await;
    let ids = ten_uploaded(&app, ANN).await;
    fixtures::rewrite_rows(
        app.db(),
        "UPDATE uploads SET created_at = created_at - interval '1 hour', expires_at = expires_at - interval '1 hour'",
        &[],
    )
    .await;
    let conn = app.db().conn().await.unwrap();
    let waiting = shared::repo::uploads::waiting_among(&**conn, ANN, &ids)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 10);
    drop(conn);
    let answer = app
        .post("/api/train", ANN, json!({"name": "Me", "upload_ids": ids}))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
}
