//! The photo check through the API: `POST /api/train` reads every photo (uploaded, sent in the
//! form, or at a URL), answers each one's verdict, and refuses with the verdicts, charging nothing,
//! when fewer than ten are good. The photos are the check's test set (testkit's `photos`).

use axum::http::StatusCode;
use serde_json::{json, Value};
use shared::repo::models;
use testkit::api::UploadSlots;
use testkit::photos::{self, good_photos};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::app::{fixtures, multipart, App};

const ANN: i64 = 7101;

async fn checking_app() -> App {
    App::spawn_with(
        |env| {
            env.set("PHOTO_CHECK", Some("true"));
            env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        },
        api::RateLimits::default(),
    )
    .await
}

/// Nine good photos, then a blurred one, a landscape, and the first again re-encoded.
fn nine_good_and_three_to_replace() -> Vec<Vec<u8>> {
    let mut set = good_photos(9);
    set.push(photos::blurred(4.0));
    set.push(photos::landscape());
    set.push(
        photos::labelled_set()
            .into_iter()
            .find(|p| p.name == "astronaut re-encoded (JPEG q 60)")
            .expect("in the set")
            .bytes,
    );
    set
}

fn content_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

/// The photos announced and PUT by ANN: their upload ids.
async fn uploaded(app: &App, set: &[Vec<u8>]) -> Vec<String> {
    let announced: Vec<Value> = set
        .iter()
        .map(|b| json!({"content_type": content_type(b), "size": b.len()}))
        .collect();
    let answer = app
        .post("/api/uploads", ANN, json!({"photos": announced}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let slots = answer.json::<UploadSlots>().uploads;
    for (slot, bytes) in slots.iter().zip(set) {
        let path = slot.url.strip_prefix(testkit::PUBLIC_URL).unwrap();
        let request = axum::http::Request::put(path)
            .header("content-type", content_type(bytes))
            .body(axum::body::Body::from(bytes.clone()))
            .unwrap();
        assert_eq!(app.send(request).await.status, StatusCode::OK);
    }
    slots.into_iter().map(|s| s.id).collect()
}

fn problems(verdicts: &Value) -> Vec<Value> {
    verdicts
        .as_array()
        .expect("a list of verdicts")
        .iter()
        .map(|v| v["problem"].clone())
        .collect()
}

#[tokio::test]
async fn too_few_good_uploads_are_refused_with_each_verdict_and_nothing_charged() {
    let mut app = checking_app().await;
    fixtures::user(app.db(), ANN, 150).await;
    let set = nine_good_and_three_to_replace();
    let ids = uploaded(&app, &set).await;

    let answer = app
        .post("/api/train", ANN, json!({"name": "Me", "upload_ids": ids}))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.code(), "photos_rejected");
    let details = &answer.body["error"]["details"];
    assert_eq!(details["good"], 9);
    assert_eq!(details["needed"], 10);
    let mut expected = vec![Value::Null; 9];
    expected.extend([json!("blurred"), json!("no_face"), json!("duplicate")]);
    assert_eq!(problems(&details["photos"]), expected);
    assert_eq!(details["photos"][0]["ok"], true);
    assert_eq!(details["photos"][0]["faces"], 1);
    assert_eq!(details["photos"][10]["faces"], 0);
    assert_eq!(details["photos"][9]["reason"], "the face is blurred");
    // Nothing charged, nothing recorded, the uploads still wait for a training.
    assert_eq!(app.balance(ANN).await, 150);
    assert!(app.jobs.try_recv().is_err());
    let listed = app.get("/api/models", ANN).await;
    assert_eq!(listed.body["items"], json!([]), "{listed:?}");

    // With a tenth good photo instead of the landscape, it trains on the ten good ones.
    let mut set = set;
    set[10] = good_photos(10).pop().unwrap();
    let ids = uploaded(&app, &set).await;
    let answer = app
        .post("/api/train", ANN, json!({"name": "Me", "upload_ids": ids}))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let mut expected = vec![Value::Null; 12];
    expected[9] = json!("blurred");
    expected[11] = json!("duplicate");
    assert_eq!(problems(&answer.body["photo_checks"]), expected);
    assert_eq!(answer.body["photo_count"], 10);
    assert_eq!(answer.body["status"], "queued");
    assert_eq!(app.balance(ANN).await, 50);
    let model_id = answer.body["id"].as_i64().unwrap();
    assert_eq!(app.jobs.try_recv().unwrap().model_id, model_id);
    let conn = app.db().conn().await.unwrap();
    assert_eq!(models::photos(&**conn, model_id).await.unwrap().len(), 12);
    assert_eq!(
        models::good_photos(&**conn, model_id).await.unwrap().len(),
        10
    );
}

#[tokio::test]
async fn a_form_and_photo_urls_get_their_verdicts_too() {
    let mut app = checking_app().await;
    fixtures::user(app.db(), ANN, 300).await;
    let mut set = good_photos(10);
    set.push(photos::too_small());
    let files: Vec<(&str, &str, &str, Vec<u8>)> = set
        .iter()
        .map(|b| ("photos", "p.jpg", content_type(b), b.clone()))
        .collect();
    let (form_type, body) = multipart(&[("name", "Form")], &files);
    let answer = app.post_bytes("/api/train", ANN, form_type, body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(answer.body["photo_count"], 10);
    let checks = &answer.body["photo_checks"];
    assert_eq!(checks[10]["problem"], "too_small");
    assert_eq!(checks[10]["width"], 400);
    assert_eq!(
        checks[10]["reason"],
        "the photo is under 512 px on its short side"
    );
    assert_eq!(app.balance(ANN).await, 200);
    assert!(app.jobs.try_recv().is_ok());

    // URLs are downloaded in the request: nine good photos and a blurred one are refused.
    let server = MockServer::start().await;
    let mut set = good_photos(9);
    set.push(photos::blurred(4.0));
    for (i, bytes) in set.iter().enumerate() {
        Mock::given(path(format!("/p/{i}")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes.clone()))
            .mount(&server)
            .await;
    }
    // By name: the fake Replicate is on 127.0.0.1, and URLs to our Replicate API are refused.
    let base = server.uri().replace("127.0.0.1", "localhost");
    let urls: Vec<String> = (0..set.len()).map(|i| format!("{base}/p/{i}")).collect();
    let answer = app
        .post(
            "/api/train",
            ANN,
            json!({"name": "Urls", "photo_urls": urls}),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.code(), "photos_rejected", "{answer:?}");
    assert_eq!(
        answer.body["error"]["details"]["photos"][9]["problem"],
        "blurred"
    );
    assert_eq!(app.balance(ANN).await, 200);
    assert!(app.jobs.try_recv().is_err());
}
