//! Progress while a model trains and photos are made, as the person sees it: one status message,
//! edited as Replicate's signed `logs` callbacks report (at most every 20 s), and gone when the job
//! settles, with the ready message (and its Generate button) or the album in its place. Updates in,
//! Replicate callbacks in, Bot API calls out.

use serde_json::{json, Value};
use shared::domain::progress::Tracked;
use shared::repo::{generations, models, progress, Page};
use testkit::replicate::{logs_report, training_succeeded};
use testkit::updates::{self, TgUser};
use testkit::{router, stored, SentCall, TestEnv};

struct Flow {
    env: TestEnv,
    bot: axum::Router,
    webhook: axum::Router,
    worker: std::sync::Arc<training_worker::State>,
    ann: TgUser,
    update_id: std::sync::atomic::AtomicI64,
    /// Kept open so the training queue takes jobs.
    _jobs: tokio::sync::mpsc::UnboundedReceiver<shared::queue::TrainingJob>,
}

impl Flow {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let (services, jobs) = env.services();
        Self {
            _jobs: jobs,
            bot: telegram_webhook::router(telegram_webhook::State::new(services.clone())),
            webhook: replicate_webhook::router(replicate_webhook::State::new(services.clone())),
            worker: training_worker::State::new(services),
            env,
            ann: TgUser::new(1, "Ann"),
            update_id: 1.into(),
        }
    }

    /// Ann sends an update (text, or a press when `data` is a callback).
    async fn send(&self, update: impl FnOnce(i64) -> Value) {
        let id = self
            .update_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let request = router::telegram_update(&update(id), Some(testkit::WEBHOOK_SECRET));
        let answer = router::send(&self.bot, request).await;
        assert!(answer.status.is_success(), "{}", answer.body);
    }

    async fn says(&self, text: &str) {
        let ann = self.ann.clone();
        let text = text.to_owned();
        self.send(move |id| updates::text(id, &ann, &text)).await;
    }

    async fn presses(&self, data: &str) {
        let ann = self.ann.clone();
        let data = data.to_owned();
        self.send(move |id| updates::callback(id, &ann, &data))
            .await;
    }

    /// Replicate posts a signed callback; the status our webhook answers.
    async fn replicate_reports(&self, webhook_id: &str, job: &Value) -> u16 {
        let (headers, body) = self.env.signed_replicate_webhook(webhook_id, job);
        let request = router::post("/replicate/webhook", headers, body);
        router::send(&self.webhook, request).await.status.as_u16()
    }

    /// Replicate posts a signed callback, and our webhook takes it.
    async fn replicate_reported(&self, webhook_id: &str, job: &Value) {
        let status = self.replicate_reports(webhook_id, job).await;
        assert_eq!(status, 200, "the callback {webhook_id}");
    }

    /// Replicate reports the training at `step` of 1000, `seconds_left` to go.
    async fn training_logs(
        &self,
        webhook_id: &str,
        training_id: &str,
        step: i32,
        seconds_left: i32,
    ) {
        let report = logs_report(training_id, step, 1000, seconds_left);
        self.replicate_reported(webhook_id, &report).await;
    }

    /// Replicate reports the training succeeded.
    async fn training_succeeds(&self, training_id: &str) {
        self.replicate_reported("done", &training_succeeded(training_id))
            .await;
    }

    /// What Ann was told last.
    fn last_text(&self) -> String {
        self.env.telegram.last_text_to(self.ann.id).unwrap()
    }

    /// Ann pays, trains a model from 10 photos and presses "Start training"; the worker starts it
    /// at Replicate. The model and its training id.
    async fn training_started(&self) -> (i64, String) {
        self.says("/start").await;
        let ann = self.ann.clone();
        self.send(move |id| {
            updates::successful_payment(id, &ann, "XTR", 400, "pack:medium", "ch-1")
        })
        .await;
        self.says("/train").await;
        self.says("Me").await;
        for i in 0..10 {
            let ann = self.ann.clone();
            self.send(move |id| updates::photo(id, &ann, &format!("p{i}"), None))
                .await;
        }
        let model = self.newest_model().await;
        self.presses(&format!("t:{}", model.id)).await;
        let event = serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": json!({"model_id": model.id}).to_string()}]})).unwrap();
        assert!(training_worker::handle_batch(&self.worker, event)
            .await
            .batch_item_failures
            .is_empty());
        let training_id = stored::model(self.env.db(), model.id)
            .await
            .replicate_training_id
            .unwrap();
        (model.id, training_id)
    }

    async fn newest_model(&self) -> models::Model {
        let conn = self.env.db().conn().await.unwrap();
        models::list_for_user(&**conn, self.ann.id, Page::first(1))
            .await
            .unwrap()
            .remove(0)
    }

    async fn progress(&self, job: Tracked) -> progress::JobProgress {
        let conn = self.env.db().conn().await.unwrap();
        progress::get(&**conn, job).await.unwrap().expect("tracked")
    }

    /// The throttle's window passes (as 20 seconds would).
    async fn twenty_seconds_pass(&self) {
        let conn = self.env.db().conn().await.unwrap();
        conn.execute(
            "UPDATE job_progress SET edited_at = edited_at - interval '21 seconds'",
            &[],
        )
        .await
        .unwrap();
    }

    fn calls(&self, method: &str) -> Vec<SentCall> {
        self.env
            .telegram
            .calls_of(method)
            .into_iter()
            .filter(|c| c.chat_id() == Some(self.ann.id))
            .collect()
    }

    /// The calls of `method` about one message (the photo intake's own status message is edited
    /// and deleted too).
    fn calls_on(&self, method: &str, message: i64) -> Vec<SentCall> {
        self.calls(method)
            .into_iter()
            .filter(|c| c.body["message_id"].as_i64() == Some(message))
            .collect()
    }

    /// Effects that failed for good or still wait: none may be left by any of this.
    async fn assert_effects_settled(&self) {
        let conn = self.env.db().conn().await.unwrap();
        let failed: i64 = conn
            .query_one("SELECT count(*) FROM effects WHERE state = 'failed'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(failed, 0, "no effect failed");
        assert!(testkit::fixtures::unsettled_effects(self.env.db())
            .await
            .is_empty());
    }
}

#[tokio::test]
async fn training_progress_is_one_status_message_edited_at_most_every_20_seconds_then_replaced_by_ready(
) {
    let flow = Flow::start().await;
    let (model_id, training_id) = flow.training_started().await;
    let job = Tracked::Training { model_id };

    // "Start training" answers with the status message, and only with it.
    let status: Vec<SentCall> = flow
        .calls("sendMessage")
        .into_iter()
        .filter(|c| c.text().contains("has started"))
        .collect();
    assert_eq!(status.len(), 1, "one status message");
    let status_id = flow.progress(job).await.message_id.expect("its id is kept");

    // A burst of logs callbacks, at once and each twice: one edit.
    let report = logs_report(&training_id, 450, 1000, 380);
    let answers = tokio::join!(
        flow.replicate_reports("logs-0", &report),
        flow.replicate_reports("logs-1", &report),
        flow.replicate_reports("logs-2", &report),
        flow.replicate_reports("logs-3", &report),
        flow.replicate_reports("logs-4", &report),
    );
    assert_eq!(answers, (200, 200, 200, 200, 200));
    flow.replicate_reported("logs-0", &report).await;
    let edits = flow.calls_on("editMessageText", status_id);
    assert_eq!(edits.len(), 1, "one edit for the burst");
    let shown = edits[0].text();
    assert!(shown.contains("“Me”"), "{shown}");
    assert!(shown.contains("▓▓▓▓▓░░░░░ 45%"), "{shown}");
    assert!(shown.contains("step 450 of 1000"), "{shown}");
    assert!(shown.contains("About 7 min left"), "{shown}");

    // 20 seconds later: an older report (out of order) does not take the bar back; a newer one does
    // move it.
    flow.twenty_seconds_pass().await;
    flow.training_logs("logs-old", &training_id, 300, 500).await;
    assert_eq!(
        flow.calls_on("editMessageText", status_id).len(),
        1,
        "not taken back"
    );
    flow.training_logs("logs-6", &training_id, 600, 250).await;
    let edits = flow.calls_on("editMessageText", status_id);
    assert_eq!(edits.len(), 2);
    assert!(edits[1].text().contains("60%"), "{}", edits[1].text());

    // Telegram finding nothing to change is no failure.
    flow.twenty_seconds_pass().await;
    flow.env.telegram.fail_next(
        "editMessageText",
        400,
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        None,
    );
    flow.training_logs("logs-7", &training_id, 700, 180).await;
    flow.assert_effects_settled().await;

    // Ready: the ready message with its Generate button, and the status message deleted.
    flow.training_succeeds(&training_id).await;
    let ready = flow.calls("sendMessage").pop().unwrap();
    assert!(ready.text().contains("is ready"), "{}", ready.text());
    assert_eq!(
        ready.buttons()[0].callback_data,
        Some(format!("g:{model_id}"))
    );
    assert_eq!(flow.calls_on("deleteMessage", status_id).len(), 1);

    // A late logs callback after the success (and the success again) change nothing.
    let edits_before = flow.calls_on("editMessageText", status_id).len();
    flow.twenty_seconds_pass().await;
    flow.training_logs("logs-late", &training_id, 990, 5).await;
    flow.training_succeeds(&training_id).await;
    assert_eq!(
        flow.calls_on("editMessageText", status_id).len(),
        edits_before
    );
    assert_eq!(flow.calls_on("deleteMessage", status_id).len(), 1);
    assert!(flow.last_text().contains("is ready"));
    flow.assert_effects_settled().await;
}

#[tokio::test]
async fn a_status_message_the_person_deleted_stops_the_edits_and_breaks_nothing() {
    let flow = Flow::start().await;
    let (model_id, training_id) = flow.training_started().await;
    let job = Tracked::Training { model_id };
    let status_id = flow.progress(job).await.message_id.expect("kept");

    flow.env.telegram.fail_next(
        "editMessageText",
        400,
        "Bad Request: message to edit not found",
        None,
    );
    flow.training_logs("logs-1", &training_id, 100, 600).await;
    assert_eq!(flow.progress(job).await.message_id, None, "forgotten");

    flow.twenty_seconds_pass().await;
    flow.training_logs("logs-2", &training_id, 500, 300).await;
    assert_eq!(
        flow.calls_on("editMessageText", status_id).len(),
        1,
        "no edits of a message that is gone"
    );

    flow.training_succeeds(&training_id).await;
    assert!(flow.last_text().contains("is ready"));
    assert!(flow.calls_on("deleteMessage", status_id).is_empty());
    flow.assert_effects_settled().await;
    // The admins heard of no failure.
    assert!(flow
        .env
        .telegram
        .sent_to(testkit::ADMIN_ID)
        .iter()
        .all(|c| !c.text().contains("failed for good")));
}

#[tokio::test]
async fn a_generation_shows_creating_edited_with_progress_and_the_album_replaces_it() {
    let flow = Flow::start().await;
    let (model_id, training_id) = flow.training_started().await;
    flow.training_succeeds(&training_id).await;

    flow.presses(&format!("g:{model_id}")).await;
    flow.presses("p:0").await;
    flow.presses("n:2").await;
    let conn = flow.env.db().conn().await.unwrap();
    let generation = generations::list_for_user(&**conn, flow.ann.id, Page::first(1))
        .await
        .unwrap()
        .remove(0);
    let job = Tracked::Generation {
        generation_id: generation.id,
    };
    let creating = flow.calls("sendMessage").pop().unwrap();
    assert!(
        creating.text().contains("Creating 2 photos"),
        "{}",
        creating.text()
    );
    let status_id = flow.progress(job).await.message_id.expect("kept");

    let prediction_id = generation.replicate_prediction_id.clone().unwrap();
    let report = logs_report(&prediction_id, 15, 28, 2);
    flow.replicate_reported("p-logs", &report).await;
    let edit = flow
        .calls_on("editMessageText", status_id)
        .pop()
        .expect("an edit");
    assert!(edit.text().contains("53%"), "{}", edit.text());
    assert!(edit.text().contains("About 2 s left"), "{}", edit.text());

    let done = flow.env.replicate.prediction_succeeded(&prediction_id, 2);
    flow.replicate_reported("p-done", &done).await;
    assert_eq!(flow.calls("sendMediaGroup").len(), 1);
    assert_eq!(
        flow.calls_on("deleteMessage", status_id).len(),
        1,
        "the status message goes with the album"
    );
    assert!(
        flow.progress(job).await.settled_at.is_some(),
        "no more edits"
    );
    flow.assert_effects_settled().await;
}
