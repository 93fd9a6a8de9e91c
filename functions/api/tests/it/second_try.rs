//! A second try through the API: `aspect_ratio` on a generation, "more like this"
//! (`POST /api/generations/{id}/again`) and the free redo a rating of 1 or 2 earns
//! (`POST /api/generations/{id}/redo`), with the balance and the ledger exact, and what is refused
//! refused with nothing charged.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use shared::domain::status::GenerationStatus;
use shared::repo::ledger::{self, Reason};
use shared::repo::Page;
use testkit::stored;

use crate::app::{fixtures, tma, Answer, App};

const ANN: i64 = 101;
const BOB: i64 = 202;

/// Ann (100 tokens, a ready model) generates two images (10 tokens) in `ratio`; Bob has 100 tokens.
async fn ann_generates(app: &App, ratio: Option<&str>) -> Value {
    fixtures::user(app.db(), BOB, 100).await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    let mut body = json!({"model_id": model.id, "prompt": "on a beach", "count": 2});
    if let Some(ratio) = ratio {
        body["aspect_ratio"] = json!(ratio);
    }
    let answer = app.post("/api/generations", ANN, body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    answer.body
}

/// Replicate reports generation `id` succeeded: the album goes out and it is delivered.
async fn deliver(app: &App, id: i64) {
    let generation = stored::generation(app.db(), id).await;
    let prediction = generation.replicate_prediction_id.expect("started");
    let report = app
        .env
        .replicate
        .prediction_succeeded(&prediction, generation.num_images as usize);
    let job: shared::replicate::Job = serde_json::from_value(report).unwrap();
    let subject = shared::outcomes::find_subject(&app.services, &prediction, None)
        .await
        .unwrap()
        .expect("ours");
    shared::outcomes::apply(&app.services, subject, &job)
        .await
        .unwrap();
    assert_eq!(
        stored::generation(app.db(), id).await.status,
        GenerationStatus::Succeeded
    );
}

fn id_of(body: &Value) -> i64 {
    body["id"].as_i64().expect("an id")
}

async fn again(app: &App, id: i64, user: i64, body: Value) -> Answer {
    app.post(&format!("/api/generations/{id}/again"), user, body)
        .await
}

async fn redo(app: &App, id: i64, user: i64, body: Value) -> Answer {
    app.post(&format!("/api/generations/{id}/redo"), user, body)
        .await
}

async fn rate(app: &App, id: i64, rating: i16) -> Answer {
    let answer = app
        .post(
            &format!("/api/generations/{id}/feedback"),
            ANN,
            json!({"rating": rating}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer
}

/// Ann's ledger as (reason, delta, reference), oldest first.
async fn ledger_of(app: &App, user_id: i64) -> Vec<(Reason, i64, String)> {
    let conn = app.db().conn().await.unwrap();
    let mut entries = ledger::entries(&**conn, user_id, Page::first(50))
        .await
        .unwrap();
    entries.reverse();
    entries
        .into_iter()
        .map(|e| (e.reason, e.delta, e.reference))
        .collect()
}

#[tokio::test]
async fn a_generation_takes_an_aspect_ratio_and_more_like_this_repeats_it_paid() {
    let app = App::spawn().await;
    let first = ann_generates(&app, Some("3:4")).await;
    assert_eq!(first["aspect_ratio"], "3:4");
    assert_eq!(first["again_of"], Value::Null);
    assert_eq!(first["free_redo"], false);
    let first_id = id_of(&first);
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions[0].input("aspect_ratio"), "3:4");
    assert_eq!(app.balance(ANN).await, 90);

    // A shape we do not offer is refused before anything is paid or asked.
    let model_id = first["model_id"].as_i64().unwrap();
    for bad in ["16:9", "square", ""] {
        let answer = app
            .post(
                "/api/generations",
                ANN,
                json!({"model_id": model_id, "prompt": "hi", "count": 1, "aspect_ratio": bad}),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{answer:?}"
        );
        assert_eq!(answer.error().field(), "aspect_ratio", "{answer:?}");
        let answer = again(&app, first_id, ANN, json!({"aspect_ratio": bad})).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{answer:?}"
        );
    }
    assert_eq!(app.balance(ANN).await, 90);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 1);

    // More like this, as it was: the same prompt, style, count and shape, a new seed, paid.
    let answer = again(&app, first_id, ANN, json!({})).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(answer.body["again_of"], first_id);
    assert_eq!(answer.body["prompt"], "on a beach");
    assert_eq!(answer.body["num_images"], 2);
    assert_eq!(answer.body["aspect_ratio"], "3:4");
    assert_eq!(answer.body["free_redo"], false);
    assert_eq!(answer.body["cost_tokens"], 10);
    assert_eq!(app.balance(ANN).await, 80);
    // In a story's shape.
    let answer = again(&app, first_id, ANN, json!({"aspect_ratio": "9:16"})).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(answer.body["aspect_ratio"], "9:16");
    assert_eq!(app.balance(ANN).await, 70);
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions.len(), 3);
    assert_eq!(
        predictions[1].input("prompt"),
        predictions[0].input("prompt")
    );
    assert_eq!(predictions[1].input("aspect_ratio"), "3:4");
    assert_eq!(predictions[2].input("aspect_ratio"), "9:16");
    let seeds: std::collections::HashSet<i64> = predictions
        .iter()
        .map(|p| p.input("seed").as_i64().unwrap())
        .collect();
    assert_eq!(seeds.len(), 3, "a new seed each time");
    let listed = app.get(&format!("/api/generations/{first_id}"), ANN).await;
    assert_eq!(listed.body["aspect_ratio"], "3:4");

    // Someone else's generation, or none: not found, nothing charged.
    for id in [first_id, 999_999] {
        let answer = again(&app, id, BOB, json!({})).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{answer:?}");
    }
    assert_eq!(app.balance(BOB).await, 100);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 3);

    // Replicate refusing it refunds it, as any generation.
    app.env
        .replicate
        .fail_next("/predictions", 422, "invalid input");
    let answer = again(&app, first_id, ANN, json!({})).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
    assert_eq!(app.balance(ANN).await, 70);
}

#[tokio::test]
async fn a_rating_of_1_or_2_earns_one_free_redo_that_leaves_the_balance_where_it_was() {
    let app = App::spawn().await;
    let first = id_of(&ann_generates(&app, None).await);

    // Not delivered yet, not rated, or rated well: no free redo.
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{answer:?}");
    assert_eq!(answer.code(), "free_redo_not_offered");
    deliver(&app, first).await;
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.code(), "free_redo_not_offered", "{answer:?}");
    assert_eq!(
        rate(&app, first, 4).await.body,
        json!({"rating": 4, "free_redo": false})
    );
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.code(), "free_redo_not_offered", "{answer:?}");
    assert_eq!(app.balance(ANN).await, 90);

    // Rated 2: offered. Asked for three times at once: one redo, the others refused.
    assert_eq!(
        rate(&app, first, 2).await.body,
        json!({"rating": 2, "free_redo": true})
    );
    let answers = futures::future::join_all(
        (0..3).map(|_| redo(&app, first, ANN, json!({"aspect_ratio": "9:16"}))),
    )
    .await;
    let started: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::ACCEPTED)
        .collect();
    assert_eq!(started.len(), 1, "{answers:?}");
    for refused in answers.iter().filter(|a| a.status != StatusCode::ACCEPTED) {
        assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
        assert_eq!(refused.code(), "free_redo_used", "{refused:?}");
    }
    let redone = &started[0].body;
    assert_eq!(redone["free_redo"], true);
    assert_eq!(redone["again_of"], first);
    assert_eq!(redone["aspect_ratio"], "9:16");
    assert_eq!(redone["prompt"], "on a beach");
    let redone_id = id_of(redone);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 2);

    // The books: the redo's price credited and debited, once; the balance as it was.
    assert_eq!(app.balance(ANN).await, 90);
    let ledger = ledger_of(&app, ANN).await;
    assert_eq!(
        ledger[ledger.len() - 2..],
        [
            (Reason::FreeRedo, 10, format!("free-redo:{first}:0")),
            (Reason::Generation, -10, format!("generation:{redone_id}")),
        ]
    );

    // A second low rating earns no second redo; a second ask is refused.
    assert_eq!(rate(&app, first, 1).await.body["free_redo"], false);
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.code(), "free_redo_used", "{answer:?}");
    // The redo earns none of its own; Bob cannot ask for Ann's.
    deliver(&app, redone_id).await;
    assert_eq!(rate(&app, redone_id, 1).await.body["free_redo"], false);
    let answer = redo(&app, redone_id, ANN, json!({})).await;
    assert_eq!(answer.code(), "free_redo_not_offered", "{answer:?}");
    let answer = redo(&app, first, BOB, json!({})).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{answer:?}");
    assert_eq!(app.balance(BOB).await, 100);
    assert_eq!(app.balance(ANN).await, 90);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 2);
}

#[tokio::test]
async fn a_free_redo_that_fails_refunds_no_tokens_and_may_be_asked_for_again() {
    let app = App::spawn().await;
    let first = id_of(&ann_generates(&app, None).await);
    deliver(&app, first).await;
    assert!(rate(&app, first, 1).await.body["free_redo"] == true);

    app.env
        .replicate
        .fail_next("/predictions", 422, "invalid input");
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
    // Its debit was paid by its credit: refunding it would give Ann tokens she never paid.
    assert_eq!(app.balance(ANN).await, 90);
    let ledger = ledger_of(&app, ANN).await;
    assert!(
        !ledger
            .iter()
            .any(|(reason, _, _)| *reason == Reason::Refund),
        "{ledger:?}"
    );
    assert_eq!(
        ledger.iter().map(|(_, delta, _)| delta).sum::<i64>(),
        90,
        "{ledger:?}"
    );
    // Nothing was made: the redo is still due, in the ledger's next slot.
    assert_eq!(rate(&app, first, 1).await.body["free_redo"], true);
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(app.balance(ANN).await, 90);
    let ledger = ledger_of(&app, ANN).await;
    assert!(ledger.contains(&(Reason::FreeRedo, 10, format!("free-redo:{first}:1"))));
    let answer = redo(&app, first, ANN, json!({})).await;
    assert_eq!(answer.code(), "free_redo_used", "{answer:?}");
}

#[tokio::test]
async fn a_redo_retried_with_its_idempotency_key_is_answered_again_not_made_again() {
    let app = App::spawn().await;
    let first = id_of(&ann_generates(&app, None).await);
    deliver(&app, first).await;
    rate(&app, first, 2).await;
    let keyed = || {
        Request::post(format!("/api/generations/{first}/redo"))
            .header("authorization", tma(ANN))
            .header("content-type", "application/json")
            .header("idempotency-key", "redo-1")
            .body(Body::from("{}"))
            .unwrap()
    };
    let answer = app.send(keyed()).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let retried = app.send(keyed()).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED);
    assert_eq!(retried.body, answer.body);
    assert_eq!(retried.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 2);
    assert_eq!(app.balance(ANN).await, 90);
}
