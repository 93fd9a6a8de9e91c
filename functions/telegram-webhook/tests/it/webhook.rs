//! The Telegram webhook, driven with real Update JSON against the fake Bot API and a real Postgres.

use crate::app::{App, ReplyInBody, WebhookError};
use axum::http::StatusCode;
use testkit::updates::{self, TgUser};
use testkit::{TestEnv, WEBHOOK_SECRET};

#[tokio::test]
async fn start_registers_the_user_and_replies_with_the_menu() {
    let app = App::spawn().await;
    let ann = TgUser::new(1001, "Ann");
    let (status, body) = app
        .post(&updates::text(1, &ann, "/start"), Some(WEBHOOK_SECRET))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let user = app.user(1001).await.expect("a user row");
    assert_eq!(user.first_name, "Ann");
    let sent = app.env.telegram.sent_to(1001);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "sendMessage");
    assert!(sent[0].text().contains("Dream Photo"), "{}", sent[0].text());
    assert!(sent[0].body["reply_markup"]["keyboard"].is_array());
}

#[tokio::test]
async fn a_final_reply_rides_in_the_webhook_response() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1001, "Ann")).await;
    let (status, body) = app
        .post(&updates::text(2, &ann, "/balance"), Some(WEBHOOK_SECRET))
        .await;
    assert_eq!(status, StatusCode::OK);
    let reply: ReplyInBody = serde_json::from_value(body.clone()).expect("a reply in the body");
    assert_eq!(reply.method, "sendMessage", "{body}");
    assert_eq!(reply.chat_id, 1001);
    assert_eq!(reply.parse_mode.as_deref(), Some("HTML"));
    assert!(reply.text.contains("Balance"));
}

#[tokio::test]
async fn texts_follow_the_users_language() {
    let app = App::spawn().await;
    let boris = TgUser::new(1002, "Boris").russian();
    app.send(&updates::text(1, &boris, "/help")).await;
    assert!(app
        .env
        .telegram
        .last_text_to(1002)
        .unwrap()
        .contains("Что я умею"));
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_refused_and_writes_nothing() {
    let app = App::spawn().await;
    let ann = TgUser::new(1001, "Ann");
    let (status, body) = app
        .post(&updates::text(1, &ann, "/start"), Some("wrong"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(WebhookError::of(&body).code, "bad_secret");
    let (status, _) = app.post(&updates::text(2, &ann, "/start"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(app.user(1001).await.is_none());
    assert!(app.env.telegram.calls().is_empty());
}

#[tokio::test]
async fn the_same_update_twice_is_handled_once() {
    let app = App::spawn().await;
    let ann = TgUser::new(1001, "Ann");
    let update = updates::text(7, &ann, "/start");
    assert_eq!(app.send(&update).await, StatusCode::OK);
    assert_eq!(app.send(&update).await, StatusCode::OK);
    assert_eq!(app.env.telegram.sent_to(1001).len(), 1);
}

#[tokio::test]
async fn the_same_update_concurrently_is_handled_once() {
    let app = App::spawn().await;
    let ann = TgUser::new(1001, "Ann");
    let update = updates::text(8, &ann, "/help");
    let send = |i| app.post_to(i, &update, Some(WEBHOOK_SECRET));
    let ((a, _), (b, _), (c, _)) = tokio::join!(send(0), send(1), send(2));
    // A copy that finds another still handling the update is told to come back, never "done".
    for status in [a, b, c] {
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
    assert!([a, b, c].contains(&StatusCode::OK));
    // Telegram's redelivery of those finds it done.
    assert_eq!(send(3).await.0, StatusCode::OK);
    assert_eq!(app.env.telegram.sent_to(1001).len(), 1);
}

#[tokio::test]
async fn a_failed_reply_is_retried_on_redelivery() {
    let app = App::spawn().await;
    let ann = TgUser::new(1001, "Ann");
    let update = updates::text(9, &ann, "/train");
    // The Bot API is briefly unreachable: our reply fails, so Telegram must deliver the update again.
    app.env.telegram.outage_next("sendMessage");
    let (status, _) = app.post(&update, Some(WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.send(&update).await, StatusCode::OK);
    let replies = app.env.telegram.calls_of("sendMessage");
    assert_eq!(replies.len(), 2, "one failed attempt, one delivered reply");
    assert_eq!(app.send(&update).await, StatusCode::OK);
    assert_eq!(
        app.env.telegram.calls_of("sendMessage").len(),
        2,
        "handled, so not again"
    );
}

#[tokio::test]
async fn garbage_is_a_bad_request() {
    let app = App::spawn().await;
    let (status, body) = app
        .post(&serde_json::json!({"hello": 1}), Some(WEBHOOK_SECRET))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(WebhookError::of(&body).code, "bad_request");
}

#[tokio::test]
async fn without_a_bot_token_the_webhook_says_which_variable_enables_it() {
    let mut env = TestEnv::start().await;
    env.set("TELEGRAM_BOT_TOKEN", None);
    let app = App::with_env(env);
    let (status, body) = app
        .post(
            &updates::text(1, &TgUser::new(1, "A"), "/start"),
            Some(WEBHOOK_SECRET),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(WebhookError::of(&body)
        .message
        .contains("TELEGRAM_BOT_TOKEN"));
}

/// The transaction id that last wrote the user's row.
async fn last_write_to_user(app: &App, user_id: i64) -> String {
    let conn = app.env.db().conn().await.unwrap();
    conn.query_one("SELECT xmin::text FROM users WHERE id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_known_user_as_they_are_is_read_not_written() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    let written = last_write_to_user(&app, 1).await;

    app.send(&updates::text(2, &ann, "/help")).await;
    assert_eq!(
        last_write_to_user(&app, 1).await,
        written,
        "nothing changed"
    );

    let renamed = TgUser::new(1, "Anna");
    app.send(&updates::text(3, &renamed, "/help")).await;
    assert_ne!(
        last_write_to_user(&app, 1).await,
        written,
        "the new name is kept"
    );
    assert_eq!(app.user(1).await.unwrap().first_name, "Anna");
}

/// Where the update's claim stands: `processing` (claimed, not recorded as done), `done`, or none.
async fn claim_of(app: &App, update_id: i64) -> Option<String> {
    app.env
        .db()
        .conn()
        .await
        .unwrap()
        .query_opt(
            "SELECT status FROM processed_updates WHERE update_id = $1",
            &[&update_id],
        )
        .await
        .unwrap()
        .map(|row| row.get(0))
}

#[tokio::test]
async fn an_answer_telegram_never_got_is_given_again_on_redelivery() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1001, "Ann")).await;
    let update = updates::text(2, &ann, "/help");
    // The answer rides in the response, which Telegram does not get (the connection drops).
    let first = app.post_unanswered(&update).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["method"], "sendMessage", "{}", first.body);
    assert_eq!(
        claim_of(&app, 2).await.as_deref(),
        Some("processing"),
        "a read-only update is not recorded as done"
    );

    // Redelivered while the claim's lease runs: come back later (nothing sent twice meanwhile).
    let (status, _) = app.post(&update, Some(WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Redelivered after it: answered again, so the person gets the answer once.
    testkit::fixtures::rewrite_rows(
        app.env.db(),
        "UPDATE processed_updates SET claimed_at = now() - interval '3 minutes' WHERE update_id = 2",
        &[],
    )
    .await;
    let (status, body) = app.post(&update, Some(WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    let reply: ReplyInBody = serde_json::from_value(body.clone()).expect("the answer again");
    assert!(reply.text.contains("What I can do"), "{}", reply.text);
    assert_eq!(
        app.env.telegram.sent_to(1001).len(),
        2,
        "the welcome and one help"
    );
}

#[tokio::test]
async fn an_update_that_changed_something_is_recorded_as_done() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1001, "Ann")).await;
    assert_eq!(
        claim_of(&app, 1).await.as_deref(),
        Some("done"),
        "registered"
    );
    // /train changes the dialogue and sends its status message: handled once, whatever comes later.
    app.send(&updates::text(2, &ann, "/train")).await;
    assert_eq!(claim_of(&app, 2).await.as_deref(), Some("done"));
    let sent = app.env.telegram.sent_to(1001).len();
    assert_eq!(
        app.send(&updates::text(2, &ann, "/train")).await,
        StatusCode::OK
    );
    assert_eq!(app.env.telegram.sent_to(1001).len(), sent);
}
