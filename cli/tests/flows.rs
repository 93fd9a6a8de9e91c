//! The whole path from a queued model to photos in the chat, through the worker and the Replicate
//! webhook as they are wired on AWS (SQS event in, signed webhook back), on real Postgres with the
//! fake Bot API and Replicate.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::repo::{generations, models, Page};
use shared::testkit::replicate::{prediction_succeeded, training_succeeded};
use shared::testkit::{fixtures, TestEnv, PUBLIC_URL};
use tower::ServiceExt;

async fn post_webhook(
    router: &axum::Router,
    env: &TestEnv,
    webhook_id: &str,
    job: &serde_json::Value,
) -> u16 {
    let (headers, body) = env.signed_replicate_webhook(webhook_id, job);
    let mut request = Request::post("/replicate/webhook");
    for (k, v) in headers {
        request = request.header(k, v);
    }
    router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn queued_model_to_ready_model_to_delivered_album() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let worker = training_worker::State::new(services.clone());
    let webhook = replicate_webhook::router(replicate_webhook::State::new(services.clone()));
    let user = fixtures::user(&env.db.db, 1, 200).await;
    let model = fixtures::queued_model(&env.db.db, user.id, 10, 100).await;

    // SQS delivers the job: the worker creates the training with our webhook URL.
    let event = serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": json!({"model_id": model.id}).to_string()}]})).unwrap();
    assert!(training_worker::handle_batch(&worker, event)
        .await
        .batch_item_failures
        .is_empty());
    let created = env.replicate.calls_to("POST", "/models/ostris");
    assert_eq!(
        created[0].body["webhook"],
        format!("{PUBLIC_URL}/replicate/webhook")
    );
    let conn = env.db.db.conn().await.unwrap();
    let training_id = models::get(&**conn, model.id)
        .await
        .unwrap()
        .unwrap()
        .replicate_training_id
        .unwrap();

    // Replicate posts the signed result: the model is ready and the user is told.
    assert_eq!(
        post_webhook(&webhook, &env, "msg_t1", &training_succeeded(&training_id)).await,
        200
    );
    let ready = models::get(&**conn, model.id).await.unwrap().unwrap();
    assert_eq!(ready.status, ModelStatus::Ready);
    assert!(env
        .telegram
        .last_text_to(user.id)
        .unwrap()
        .contains("is ready"));

    // The user generates: a prediction with our webhook, then the album arrives and is stored.
    let generation = shared::service::generation::create(
        &services,
        &shared::service::generation::GenerationRequest {
            user_id: user.id,
            model_id: model.id,
            style_id: None,
            prompt: "at the seaside",
            images: 2,
        },
    )
    .await
    .unwrap();
    let prediction = env.replicate.calls_to("POST", "/predictions").remove(0);
    assert_eq!(prediction.body["version"], ready.version.clone().unwrap());
    assert_eq!(
        prediction.body["webhook"],
        format!("{PUBLIC_URL}/replicate/webhook")
    );
    let prediction_id = generation.replicate_prediction_id.clone().unwrap();
    assert_eq!(
        post_webhook(
            &webhook,
            &env,
            "msg_p1",
            &prediction_succeeded(&prediction_id, 2)
        )
        .await,
        200
    );

    let album = env.telegram.calls_of("sendMediaGroup");
    assert_eq!(album.len(), 1);
    assert_eq!(album[0].chat_id(), Some(user.id));
    let stored = generations::list_for_user(&**conn, user.id, Page::first(1))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(stored.status, GenerationStatus::Succeeded);
    assert_eq!(stored.telegram_file_ids.len(), 2);
    assert_eq!(stored.result_urls.len(), 2);
}
