//! The business metrics a Replicate report emits: once per change, nothing for a redelivery.

use testkit::fixtures;
use testkit::replicate::{job_failed, training_succeeded};

use crate::app::App;

#[tokio::test]
async fn a_training_that_succeeds_emits_one_training_succeeded_and_a_redelivery_nothing() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;

    let first = app
        .deliver_measured("msg_1", &training_succeeded("tr_1"))
        .await;
    assert_eq!(first.count("TrainingSucceeded"), 1, "{:?}", first.lines());
    assert_eq!(first.count("TrainingFailed"), 0);
    assert_eq!(first.count("Refund"), 0);

    // The same delivery again, and Replicate's retry under another id: nothing moved, nothing emitted.
    for webhook_id in ["msg_1", "msg_2"] {
        let again = app
            .deliver_measured(webhook_id, &training_succeeded("tr_1"))
            .await;
        assert!(again.lines().is_empty(), "{:?}", again.lines());
    }
}

#[tokio::test]
async fn a_training_that_fails_emits_training_failed_and_its_refund_once() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;

    let failed = job_failed("tr_1", "CUDA out of memory");
    let first = app.deliver_measured("msg_1", &failed).await;
    assert_eq!(first.count("TrainingFailed"), 1, "{:?}", first.lines());
    assert_eq!(first.count("TrainingSucceeded"), 0);
    assert_eq!(first.values("RefundedTokens"), vec![100.0]);
    let refund = first
        .lines()
        .into_iter()
        .find(|line| line.get("Refund").is_some())
        .expect("a refund line");
    assert_eq!(refund["Job"], "training");

    let again = app.deliver_measured("msg_2", &failed).await;
    assert!(again.lines().is_empty(), "{:?}", again.lines());
}
