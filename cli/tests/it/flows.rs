//! The whole path from a queued model to photos in the chat, through the worker and the Replicate
//! webhook as they are wired on AWS (SQS event in, signed webhook back), on real Postgres with the
//! fake Bot API and Replicate.

use serde_json::json;
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::repo::{generations, models, Page};
use testkit::replicate::training_succeeded;
use testkit::stored;
use testkit::{fixtures, router, TestEnv, PUBLIC_URL};

async fn post_webhook(
    router: &axum::Router,
    env: &TestEnv,
    webhook_id: &str,
    job: &serde_json::Value,
) -> u16 {
    let (headers, body) = env.signed_replicate_webhook(webhook_id, job);
    let request = router::post("/replicate/webhook", headers, body);
    router::send(router, request).await.status.as_u16()
}

#[tokio::test]
async fn queued_model_to_ready_model_to_delivered_album() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let worker = training_worker::State::new(services.clone());
    let webhook = replicate_webhook::router(replicate_webhook::State::new(services.clone()));
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 200).await;

    // SQS delivers the job: the worker creates the training with our webhook URL.
    let event = serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": json!({"model_id": model.id}).to_string()}]})).unwrap();
    assert!(training_worker::handle_batch(&worker, event)
        .await
        .batch_item_failures
        .is_empty());
    let created = env.replicate.calls_to("POST", "/models/ostris");
    // Our webhook URL, tagged with the attempt that made the job.
    assert!(created[0]
        .webhook()
        .starts_with(&format!("{PUBLIC_URL}/replicate/webhook?attempt=")));
    let conn = env.db().conn().await.unwrap();
    let training_id = stored::model(env.db(), model.id)
        .await
        .replicate_training_id
        .unwrap();

    // Replicate posts the signed result: the model is ready and the user is told.
    assert_eq!(
        post_webhook(&webhook, &env, "msg_t1", &training_succeeded(&training_id)).await,
        200
    );
    let ready = stored::model(env.db(), model.id).await;
    assert_eq!(ready.status, ModelStatus::Ready);
    assert!(env
        .telegram
        .last_text_to(user.id)
        .unwrap()
        .contains("is ready"));

    // The user generates: a prediction with our webhook, then the album arrives and is stored.
    let generation = shared::usecases::generation::create(
        &services,
        services.replicate().unwrap(),
        &shared::usecases::generation::GenerationRequest {
            user_id: user.id,
            model_id: model.id,
            style_id: None,
            prompt: "at the seaside",
            images: 2,
            aspect_ratio: Default::default(),
        },
    )
    .await
    .unwrap();
    let prediction = env.replicate.calls_to("POST", "/predictions").remove(0);
    assert_eq!(prediction.body["version"], ready.version.clone().unwrap());
    // Our webhook URL, tagged with the attempt that made the job.
    assert!(prediction
        .webhook()
        .starts_with(&format!("{PUBLIC_URL}/replicate/webhook?attempt=")));
    let prediction_id = generation.replicate_prediction_id.clone().unwrap();
    assert_eq!(
        post_webhook(
            &webhook,
            &env,
            "msg_p1",
            &env.replicate.prediction_succeeded(&prediction_id, 2)
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

/// The journey as the funnel counts it: two people start, one trains, gets photos (and is asked to
/// rate them) and pays. The admin's funnel shows exactly the events written.
#[tokio::test]
async fn the_funnel_counts_the_journey_events_written() {
    use shared::repo::events;
    use testkit::updates::{self, TgUser};

    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let bot = telegram_webhook::router(telegram_webhook::State::new(services.clone()));
    let webhook = replicate_webhook::router(replicate_webhook::State::new(services.clone()));
    let worker = training_worker::State::new(services.clone());
    let send = |update: serde_json::Value| {
        let bot = bot.clone();
        async move {
            let request = router::telegram_update(&update, Some(testkit::WEBHOOK_SECRET));
            assert!(router::send(&bot, request).await.status.is_success());
        }
    };
    let ann = TgUser::new(1, "Ann");
    let bob = TgUser::new(2, "Bob");
    send(updates::text(1, &ann, "/start")).await;
    send(updates::text(2, &bob, "/start")).await;
    send(updates::successful_payment(
        3,
        &ann,
        "XTR",
        400,
        "pack:medium",
        "ch-1",
    ))
    .await;
    send(updates::text(4, &ann, "/train")).await;
    send(updates::text(5, &ann, "Me")).await;
    for i in 0..10 {
        send(updates::photo(10 + i, &ann, &format!("p{i}"), None)).await;
    }
    let conn = env.db().conn().await.unwrap();
    let model = models::list_for_user(&**conn, 1, Page::first(1))
        .await
        .unwrap()
        .remove(0);
    send(updates::callback(30, &ann, &format!("t:{}", model.id))).await;
    let event = serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": json!({"model_id": model.id}).to_string()}]})).unwrap();
    assert!(training_worker::handle_batch(&worker, event)
        .await
        .batch_item_failures
        .is_empty());
    let training_id = stored::model(env.db(), model.id)
        .await
        .replicate_training_id
        .unwrap();
    let mut done = training_succeeded(&training_id);
    done["metrics"] = json!({"predict_time": 1234.5});
    assert_eq!(post_webhook(&webhook, &env, "w1", &done).await, 200);
    let ready = stored::model(env.db(), model.id).await;
    assert_eq!(
        ready.training_seconds,
        Some(1234.5),
        "training duration recorded"
    );

    send(updates::callback(40, &ann, &format!("g:{}", model.id))).await;
    send(updates::callback(41, &ann, "p:0")).await;
    send(updates::callback(42, &ann, "n:2")).await;
    let generation = generations::list_for_user(&**conn, 1, Page::first(1))
        .await
        .unwrap()
        .remove(0);
    let prediction_id = generation.replicate_prediction_id.clone().unwrap();
    assert_eq!(
        post_webhook(
            &webhook,
            &env,
            "w2",
            &env.replicate.prediction_succeeded(&prediction_id, 2)
        )
        .await,
        200
    );

    // Asked to rate; the model got its preview from the first delivered photo.
    let rate = env
        .telegram
        .sent_to(1)
        .into_iter()
        .rev()
        .find(|c| c.text().contains("Rate them"))
        .expect("a rating prompt");
    let buttons = rate.buttons();
    assert_eq!(
        buttons.len(),
        9,
        "five stars, then more like this as it was and in 3 shapes"
    );
    assert!(buttons[..5].iter().all(|b| b.text.starts_with('⭐')));
    assert!(buttons[5..].iter().all(|b| b
        .callback_data
        .as_deref()
        .is_some_and(|d| d.starts_with("a:"))));
    assert!(stored::model(env.db(), model.id)
        .await
        .preview_file_id
        .is_some());

    let funnels = events::funnels(&**conn).await.unwrap();
    for funnel in &funnels {
        assert_eq!(
            (
                funnel.started,
                funnel.trained,
                funnel.generated,
                funnel.paid
            ),
            (2, 1, 1, 1),
            "{funnel:?}"
        );
    }
    assert_eq!(
        funnels.iter().map(|f| f.days).collect::<Vec<_>>(),
        vec![1, 7, 30]
    );
    let written: Vec<String> = conn
        .query(
            "SELECT event FROM user_events WHERE user_id = 1 ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        written,
        vec![
            "started",
            "payment",
            "photos_uploaded",
            "training_paid",
            "training_started",
            "training_finished",
            "generation_requested",
            "generation_delivered"
        ]
    );
}
