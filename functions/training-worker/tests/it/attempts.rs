//! Remote jobs have attempts: a training or prediction whose answer is lost (a 500 after Replicate
//! took it, a hang past our timeout, a crash before we stored it) is found again at Replicate, never
//! created twice; failures are retried in the way that fits them; the sweep is fair and bounded.

use std::time::Duration;

use serde_json::json;
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::queue::TrainingJob;
use shared::repo::attempts::{self, Kind, State as AttemptState};
use shared::repo::models;
use shared::repo::users::User;
use shared::usecases::generation::{self, GenerationRequest};
use testkit::replicate::training_succeeded;
use testkit::stored;
use testkit::{fixtures, TestEnv, ADMIN_ID, PUBLIC_URL};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::deliveries::{deliver_job, job_event};

const CREATE_TRAINING: &str = "/models/ostris/flux-dev-lora-trainer/versions/";

fn state_of(env: &TestEnv) -> std::sync::Arc<training_worker::State> {
    state_and_jobs(env).0
}

/// A worker whose retries wait 20 ms at first, and the queue it requeues jobs on.
fn state_and_jobs(
    env: &TestEnv,
) -> (
    std::sync::Arc<training_worker::State>,
    UnboundedReceiver<TrainingJob>,
) {
    let (services, jobs) = env.services();
    let state = training_worker::State::with_retry_base(services, Duration::from_millis(20));
    (state, jobs)
}

/// The job the worker put back on the queue (within 5 seconds).
async fn requeued(jobs: &mut UnboundedReceiver<TrainingJob>) -> TrainingJob {
    tokio::time::timeout(Duration::from_secs(5), jobs.recv())
        .await
        .expect("requeued")
        .expect("the queue is open")
}

async fn model_of(env: &TestEnv, id: i64) -> models::Model {
    stored::model(env.db(), id).await
}

async fn balance(env: &TestEnv, user_id: i64) -> i64 {
    stored::balance(env.db(), user_id).await
}

/// A queued model paid for by user 1, whose training attempt a worker holds (leased for 5 minutes).
async fn paid_model_with_a_live_attempt(env: &TestEnv) -> (User, models::Model) {
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    let tag = attempts::new_tag();
    fixtures::attempt(env.db(), Kind::Training, model.id, &tag, None, 300).await;
    (user, model)
}

/// Exactly one training exists at Replicate for the model, and the model is training with it.
async fn assert_one_training_attached(env: &TestEnv, model_id: i64) {
    let trainings = env.replicate.trainings();
    assert_eq!(trainings.len(), 1, "one paid training, not two");
    let model = model_of(env, model_id).await;
    assert_eq!(model.status, ModelStatus::Training);
    assert_eq!(
        model.replicate_training_id.as_deref(),
        trainings[0]["id"].as_str()
    );
}

#[tokio::test]
async fn a_training_replicate_took_but_answered_500_is_found_not_created_again() {
    let env = TestEnv::start().await;
    let state = state_of(&env);
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    env.replicate.accept_then_fail_next(CREATE_TRAINING, 500);

    training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    // A redelivery (SQS, or the sweep's requeue) changes nothing.
    let again = training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(again.batch_item_failures.is_empty());

    assert_one_training_attached(&env, model.id).await;
    assert_eq!(env.replicate.calls_to("POST", CREATE_TRAINING).len(), 1);
    assert_eq!(balance(&env, user.id).await, 0, "nothing refunded");
}

#[tokio::test]
async fn a_500_that_created_nothing_is_looked_up_again_then_started_once() {
    let env = TestEnv::start().await;
    let (state, mut jobs) = state_and_jobs(&env);
    let (_, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    env.replicate
        .fail_next(CREATE_TRAINING, 500, "Internal server error");

    training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(env.replicate.trainings().is_empty());
    let again = requeued(&mut jobs).await;
    training_worker::handle_batch(&state, job_event("m1", again.model_id)).await;

    assert_one_training_attached(&env, model.id).await;
    // Looked up after the 500, and again before the fresh attempt.
    assert_eq!(env.replicate.calls_to("GET", "/trainings").len(), 2);
    let conn = env.db().conn().await.unwrap();
    let states: Vec<String> = conn
        .query(
            "SELECT state FROM replicate_attempts WHERE subject_id = $1 ORDER BY id",
            &[&model.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(states, vec!["abandoned", "created"]);
}

#[tokio::test]
async fn a_training_create_that_hangs_past_our_timeout_is_found_not_created_again() {
    let mut env = TestEnv::start().await;
    env.set("REPLICATE_TIMEOUT_SECONDS", Some("1"));
    let state = state_of(&env);
    let (_, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    // Longer than any timeout of ours (the shared HTTP client's is 25 s).
    env.replicate
        .accept_then_hang_next(CREATE_TRAINING, Duration::from_secs(40));

    training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    training_worker::handle_batch(&state, job_event("m1", model.id)).await;

    assert_one_training_attached(&env, model.id).await;
    assert_eq!(env.replicate.calls_to("POST", CREATE_TRAINING).len(), 1);
}

#[tokio::test]
async fn a_worker_that_died_after_creating_the_training_is_settled_by_lookup() {
    let env = TestEnv::start().await;
    let state = state_of(&env);
    let (_, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    // The dead worker's attempt (its lease ran out) and the training Replicate made for it.
    let tag = attempts::new_tag();
    fixtures::attempt(env.db(), Kind::Training, model.id, &tag, None, 300).await;
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE replicate_attempts SET lease_until = now() - interval '1 minute',
                destination = 'dreamtest/dream-photo-loras' WHERE tag = $1",
        &[&tag],
    )
    .await;
    env.replicate.add_training(json!({
        "id": "tr_orphan", "status": "processing",
        "webhook": format!("{PUBLIC_URL}/replicate/webhook?attempt={tag}"),
        "input": {"input_images": "https://example.com/zip"}
    }));

    deliver_job(&state, model.id).await;

    assert_one_training_attached(&env, model.id).await;
    assert_eq!(
        model_of(&env, model.id)
            .await
            .replicate_training_id
            .as_deref(),
        Some("tr_orphan")
    );
    assert!(
        env.replicate.calls_to("POST", CREATE_TRAINING).is_empty(),
        "never created again"
    );
    assert!(
        env.replicate.calls_to("POST", "/files").is_empty(),
        "no second upload"
    );
}

#[tokio::test]
async fn an_attempt_another_worker_holds_is_busy_not_started_twice() {
    let env = TestEnv::start().await;
    let (state, mut jobs) = state_and_jobs(&env);
    let (_, model) = paid_model_with_a_live_attempt(&env).await;

    training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(
        env.replicate.calls().is_empty(),
        "nothing sent to Replicate"
    );
    assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Queued);
    // Retried soon, not after the visibility timeout.
    let again = requeued(&mut jobs).await;
    assert_eq!(again.model_id, model.id);
}

#[tokio::test]
async fn replicate_down_three_times_then_up_starts_the_training_within_seconds() {
    let env = TestEnv::start().await;
    let (state, mut jobs) = state_and_jobs(&env);
    let (_, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    for _ in 0..3 {
        env.replicate.fail_next("/files", 503, "upstream trouble");
    }
    let started = std::time::Instant::now();
    let mut deliveries = 0;
    let mut next = Some(model.id);
    while let Some(model_id) = next.take() {
        deliveries += 1;
        deliver_job(&state, model_id).await;
        if let Ok(Some(job)) = tokio::time::timeout(Duration::from_secs(3), jobs.recv()).await {
            next = Some(job.model_id);
        }
    }
    assert_eq!(deliveries, 4, "three retries, then it started");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_one_training_attached(&env, model.id).await;

    // The backoff grows: 10 s, 30 s, 90 s... at most 15 minutes (SQS visibility changes).
    let base = Duration::from_secs(10);
    assert_eq!(
        (1..=7)
            .map(|n| training_worker::backoff(base, n).as_secs())
            .collect::<Vec<_>>(),
        vec![10, 30, 90, 270, 810, 900, 900]
    );
}

#[tokio::test]
async fn a_throttled_create_is_retried_after_replicates_retry_after_and_starts_once() {
    let env = TestEnv::start().await;
    let (state, mut jobs) = state_and_jobs(&env);
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    env.replicate.throttle_next(CREATE_TRAINING, 1);

    let started = std::time::Instant::now();
    training_worker::handle_batch(&state, job_event("m1", model.id)).await;
    assert!(
        env.replicate.trainings().is_empty(),
        "a 429 created nothing"
    );
    assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Queued);
    let again = requeued(&mut jobs).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before Retry-After"
    );
    training_worker::handle_batch(&state, job_event("m1", again.model_id)).await;

    assert_one_training_attached(&env, model.id).await;
    assert_eq!(env.replicate.calls_to("POST", CREATE_TRAINING).len(), 2);
    assert_eq!(balance(&env, user.id).await, 0, "nothing refunded");
}

#[tokio::test]
async fn a_refused_token_keeps_the_model_queued_unrefunded_and_alarms_the_admins_once() {
    let env = TestEnv::start().await;
    let state = state_of(&env);
    let (user, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    let other = fixtures::queued_model(env.db(), user.id, 10, 0).await;
    env.replicate.fail_always("/files", 401);

    for id in [model.id, other.id, model.id, other.id] {
        let response = training_worker::handle_batch(&state, job_event("m", id)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "waits in the queue"
        );
    }

    assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Queued);
    assert_eq!(model_of(&env, other.id).await.status, ModelStatus::Queued);
    assert_eq!(balance(&env, user.id).await, 0, "nobody refunded");
    assert!(
        env.telegram.sent_to(user.id).is_empty(),
        "the user is not told it failed"
    );
    let alarms = env.telegram.sent_to(ADMIN_ID);
    assert_eq!(alarms.len(), 1, "the admins hear it once");
    assert!(alarms[0].text().contains("Replicate"));
    assert!(env.replicate.trainings().is_empty());

    // The sweep does not give up on them either while the alarm stands.
    for id in [model.id, other.id] {
        fixtures::queued_hours_ago(env.db(), id).await;
    }
    let (services, _jobs) = env.services();
    training_worker::sweep(&services).await.unwrap();
    assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Queued);
}

#[tokio::test]
async fn the_six_hour_give_up_never_fails_a_model_with_a_live_attempt() {
    let env = TestEnv::start().await;
    let (services, mut jobs) = env.services();
    let (user, model) = paid_model_with_a_live_attempt(&env).await;
    fixtures::queued_hours_ago(env.db(), model.id).await;

    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!((report.settled, report.requeued), (0, 1));
    assert_eq!(jobs.try_recv().unwrap().model_id, model.id);
    assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Queued);
    assert_eq!(balance(&env, user.id).await, 0, "not refunded");
}

#[tokio::test]
async fn the_sweep_rotates_so_jobs_that_always_error_do_not_block_the_others() {
    let mut env = TestEnv::start().await;
    env.set("JOB_STALE_SECONDS", Some("0"));
    let (services, _jobs) = env.services();
    let user = fixtures::user(env.db(), 1, 100).await;
    let batch = training_worker::SWEEP_BATCH as usize;
    for i in 0..batch {
        fixtures::training_model(env.db(), user.id, &format!("tr_bad_{i}"), 0).await;
    }
    let good = fixtures::training_model(env.db(), user.id, "tr_ok", 0).await;
    env.replicate.fail_always("/trainings/tr_bad_", 500);
    env.replicate.set_job(training_succeeded("tr_ok"));

    let first = training_worker::sweep(&services).await.unwrap();
    assert_eq!((first.checked, first.errors), (batch, batch));
    let second = training_worker::sweep(&services).await.unwrap();
    assert!(second.settled >= 1, "the good job's turn came");
    assert_eq!(model_of(&env, good.id).await.status, ModelStatus::Ready);
}

#[tokio::test]
async fn a_training_replicate_no_longer_knows_fails_with_one_refund() {
    let mut env = TestEnv::start().await;
    env.set("JOB_STALE_SECONDS", Some("0"));
    let (services, _jobs) = env.services();
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::training_model(env.db(), user.id, "tr_gone", 100).await;
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE models SET training_started_at = now() - interval '1 hour' WHERE id = $1",
        &[&model.id],
    )
    .await;
    env.replicate.fail_always("/trainings/tr_gone", 404);

    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!(report.settled, 1);
    training_worker::sweep(&services).await.unwrap();
    assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Failed);
    assert_eq!(balance(&env, user.id).await, 100, "refunded once");
    assert_eq!(
        env.replicate.calls_to("GET", "/trainings/tr_gone").len(),
        1,
        "not asked again"
    );
}

#[tokio::test]
async fn a_prediction_replicate_took_but_answered_500_is_attached_not_refunded() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    env.replicate.accept_then_fail_next("/predictions", 500);

    let request = one_image_on_a_beach(user.id, model.id);
    let created = generation::create(&services, services.replicate().unwrap(), &request)
        .await
        .unwrap();

    let predictions = env.replicate.predictions();
    assert_eq!(predictions.len(), 1, "one prediction");
    assert_eq!(
        created.replicate_prediction_id.as_deref(),
        predictions[0]["id"].as_str()
    );
    assert_eq!(created.status, GenerationStatus::Starting);
    assert!(
        predictions[0]["input"]["seed"].is_u64(),
        "a seed of its own"
    );
    let tag = predictions[0]["webhook"].as_str().unwrap();
    assert!(tag.starts_with(&format!("{PUBLIC_URL}/replicate/webhook?attempt=")));
    let price = 100 - balance(&env, user.id).await;
    assert!(price > 0, "paid, not refunded");
    let conn = env.db().conn().await.unwrap();
    let attempt = attempts::live(&**conn, Kind::Prediction, created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.state, AttemptState::Created);
    // Told it is being made (its status message), and no failure.
    let told: Vec<String> = env
        .telegram
        .sent_to(user.id)
        .iter()
        .map(|c| c.text().to_owned())
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("Creating 1 photo"), "{told:?}");
}

/// The request that paid for a generation dies after its commit, before it attached the prediction
/// or sent the status message (Telegram was down for a moment, Replicate slow to answer): the
/// sweep attaches the prediction Replicate has and sends the status message, once, and the
/// generation is paid once.
#[tokio::test]
async fn a_generation_whose_request_died_after_paying_is_started_and_told_once_by_the_sweep() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    env.replicate
        .accept_then_hang_next("/predictions", Duration::from_secs(30));
    for _ in 0..3 {
        env.telegram.outage_next("sendMessage");
    }
    let request = one_image_on_a_beach(user.id, model.id);
    let replicate = services.replicate().unwrap();
    let died = tokio::time::timeout(
        Duration::from_millis(200),
        generation::create(&services, replicate, &request),
    )
    .await;
    assert!(died.is_err(), "cut off: {died:?}");
    let price = 100 - balance(&env, user.id).await;
    assert!(price > 0, "paid");
    let created = env.replicate.predictions();
    assert_eq!(created.len(), 1, "Replicate took it");
    assert!(
        env.telegram
            .calls_of("sendMessage")
            .iter()
            .all(|c| !c.answered_ok()),
        "no status message went out"
    );

    // An hour later: the leases of the start and of the status message ran out long ago.
    generations_made_an_hour_ago_their_attempts_leases_run_out(&env).await;
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE effects SET lease_until = now() - interval '1 minute' WHERE state = 'running'",
        &[],
    )
    .await;
    env.telegram.clear_scripts("sendMessage");
    for _ in 0..2 {
        training_worker::scheduled(&services).await.unwrap();
    }

    let generation = assert_attached_to_its_generation(&env, &created[0]).await;
    assert_eq!(env.replicate.predictions().len(), 1, "started once");
    assert_eq!(100 - balance(&env, user.id).await, price, "paid once");
    let told: Vec<String> = env
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.answered_ok())
        .map(|c| c.text().to_owned())
        .collect();
    assert_eq!(told.len(), 1, "one status message: {told:?}");
    assert!(told[0].contains("Creating 1 photo"), "{told:?}");
    assert_status_message_kept_and_effects_settled(&env, generation.id).await;
}

#[tokio::test]
async fn an_unconfirmed_generation_start_is_settled_by_lookup_in_the_sweep() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    let found = fixtures::generation_in_flight(env.db(), user.id, model.id, "pr_x", 1, 5).await;
    let lost = fixtures::generation_in_flight(env.db(), user.id, model.id, "pr_y", 1, 5).await;
    let conn = env.db().conn().await.unwrap();
    let mut tags = Vec::new();
    for generation in [&found, &lost] {
        let tag = attempts::new_tag();
        fixtures::attempt(
            env.db(),
            Kind::Prediction,
            generation.id,
            &tag,
            Some("12345"),
            120,
        )
        .await;
        tags.push(tag);
    }
    // Both debited, neither start confirmed (the Lambda died), an hour ago.
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE generations SET status = 'pending', replicate_prediction_id = NULL",
        &[],
    )
    .await;
    generations_made_an_hour_ago_their_attempts_leases_run_out(&env).await;
    drop(conn);
    // Replicate has the first one (found by its webhook tag); the second never reached it.
    env.replicate.add_prediction(json!({
        "id": "pr_found", "status": "processing", "input": {"seed": 999},
        "webhook": format!("{PUBLIC_URL}/replicate/webhook?attempt={}", tags[0]),
    }));

    let report = training_worker::sweep(&services).await.unwrap();
    assert_eq!(report.settled, 2, "one attached, one failed and refunded");
    let attached = stored::generation(env.db(), found.id).await;
    assert_eq!(attached.status, GenerationStatus::Starting);
    assert_eq!(
        attached.replicate_prediction_id.as_deref(),
        Some("pr_found")
    );
    let failed = stored::generation(env.db(), lost.id).await;
    assert_eq!(failed.status, GenerationStatus::Failed);
    assert_eq!(
        balance(&env, user.id).await,
        95,
        "only the lost one refunded"
    );
}

/// Photos from URLs people gave us: fetched only through the guarded fetcher.
mod photo_urls {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use shared::domain::status::ModelStatus;
    use shared::fetch::COULD_NOT_DOWNLOAD;
    use shared::repo::models::{self, NewPhoto};
    use testkit::{fixtures, TestEnv};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::{balance, model_of, requeued, state_and_jobs, state_of};
    use crate::deliveries::{deliver_job, job_event};

    /// What a raw local server does with each connection.
    #[derive(Clone, Copy)]
    enum Behaviour {
        /// Counts it and closes it.
        Nothing,
        /// A JPEG of 1,000 bytes, one byte a second.
        Trickle,
        /// A JPEG that never ends, as fast as it is read.
        Endless,
        /// Headers announcing 30 MB, then nothing.
        DeclaresHuge,
    }

    /// A local server on 127.0.0.1 that counts connections and the body bytes it wrote.
    struct RawServer {
        port: u16,
        connections: Arc<AtomicUsize>,
        written: Arc<AtomicUsize>,
    }

    async fn raw_server(behaviour: Behaviour) -> RawServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicUsize::new(0));
        let (counted, bytes) = (connections.clone(), written.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let bytes = bytes.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let jpeg = testkit::fake_jpeg();
                    match behaviour {
                        Behaviour::Nothing => {}
                        Behaviour::Trickle => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: 1000\r\n\r\n";
                            if socket.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let mut body = jpeg.clone();
                            body.resize(1000, 0);
                            for byte in body {
                                if socket.write_all(&[byte]).await.is_err() {
                                    return;
                                }
                                bytes.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        }
                        Behaviour::Endless => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\nconnection: close\r\n\r\n";
                            if socket.write_all(head.as_bytes()).await.is_err()
                                || socket.write_all(&jpeg).await.is_err()
                            {
                                return;
                            }
                            let chunk = vec![0u8; 64 * 1024];
                            while socket.write_all(&chunk).await.is_ok() {
                                bytes.fetch_add(chunk.len(), Ordering::SeqCst);
                            }
                        }
                        Behaviour::DeclaresHuge => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: 30000000\r\n\r\n";
                            let _ = socket.write_all(head.as_bytes()).await;
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                    }
                });
            }
        });
        RawServer {
            port,
            connections,
            written,
        }
    }

    /// A paid, queued model whose ten photos are these URLs.
    /// A queued model of user `user_id` with one photo at `server`.
    async fn model_from_server(env: &TestEnv, user_id: i64, server: &RawServer) -> models::Model {
        model_from_urls(
            env,
            user_id,
            &[format!("http://127.0.0.1:{}/a.jpg", server.port)],
        )
        .await
    }

    async fn model_from_urls(env: &TestEnv, user_id: i64, urls: &[String]) -> models::Model {
        let model = fixtures::queued_model(env.db(), user_id, 0, 100).await;
        let conn = env.db().conn().await.unwrap();
        for (i, url) in urls.iter().cycle().take(10).enumerate() {
            let photo = NewPhoto {
                file_unique_id: format!("url-{}-{i}", model.id),
                telegram_file_id: None,
                source_url: Some(format!("{url}?n={i}")),
                file_size: None,
                mime_type: None,
                storage_key: None,
            };
            models::add_photo(&**conn, model.id, &photo).await.unwrap();
        }
        model
    }

    /// The model failed for good, refunded, with `text` as its error (nothing of the source in it).
    async fn assert_failed_with(env: &TestEnv, model_id: i64, user_id: i64, text: &str) {
        let model = model_of(env, model_id).await;
        assert_eq!(model.status, ModelStatus::Failed);
        assert_eq!(model.error.as_deref(), Some(text));
        assert_eq!(balance(env, user_id).await, 100, "refunded");
    }

    fn two_jobs(a: i64, b: i64) -> aws_lambda_events::sqs::SqsEvent {
        let mut event = job_event("m1", a);
        event.records.extend(job_event("m2", b).records);
        event
    }

    #[tokio::test]
    async fn a_name_or_literal_address_of_loopback_is_never_connected_to() {
        let env = TestEnv::start().await;
        let state = state_of(&env);
        let listener = raw_server(Behaviour::Nothing).await;
        let port = listener.port;
        let user = fixtures::user(env.db(), 1, 200).await;
        let by_name =
            model_from_urls(&env, user.id, &[format!("https://localhost:{port}/a.jpg")]).await;
        let by_ip = model_from_urls(
            &env,
            user.id,
            &[
                format!("https://127.0.0.1:{port}/a.jpg"),
                format!("https://[::ffff:127.0.0.1]:{port}/a.jpg"),
            ],
        )
        .await;

        let response = training_worker::handle_batch(&state, two_jobs(by_name.id, by_ip.id)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "failed for good, not retried"
        );

        assert_eq!(
            listener.connections.load(Ordering::SeqCst),
            0,
            "nothing reached the listener"
        );
        for model in [&by_name, &by_ip] {
            let failed = model_of(&env, model.id).await;
            assert_eq!(failed.status, ModelStatus::Failed);
            assert_eq!(failed.error.as_deref(), Some(COULD_NOT_DOWNLOAD));
        }
        assert_eq!(balance(&env, user.id).await, 200, "both refunded");
        assert!(env.replicate.calls_to("POST", "/files").is_empty());
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_even_where_private_addresses_are_allowed() {
        let mut env = TestEnv::start().await;
        env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        let state = state_of(&env);
        let target = raw_server(Behaviour::Nothing).await;
        let redirector = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(302).insert_header(
                "location",
                format!("http://127.0.0.1:{}/secret", target.port).as_str(),
            ))
            .mount(&redirector)
            .await;
        let user = fixtures::user(env.db(), 1, 100).await;
        let model = model_from_urls(&env, user.id, &[format!("{}/a.jpg", redirector.uri())]).await;

        deliver_job(&state, model.id).await;

        assert_eq!(redirector.received_requests().await.unwrap().len(), 1);
        assert_eq!(
            target.connections.load(Ordering::SeqCst),
            0,
            "the redirect was not followed"
        );
        assert_failed_with(&env, model.id, user.id, COULD_NOT_DOWNLOAD).await;
    }

    #[tokio::test]
    async fn photos_at_allowed_urls_are_fetched_without_our_tokens() {
        let mut env = TestEnv::start().await;
        env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        let state = state_of(&env);
        let cdn = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_bytes(testkit::fake_jpeg()))
            .mount(&cdn)
            .await;
        let user = fixtures::user(env.db(), 1, 100).await;
        let model = model_from_urls(&env, user.id, &[format!("{}/a.jpg", cdn.uri())]).await;

        deliver_job(&state, model.id).await;

        let requests = cdn.received_requests().await.unwrap();
        assert_eq!(requests.len(), 10);
        assert!(requests
            .iter()
            .all(|r| !r.headers.contains_key("authorization")));
        assert_eq!(model_of(&env, model.id).await.status, ModelStatus::Training);
    }

    #[tokio::test]
    async fn a_trickling_photo_is_cut_at_its_deadline_and_the_next_job_still_starts() {
        let mut env = TestEnv::start().await;
        env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        env.set("PHOTO_FETCH_TIMEOUT_SECONDS", Some("1"));
        let (state, mut jobs) = state_and_jobs(&env);
        let trickle = raw_server(Behaviour::Trickle).await;
        let user = fixtures::user(env.db(), 1, 200).await;
        let slow = model_from_server(&env, user.id, &trickle).await;
        let other = fixtures::queued_model(env.db(), user.id, 10, 100).await;

        let started = Instant::now();
        let response = training_worker::handle_batch(&state, two_jobs(slow.id, other.id)).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "cut after its second, not after {:?}",
            started.elapsed()
        );
        assert!(response.batch_item_failures.is_empty());
        assert!(trickle.written.load(Ordering::SeqCst) <= 3);

        // A slow source is a transient failure: retried later (bounded by the receive count),
        // not refunded now; the other job was not held up.
        assert_eq!(model_of(&env, slow.id).await.status, ModelStatus::Queued);
        let retry = requeued(&mut jobs).await;
        assert_eq!(retry.model_id, slow.id);
        assert_eq!(model_of(&env, other.id).await.status, ModelStatus::Training);
        assert_eq!(balance(&env, user.id).await, 0);
    }

    #[tokio::test]
    async fn an_endless_or_oversized_photo_is_cut_at_the_cap_and_the_next_job_still_starts() {
        let mut env = TestEnv::start().await;
        env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        let state = state_of(&env);
        let endless = raw_server(Behaviour::Endless).await;
        let huge = raw_server(Behaviour::DeclaresHuge).await;
        let user = fixtures::user(env.db(), 1, 300).await;
        let unending = model_from_server(&env, user.id, &endless).await;
        let declared = model_from_server(&env, user.id, &huge).await;
        let other = fixtures::queued_model(env.db(), user.id, 10, 100).await;

        let started = Instant::now();
        let mut event = two_jobs(unending.id, declared.id);
        event.records.extend(job_event("m3", other.id).records);
        let response = training_worker::handle_batch(&state, event).await;
        assert!(response.batch_item_failures.is_empty());
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );

        let cap = shared::domain::rules::MAX_PHOTO_BYTES as usize;
        let sent = endless.written.load(Ordering::SeqCst);
        assert!(sent > cap / 2, "it was read ({sent} bytes)");
        // What sits in socket buffers aside, the reading stopped at the cap.
        assert!(
            sent < cap + 16 * 1024 * 1024,
            "read on past the cap: {sent} bytes"
        );
        assert_eq!(huge.connections.load(Ordering::SeqCst), 1);

        for model in [&unending, &declared] {
            let failed = model_of(&env, model.id).await;
            assert_eq!(failed.status, ModelStatus::Failed);
            assert_eq!(
                failed.error.as_deref(),
                Some("a training photo is larger than 20 MB")
            );
        }
        assert_eq!(model_of(&env, other.id).await.status, ModelStatus::Training);
        assert_eq!(balance(&env, user.id).await, 200, "the two refunded");
    }

    #[tokio::test]
    async fn a_page_that_is_not_an_image_is_refused_by_its_bytes() {
        let mut env = TestEnv::start().await;
        env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        let state = state_of(&env);
        let site = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_string("<!doctype html><html><body>Sign in</body></html>"),
            )
            .mount(&site)
            .await;
        let user = fixtures::user(env.db(), 1, 100).await;
        let model = model_from_urls(&env, user.id, &[format!("{}/a.jpg", site.uri())]).await;

        deliver_job(&state, model.id).await;
        assert_failed_with(
            &env,
            model.id,
            user.id,
            "a training photo is not a JPEG, PNG, WebP or HEIC image",
        )
        .await;
        assert!(env.replicate.calls_to("POST", "/files").is_empty());
    }

    #[tokio::test]
    async fn a_photo_url_that_is_gone_fails_once_with_the_fixed_text_and_a_5xx_is_retried() {
        let mut env = TestEnv::start().await;
        env.set("PHOTO_FETCH_ALLOW_PRIVATE", Some("true"));
        let (state, mut jobs) = state_and_jobs(&env);
        let gone = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(404).set_body_string("no such file at 10.0.0.7"))
            .mount(&gone)
            .await;
        let down = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(503))
            .mount(&down)
            .await;
        let user = fixtures::user(env.db(), 1, 200).await;
        let lost = model_from_urls(&env, user.id, &[format!("{}/a.jpg", gone.uri())]).await;
        let later = model_from_urls(&env, user.id, &[format!("{}/a.jpg", down.uri())]).await;

        training_worker::handle_batch(&state, two_jobs(lost.id, later.id)).await;
        let failed = model_of(&env, lost.id).await;
        assert_eq!(failed.status, ModelStatus::Failed);
        assert_eq!(failed.error.as_deref(), Some(COULD_NOT_DOWNLOAD));
        assert_eq!(model_of(&env, later.id).await.status, ModelStatus::Queued);
        let retry = requeued(&mut jobs).await;
        assert_eq!(retry.model_id, later.id);
        assert_eq!(
            balance(&env, user.id).await,
            100,
            "only the gone one refunded"
        );
    }
}

/// The database fails between Replicate taking the prediction and our attaching it (after the paying
/// transaction committed): the request errs, and once its lease runs out the sweep finds the
/// prediction by its tag and attaches it, with no refund and no second prediction.
/// The transaction that attaches the prediction and records the status message fails once: the
/// attach is tried again at once on its own, and the request succeeds with the message kept.
#[tokio::test]
async fn a_prediction_whose_attach_failed_once_is_attached_at_once() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    fixtures::fail_first_update(env.db(), "replicate_attempts", "NEW.state = 'created'").await;
    let request = one_image_on_a_beach(user.id, model.id);
    let created = generation::create(&services, services.replicate().unwrap(), &request)
        .await
        .unwrap();
    assert_eq!(created.status, GenerationStatus::Starting);
    assert!(created.replicate_prediction_id.is_some());
    assert_status_message_kept_and_effects_settled(&env, created.id).await;
    assert_eq!(env.telegram.calls_of("sendMessage").len(), 1);
}

#[tokio::test]
async fn a_prediction_whose_attach_failed_is_attached_by_the_sweep_not_refunded() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    // The attach fails in the transaction that records it with the status message, and again when
    // it is tried at once on its own.
    fixtures::fail_first_updates(env.db(), "replicate_attempts", "NEW.state = 'created'", 2).await;
    let request = one_image_on_a_beach(user.id, model.id);
    // Paid and running: answered as a generation in flight (an error would let it be paid again).
    let created = generation::create(&services, services.replicate().unwrap(), &request)
        .await
        .expect("a generation in flight");
    assert_eq!(
        created.status,
        GenerationStatus::Pending,
        "not recorded yet"
    );
    let paid = balance(&env, user.id).await;
    assert!(paid < 100, "paid");
    // Later: the start's lease ran out.
    generations_made_an_hour_ago_their_attempts_leases_run_out(&env).await;

    training_worker::sweep(&services).await.unwrap();
    let predictions = env.replicate.predictions();
    assert_eq!(predictions.len(), 1, "not created again");
    assert_attached_to_its_generation(&env, &predictions[0]).await;
    assert_eq!(balance(&env, user.id).await, paid, "not refunded");
}

#[tokio::test]
async fn a_refused_prediction_whose_refund_failed_is_answered_in_flight_and_refunded_once_by_the_sweep(
) {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let (user, model) = fixtures::user_with_ready_model(env.db(), 1, 100).await;
    env.replicate
        .fail_next("/predictions", 422, "Invalid version or not permitted");
    // The connection drops as the refused start is given up: nothing is refunded yet.
    fixtures::fail_first_update(env.db(), "replicate_attempts", "NEW.state = 'abandoned'").await;
    let request = one_image_on_a_beach(user.id, model.id);
    let created = generation::create(&services, services.replicate().unwrap(), &request)
        .await
        .expect("paid and not refunded yet: a generation in flight, not an error");
    assert_eq!(created.status, GenerationStatus::Pending);
    assert_eq!(balance(&env, user.id).await, 95, "paid");

    generations_made_an_hour_ago_their_attempts_leases_run_out(&env).await;
    training_worker::sweep(&services).await.unwrap();
    training_worker::sweep(&services).await.unwrap();
    let failed = stored::generation(env.db(), created.id).await;
    assert_eq!(failed.status, GenerationStatus::Failed);
    assert_eq!(balance(&env, user.id).await, 100, "refunded once");
    assert_eq!(env.replicate.predictions().len(), 0, "never created");
}

/// An hour on: every generation was made an hour ago, and the lease of every attempt at Replicate
/// ran out.
async fn generations_made_an_hour_ago_their_attempts_leases_run_out(env: &TestEnv) {
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE generations SET created_at = now() - interval '1 hour'",
        &[],
    )
    .await;
    fixtures::rewrite_rows(
        env.db(),
        "UPDATE replicate_attempts SET lease_until = now() - interval '1 minute'",
        &[],
    )
    .await;
}

/// The generation Replicate's `prediction` was made for (found by the attempt tag in its webhook
/// URL), checked to be started with it: its attempt created, the generation starting with the
/// prediction attached.
async fn assert_attached_to_its_generation(
    env: &TestEnv,
    prediction: &serde_json::Value,
) -> shared::repo::generations::Generation {
    let webhook = prediction["webhook"].as_str().expect("a webhook URL");
    let tag = webhook.rsplit('=').next().unwrap();
    let conn = env.db().conn().await.unwrap();
    let attempt = attempts::by_tag(&**conn, tag)
        .await
        .unwrap()
        .expect("the attempt of the tag");
    assert_eq!(attempt.state, AttemptState::Created);
    let generation = stored::generation(env.db(), attempt.subject_id).await;
    assert_eq!(generation.status, GenerationStatus::Starting);
    assert_eq!(
        generation.replicate_prediction_id.as_deref(),
        prediction["id"].as_str()
    );
    generation
}

/// The generation's status message is kept (for its edits and its deletion), and no effect is left
/// unsettled.
async fn assert_status_message_kept_and_effects_settled(env: &TestEnv, generation_id: i64) {
    let conn = env.db().conn().await.unwrap();
    let job = shared::domain::progress::Tracked::Generation { generation_id };
    let progress = shared::repo::progress::get(&**conn, job)
        .await
        .unwrap()
        .expect("the generation's progress");
    assert!(
        progress.message_id.is_some(),
        "the status message is kept for its edits and its deletion"
    );
    let unsettled = fixtures::unsettled_effects(env.db()).await;
    assert!(unsettled.is_empty(), "{unsettled:?}");
}

/// A request for one square image of the ready model, with no style.
fn one_image_on_a_beach(user_id: i64, model_id: i64) -> GenerationRequest<'static> {
    GenerationRequest {
        user_id,
        model_id,
        style_id: None,
        prompt: "on a beach",
        images: 1,
        aspect_ratio: Default::default(),
    }
}
