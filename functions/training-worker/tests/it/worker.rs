//! The training worker against a real Postgres, the fake Bot API (photo downloads) and the fake
//! Replicate, fed real SQS event JSON.

use serde::Deserialize;

use crate::deliveries::{deliver_job, job, job_event, sqs_event};

/// What the worker asks Replicate to train.
#[derive(Deserialize)]
struct TrainingRequest {
    destination: String,
    webhook: String,
    webhook_events_filter: Vec<String>,
    input: TrainingInput,
}

#[derive(Deserialize)]
struct TrainingInput {
    input_images: String,
    trigger_word: String,
}
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::repo::{ledger, models};
use testkit::replicate::{job_failed, training_succeeded, TRAINER_VERSION};
use testkit::stored;
use testkit::{fixtures, TestEnv, PUBLIC_URL};

async fn setup() -> (TestEnv, std::sync::Arc<training_worker::State>) {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    (env, training_worker::State::new(services))
}

#[tokio::test]
async fn a_queued_model_becomes_a_training_with_our_webhook() {
    let (env, state) = setup().await;
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::queued_model(env.db(), user.id, 12, 100).await;

    deliver_job(&state, model.id).await;

    assert_eq!(
        env.telegram.calls_of("getFile").len(),
        12,
        "every photo fetched through getFile"
    );
    let uploads = env.replicate.calls_to("POST", "/files");
    assert_eq!(uploads.len(), 1, "one zip uploaded");
    assert!(uploads[0].body["multipart_bytes"].as_u64().unwrap() > 12 * 70);
    let created: Vec<_> = env
        .replicate
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == "/v1/models")
        .collect();
    assert_eq!(created.len(), 1, "destination created");
    assert_eq!(created[0].body["visibility"], "private");
    let trainings = env
        .replicate
        .calls_to("POST", "/models/ostris/flux-dev-lora-trainer/versions/");
    assert_eq!(trainings.len(), 1);
    assert!(trainings[0].path.contains(TRAINER_VERSION));
    let request: TrainingRequest = trainings[0].parse();
    assert_eq!(request.destination, "dreamtest/dream-photo-loras");
    // Tagged with the attempt recorded before the call: the webhook URL and the zip's name.
    let tag = request
        .webhook
        .strip_prefix(&format!("{PUBLIC_URL}/replicate/webhook?attempt="))
        .expect("our webhook URL with the attempt's tag");
    let attempt = shared::repo::attempts::by_tag(&**env.db().conn().await.unwrap(), tag)
        .await
        .unwrap()
        .expect("the attempt is recorded");
    assert_eq!(attempt.subject_id, model.id);
    assert_eq!(attempt.state, shared::repo::attempts::State::Created);
    assert_eq!(
        attempt.input_ref.as_deref(),
        Some(request.input.input_images.as_str())
    );
    assert_eq!(
        request.webhook_events_filter,
        ["start", "logs", "completed"]
    );
    assert_eq!(request.input.trigger_word, "DPTEST");
    assert!(request.input.input_images.contains("/files/"));

    let training = stored::model(env.db(), model.id).await;
    assert_eq!(training.status, ModelStatus::Training);
    assert!(training.replicate_training_id.is_some());
}

#[tokio::test]
async fn photos_uploaded_through_the_api_are_fetched_from_replicate_with_our_token() {
    let (env, state) = setup().await;
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::queued_model(env.db(), user.id, 0, 100).await;
    let conn = env.db().conn().await.unwrap();
    for i in 0..10 {
        let photo = shared::repo::models::NewPhoto {
            file_unique_id: format!("upload-{i}"),
            telegram_file_id: None,
            source_url: Some(format!("{}/files/file{i}/download", env.replicate.url())),
            file_size: Some(1000),
            mime_type: Some("image/png".into()),
            storage_key: None,
        };
        shared::repo::models::add_photo(&**conn, model.id, &photo)
            .await
            .unwrap();
    }
    deliver_job(&state, model.id).await;
    assert_eq!(env.replicate.calls_to("GET", "/files/").len(), 10);
    assert_eq!(
        stored::model(env.db(), model.id).await.status,
        ModelStatus::Training
    );
}

#[tokio::test]
async fn the_same_message_delivered_twice_starts_one_training() {
    let (env, state) = setup().await;
    let (_, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    let event = || job_event("m1", model.id);
    let (a, b) = tokio::join!(
        training_worker::handle_batch(&state, event()),
        training_worker::handle_batch(&state, event())
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    let again = training_worker::handle_batch(&state, event()).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(
        env.replicate.calls_to("POST", "/models/ostris").len(),
        1,
        "one training"
    );
}

#[tokio::test]
async fn a_poisoned_record_is_the_only_one_reported_failed() {
    let (env, state) = setup().await;
    let user = fixtures::user(env.db(), 1, 200).await;
    let first = fixtures::queued_model(env.db(), user.id, 10, 100).await;
    let second = fixtures::queued_model(env.db(), user.id, 10, 100).await;
    let event = sqs_event(&[
        ("good-1", job(first.id)),
        ("poison", "{not json".into()),
        ("good-2", job(second.id)),
    ]);
    let response = training_worker::handle_batch(&state, event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["poison".to_owned()]);
    assert_eq!(env.replicate.calls_to("POST", "/models/ostris").len(), 2);
}

#[tokio::test]
async fn a_transient_replicate_failure_is_retried_soon_and_nothing_is_refunded() {
    let env = TestEnv::start().await;
    let (services, mut jobs) = env.services();
    let state =
        training_worker::State::with_retry_base(services, std::time::Duration::from_millis(50));
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    env.replicate.fail_next("/files", 503, "upstream trouble");
    let response = training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    // In process the job is queued again after the backoff (on SQS its visibility is changed).
    assert!(response.batch_item_failures.is_empty());
    let again = tokio::time::timeout(std::time::Duration::from_secs(5), jobs.recv())
        .await
        .expect("requeued within the backoff")
        .unwrap();
    assert_eq!(again.model_id, model.id);
    assert_eq!(
        stored::model(env.db(), model.id).await.status,
        ModelStatus::Queued
    );
    assert_eq!(stored::user(env.db(), user.id).await.tokens_left, 0);

    // SQS redelivers: now it works.
    deliver_job(&state, model.id).await;
    assert_eq!(
        stored::model(env.db(), model.id).await.status,
        ModelStatus::Training
    );
}

#[tokio::test]
async fn a_permanent_failure_fails_the_model_refunds_it_and_tells_the_user() {
    let (env, state) = setup().await;
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    env.replicate
        .fail_next("/models/ostris", 422, "input_images: invalid zip");
    let response = training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a permanent failure is not retried"
    );
    // A redelivery (or a duplicate) changes nothing more.
    training_worker::handle_batch(&state, job_event("m1", model.id)).await;

    let conn = env.db().conn().await.unwrap();
    let failed = stored::model(env.db(), model.id).await;
    assert_eq!(failed.status, ModelStatus::Failed);
    assert!(failed.error.unwrap().contains("invalid zip"));
    assert_eq!(stored::user(env.db(), user.id).await.tokens_left, 100);
    assert_eq!(ledger::sum(&**conn, user.id).await.unwrap(), 100);
    assert_eq!(
        env.telegram
            .calls_of("sendMessage")
            .iter()
            .filter(|c| c.chat_id() == Some(user.id))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_telegram_file_that_is_not_an_image_fails_the_model_by_its_bytes() {
    let (env, state) = setup().await;
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    // A document sent as "image/jpeg" that is a web page.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path_regex(
            r"^/file/bot[^/]+/photos/file-\d+-3\.jpg$",
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_string("<html><body>hi</body></html>"),
        )
        .with_priority(1)
        .mount(&env.telegram.server)
        .await;

    let response = training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(response.batch_item_failures.is_empty(), "not retried");
    let failed = stored::model(env.db(), model.id).await;
    assert_eq!(failed.status, ModelStatus::Failed);
    assert_eq!(
        failed.error.as_deref(),
        Some("a training photo is not a JPEG, PNG, WebP or HEIC image")
    );
    assert_eq!(stored::user(env.db(), user.id).await.tokens_left, 100);
    assert!(env.replicate.calls_to("POST", "/files").is_empty());
}

#[tokio::test]
async fn photos_gone_from_telegram_fail_the_model_for_good() {
    let (env, state) = setup().await;
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    env.telegram.fail_next(
        "getFile",
        400,
        "Bad Request: wrong file_id or the file is temporarily unavailable",
        None,
    );
    training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert_eq!(
        stored::model(env.db(), model.id).await.status,
        ModelStatus::Failed
    );
    assert_eq!(stored::user(env.db(), user.id).await.tokens_left, 100);
}

#[tokio::test]
async fn the_sweep_queues_again_a_model_whose_job_was_lost() {
    let env = TestEnv::start().await;
    let (services, mut jobs) = env.services();
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!(report.requeued, 0, "a fresh queued model is left alone");
    // Time passes (test-only time travel) and no worker ever saw the job.
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE models SET updated_at = now() - interval '1 hour' WHERE id = $1",
        &[&model.id],
    )
    .await;
    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!(report.requeued, 1);
    assert_eq!(jobs.try_recv().unwrap().model_id, model.id);
    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!(
        report.requeued, 0,
        "one requeue per period, not one per sweep"
    );

    // A job that never starts, hours on: the model fails with a refund instead of looping.
    fixtures::queued_hours_ago(env.db(), model.id).await;
    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!((report.requeued, report.settled), (0, 1));
    assert!(jobs.try_recv().is_err());
    let failed = stored::model(env.db(), model.id).await;
    assert_eq!(failed.status, ModelStatus::Failed);
    assert_eq!(
        stored::user(env.db(), user.id).await.tokens_left,
        100,
        "refunded"
    );
}

#[tokio::test]
async fn an_album_waiting_for_telegram_past_the_hour_replicate_keeps_outputs_is_delivered_not_refunded(
) {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    let generation =
        fixtures::generation_in_flight(env.db(), user.id, model.id, "pr_1", 2, 10).await;
    let stale = "UPDATE generations SET updated_at = now() - interval '1 hour',
                     checked_at = NULL WHERE id = $1";
    // The sweep finds the prediction done, but Telegram is down: the album waits, our copies kept.
    for _ in 0..3 {
        env.telegram.outage_next("sendMediaGroup");
    }
    env.replicate
        .set_job(env.replicate.prediction_succeeded("pr_1", 2));
    fixtures::rewrite_rows(env.db(), stale, &[&generation.id]).await;
    training_worker::sweep(&services).await.unwrap();
    assert_eq!(
        fixtures::unsettled_effects(env.db()).await.len(),
        1,
        "the album waits"
    );

    // An hour on, Replicate has removed the outputs (`output` reads null), and the sweep looks again.
    env.replicate.set_job(
        serde_json::json!({"id": "pr_1", "status": "succeeded", "output": null, "error": null}),
    );
    env.replicate.delete_outputs();
    fixtures::rewrite_rows(env.db(), stale, &[&generation.id]).await;
    training_worker::sweep(&services).await.unwrap();
    let waiting = stored::generation(env.db(), generation.id).await;
    assert_eq!(
        waiting.status,
        GenerationStatus::Processing,
        "not failed: {waiting:?}"
    );
    assert_eq!(
        stored::user(env.db(), user.id).await.tokens_left,
        90,
        "not refunded"
    );

    // Telegram is back: the album goes out.
    env.telegram.clear_scripts("sendMediaGroup");
    fixtures::make_effects_due(env.db()).await;
    shared::dispatch::drain(&services, 10).await.unwrap();
    let delivered = stored::generation(env.db(), generation.id).await;
    assert_eq!(delivered.status, GenerationStatus::Succeeded);
    assert_eq!(delivered.telegram_file_ids.len(), 2);
    assert_eq!(stored::user(env.db(), user.id).await.tokens_left, 90);
    let failed = env
        .telegram
        .sent_to(user.id)
        .into_iter()
        .filter(|c| c.text().contains("failed"));
    assert_eq!(failed.count(), 0, "nobody told it failed");
}

#[tokio::test]
async fn a_sweep_out_of_time_starts_no_check_and_leaves_the_jobs_to_the_next() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    for prediction in ["pr_1", "pr_2"] {
        let generation =
            fixtures::generation_in_flight(env.db(), user.id, model.id, prediction, 1, 5).await;
        fixtures::rewrite_rows(
            env.db(),
            "UPDATE generations SET updated_at = now() - interval '1 hour' WHERE id = $1",
            &[&generation.id],
        )
        .await;
    }
    env.replicate
        .set_job(env.replicate.prediction_succeeded("pr_1", 1));
    env.replicate
        .set_job(env.replicate.prediction_succeeded("pr_2", 1));

    let report = training_worker::sweep_within(&services, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((report.checked, report.deferred), (0, 2), "{report:?}");
    assert!(env.replicate.calls_to("GET", "/predictions").is_empty());
    assert!(
        env.telegram.calls_of("sendPhoto").is_empty(),
        "nothing sent"
    );

    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!((report.checked, report.deferred), (2, 0), "{report:?}");
    assert_eq!(
        env.telegram.calls_of("sendPhoto").len(),
        2,
        "both delivered"
    );
}

#[tokio::test]
async fn the_sweep_refunds_a_generation_paid_for_but_never_started() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    let generation =
        fixtures::generation_in_flight(env.db(), user.id, model.id, "pr_1", 1, 5).await;
    // As if the start at Replicate was never recorded (the Lambda died after the debit).
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE generations SET status = 'pending', replicate_prediction_id = NULL WHERE id = $1",
        &[&generation.id],
    )
    .await;
    training_worker::sweep(&services).await.unwrap();
    assert_eq!(
        stored::user(env.db(), user.id).await.tokens_left,
        95,
        "a fresh one may still be starting"
    );
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE generations SET created_at = now() - interval '1 hour' WHERE id = $1",
        &[&generation.id],
    )
    .await;
    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!(report.settled, 1);
    let stored = stored::generation(env.db(), generation.id).await;
    assert_eq!(stored.status, GenerationStatus::Failed);
    assert_eq!(stored::user(env.db(), user.id).await.tokens_left, 100);
}

#[tokio::test]
async fn the_sweep_settles_jobs_replicate_did_not_report() {
    let mut env = TestEnv::start().await;
    env.set("JOB_STALE_SECONDS", Some("0"));
    let (services, _jobs) = env.services();
    let user = fixtures::user(env.db(), 1, 100).await;
    let ready = fixtures::training_model(env.db(), user.id, "tr_ok", 0).await;
    let failed = fixtures::training_model(env.db(), user.id, "tr_bad", 50).await;
    let other = fixtures::ready_model(env.db(), user.id).await;
    let generation =
        fixtures::generation_in_flight(env.db(), user.id, other.id, "pr_1", 1, 5).await;
    env.replicate.set_job(training_succeeded("tr_ok"));
    env.replicate.set_job(job_failed("tr_bad", "boom"));
    env.replicate
        .set_job(env.replicate.prediction_succeeded("pr_1", 1));

    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!((report.checked, report.settled, report.errors), (3, 3, 0));
    assert_eq!(
        stored::model(env.db(), ready.id).await.status,
        ModelStatus::Ready
    );
    assert_eq!(
        stored::model(env.db(), failed.id).await.status,
        ModelStatus::Failed
    );
    assert_eq!(
        env.telegram.calls_of("sendPhoto").len(),
        1,
        "a single image is sent as a photo"
    );
    assert_eq!(
        stored::generation(env.db(), generation.id)
            .await
            .telegram_file_ids
            .len(),
        1
    );
    // Everything settled: a second sweep finds nothing to do.
    let again = training_worker::sweep(&services).await.unwrap();
    assert_eq!(again.checked, 0);
    assert_eq!(
        stored::user(env.db(), user.id).await.tokens_left,
        95 // 100 - 50 (failed training, refunded) - 5 (the delivered generation) + 50
    );
}

/// A training the worker started, where every running job is due for the sweep
/// (`JOB_STALE_SECONDS` 0).
struct StartedTraining {
    env: TestEnv,
    services: shared::services::Services,
    /// Kept open for the jobs the worker queues.
    _jobs: tokio::sync::mpsc::UnboundedReceiver<shared::queue::TrainingJob>,
    /// The model, training.
    model: models::Model,
    training_id: String,
    /// The id of the zip of its photos uploaded to Replicate.
    zip: String,
}

/// Starts the training of a queued model costing `cost` through the worker.
async fn started_training(cost: i64) -> StartedTraining {
    let mut env = TestEnv::start().await;
    env.set("JOB_STALE_SECONDS", Some("0"));
    let (services, jobs) = env.services();
    let state = training_worker::State::new(services.clone());
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::queued_model(env.db(), user.id, 10, cost).await;
    let response = training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(response.batch_item_failures.is_empty());
    let trainings = env
        .replicate
        .calls_to("POST", "/models/ostris/flux-dev-lora-trainer/versions/");
    let zip_url = trainings[0].parse::<TrainingRequest>().input.input_images;
    let zip_id = zip_url
        .split("/files/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let model = stored::model(env.db(), model.id).await;
    assert_eq!(model.status, ModelStatus::Training);
    assert!(env.replicate.calls_to("DELETE", "/files").is_empty());
    let training_id = model.replicate_training_id.clone().unwrap();
    StartedTraining {
        env,
        services,
        _jobs: jobs,
        model,
        training_id,
        zip: zip_id,
    }
}

#[tokio::test]
async fn the_training_zip_is_deleted_at_replicate_once_the_model_is_ready() {
    let StartedTraining {
        env,
        services,
        model,
        training_id,
        zip,
        _jobs,
    } = started_training(0).await;
    env.replicate.set_job(training_succeeded(&training_id));

    training_worker::sweep(&services).await.unwrap();
    let ready = stored::model(env.db(), model.id).await;
    assert_eq!(ready.status, ModelStatus::Ready);
    assert_eq!(
        env.replicate
            .calls_to("DELETE", &format!("/files/{zip}"))
            .len(),
        1,
        "the zip is deleted"
    );
    assert!(fixtures::unsettled_effects(env.db()).await.is_empty());
    // Settling again (a late report) asks for nothing more.
    training_worker::sweep(&services).await.unwrap();
    assert_eq!(env.replicate.calls_to("DELETE", "/files").len(), 1);
}

#[tokio::test]
async fn the_training_zip_is_deleted_at_replicate_when_the_training_fails() {
    let StartedTraining {
        env,
        services,
        model,
        training_id,
        zip,
        _jobs,
    } = started_training(50).await;
    env.replicate.set_job(job_failed(&training_id, "boom"));
    // Replicate stumbles on the delete first: the sweep tries again.
    env.replicate.fail_next("/files", 502, "Bad gateway");
    env.replicate.fail_next("/files", 502, "Bad gateway");
    env.replicate.fail_next("/files", 502, "Bad gateway");

    training_worker::sweep(&services).await.unwrap();
    let failed = stored::model(env.db(), model.id).await;
    assert_eq!(failed.status, ModelStatus::Failed);
    assert_eq!(fixtures::unsettled_effects(env.db()).await.len(), 1);
    fixtures::make_effects_due(env.db()).await;
    shared::dispatch::drain(&services, 10).await.unwrap();
    assert!(fixtures::unsettled_effects(env.db()).await.is_empty());
    assert_eq!(
        env.replicate
            .calls_to("DELETE", &format!("/files/{zip}"))
            .len(),
        4,
        "three failures, then deleted"
    );
}

#[tokio::test]
async fn housekeeping_purges_idempotency_keys_older_than_a_day() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    fixtures::user(env.db(), 1, 0).await;
    let conn = env.db().conn().await.unwrap();
    conn.batch_execute(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, lease_until) VALUES
             (1, 'old', sha256('a'), now() - interval '25 hours', now() - interval '25 hours'),
             (1, 'new', sha256('b'), now() - interval '23 hours', now() - interval '23 hours')",
    )
    .await
    .unwrap();
    drop(conn);
    let report = training_worker::housekeeping(&services).await.unwrap();
    assert!(report.pruned >= 1, "{report:?}");
    let conn = env.db().conn().await.unwrap();
    let keys: Vec<String> = conn
        .query("SELECT key FROM idempotency_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, vec!["new".to_owned()]);
}

/// An erasure (or a cancel) commits at `when`, in a trigger on `table`: the model is `canceled` as
/// [`shared::repo::erasure::erase_user`] leaves it. `skip` also drops the update it fired on (a
/// statement that found the model moved on).
async fn cancel_the_model_when(env: &TestEnv, table: &str, when: &str, skip: bool) {
    let answer = if skip { "NULL" } else { "NEW" };
    fixtures::meanwhile(
        env.db(),
        "cancel_the_model",
        &format!("BEFORE UPDATE ON {table}"),
        &format!(
            "IF {when} THEN
                 UPDATE models SET status = 'canceled', error = 'deleted by its owner';
                 RETURN {answer};
             END IF;
             RETURN NEW;"
        ),
    )
    .await;
}

/// The worker handles a queued model's job while its owner's erasure commits as
/// [`cancel_the_model_when`] says.
async fn started_while_erased(table: &str, when: &str, skip: bool) -> (TestEnv, models::Model) {
    let (env, state) = setup().await;
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::queued_model(env.db(), user.id, 10, 100).await;
    cancel_the_model_when(&env, table, when, skip).await;
    deliver_job(&state, model.id).await;
    (env, model)
}

#[tokio::test]
async fn a_training_its_model_no_longer_wants_is_canceled_however_long_replicate_fails_the_cancel()
{
    // The model is canceled (its owner erased it) just as Replicate's answer is recorded, and
    // Replicate fails every cancel until it heals.
    let (env, state) = setup().await;
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::queued_model(env.db(), user.id, 10, 100).await;
    cancel_the_model_when(&env, "replicate_attempts", "NEW.state = 'created'", false).await;
    env.replicate.fail_always("/trainings/", 500);
    deliver_job(&state, model.id).await;
    let created = env
        .replicate
        .calls_to("POST", "/models/ostris/flux-dev-lora-trainer/versions/");
    assert_eq!(created.len(), 1, "the training was created");
    let failed_cancels = env.replicate.calls_to("POST", "/trainings/").len();
    assert!(failed_cancels >= 1, "its cancel was asked at once");
    let pending = fixtures::unsettled_effects(env.db()).await;
    assert_eq!(
        pending.len(),
        1,
        "the cancel is kept to try again: {pending:?}"
    );

    env.replicate.heal();
    fixtures::make_effects_due(env.db()).await;
    let (services, _jobs) = env.services();
    shared::dispatch::drain(&services, 10).await.unwrap();
    assert!(fixtures::unsettled_effects(env.db()).await.is_empty());
    let cancels = env.replicate.calls_to("POST", "/trainings/");
    assert_eq!(
        cancels.len(),
        failed_cancels + 1,
        "canceled once it could be"
    );
    assert!(
        cancels.iter().all(|c| c.path.ends_with("/cancel")),
        "{cancels:?}"
    );
    assert_eq!(
        stored::model(env.db(), model.id).await.status,
        ModelStatus::Canceled
    );
}

async fn assert_discarded_and_nothing_started(env: &TestEnv, model_id: i64) {
    assert!(
        env.replicate
            .calls_to("POST", "/models/ostris/flux-dev-lora-trainer/versions/")
            .is_empty(),
        "no training created"
    );
    let model = stored::model(env.db(), model_id).await;
    assert_eq!(model.status, ModelStatus::Canceled);
    assert!(model.replicate_training_id.is_none());
    let conn = env.db().conn().await.unwrap();
    let row = conn
        .query_one(
            "SELECT count(*) FILTER (WHERE kind = 'delete_stored_objects' AND state = 'done'),
                    count(*) FILTER (WHERE state <> 'done')
             FROM effects",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1, "the photos' copies deleted");
    assert_eq!(row.get::<_, i64>(1), 0, "nothing left to do");
}

#[tokio::test]
async fn a_model_erased_while_its_photos_are_read_sends_none_of_them_to_replicate() {
    // The erasure commits once the first photo is copied into our bucket.
    let (env, model) =
        started_while_erased("training_photos", "NEW.storage_key IS NOT NULL", false).await;
    assert!(
        env.replicate.calls_to("POST", "/files").is_empty(),
        "no zip uploaded"
    );
    assert_discarded_and_nothing_started(&env, model.id).await;
}

#[tokio::test]
async fn a_model_erased_as_its_zip_is_uploaded_has_the_zip_deleted_at_replicate() {
    // The erasure commits after the zip is uploaded, just before it is recorded on the attempt.
    let (env, model) =
        started_while_erased("replicate_attempts", "NEW.input_ref IS NOT NULL", true).await;
    let uploads = env.replicate.calls_to("POST", "/files");
    assert_eq!(uploads.len(), 1);
    let deleted = env.replicate.calls_to("DELETE", "/files/");
    assert_eq!(deleted.len(), 1, "the zip deleted at Replicate");
    assert_discarded_and_nothing_started(&env, model.id).await;
}
