//! Moderation: a prompt on the block list is refused before anything is paid; one Replicate's
//! safety checker refuses is refunded at once and said plainly.

use crate::app::{fixtures, App};
use axum::http::StatusCode;

const ANN: i64 = 303;

async fn app_blocking(list: &'static str) -> App {
    App::spawn_with_var("PROMPT_BLOCK_LIST", Some(list)).await
}

#[tokio::test]
async fn a_prompt_on_the_block_list_is_refused_before_paying() {
    let app = app_blocking("nude, ass, naked child").await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 12).await;
    for prompt in ["A NUDE portrait", "me, kick-ass", "a naked   child"] {
        let answer = app.generate(ANN, model.id, prompt, 1).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{prompt}");
        let error = answer.error();
        assert_eq!(error.field(), "prompt");
        assert!(error.message.contains("we do not generate"), "{error:?}");
    }
    assert_eq!(app.balance(ANN).await, 12, "nothing was paid");
    assert!(app
        .env
        .replicate
        .calls_to("POST", "/predictions")
        .is_empty());
    assert!(app.env.telegram.calls_of("sendMessage").is_empty());

    // Whole words only: "classy" and "assistant" are not "ass".
    let answer = app.generate(ANN, model.id, "a classy assistant", 1).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(app.balance(ANN).await, 7);
}

#[tokio::test]
async fn a_prompt_replicate_refuses_as_unsafe_is_refunded_and_said_plainly() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 12).await;
    app.env.replicate.fail_next(
        "/predictions",
        422,
        "NSFW content detected. Try running it again, or try a different prompt.",
    );
    let answer = app.generate(ANN, model.id, "something", 2).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    let error = answer.error();
    assert_eq!(error.field(), "prompt");
    assert!(error.message.contains("safety checker"), "{error:?}");
    assert_eq!(app.balance(ANN).await, 12, "refunded");
    let told = app.env.telegram.last_text_to(ANN).unwrap();
    assert!(told.contains("safety filter"), "{told}");
    assert!(told.contains("10 tokens are back"), "{told}");
}
