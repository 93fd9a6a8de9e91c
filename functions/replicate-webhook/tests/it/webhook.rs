//! The Replicate webhook: signed deliveries against a real Postgres and the fake Bot API.

use axum::http::StatusCode;
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::repo::generations::Generation;
use shared::repo::users::User;
use testkit::replicate::{job_failed, job_with_status, signed_webhook, training_succeeded};
use testkit::{fixtures, stored, REPLICATE_WEBHOOK_SECRET};

use crate::app::App;

impl App {
    async fn balance(&self, user_id: i64) -> i64 {
        stored::balance(self.env.db(), user_id).await
    }

    /// User 1 (100 tokens) with a ready model and a two-image generation (10 tokens, paid) that
    /// Replicate runs as `pr_1`: what the album tests start from.
    async fn album_in_flight(&self) -> (User, Generation) {
        let (user, model) = fixtures::user_with_ready_model(self.env.db(), 1, 100).await;
        let generation =
            fixtures::generation_in_flight(self.env.db(), user.id, model.id, "pr_1", 2, 10).await;
        (user, generation)
    }

    /// [`App::album_in_flight`], the Bot API unreachable for the next `sendMediaGroup` (a 502),
    /// and the prediction's report of success: the album tests with Telegram down start from it.
    async fn album_done_while_telegram_is_down(&self) -> (User, Generation, serde_json::Value) {
        let (user, generation) = self.album_in_flight().await;
        self.env.telegram.outage_next("sendMediaGroup");
        let done = self.env.replicate.prediction_succeeded("pr_1", 2);
        (user, generation, done)
    }
}

#[tokio::test]
async fn a_bad_or_stale_signature_is_refused_and_changes_nothing() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    let model = fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    let job = training_succeeded("tr_1");

    let (mut headers, body) = app.env.signed_replicate_webhook("msg_1", &job);
    headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let (status, answer) = app.post_raw(headers, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], "bad_signature");

    let old = chrono::Utc::now().timestamp() - 600;
    let (headers, body) = signed_webhook(REPLICATE_WEBHOOK_SECRET, "msg_2", &job, old);
    assert_eq!(
        app.post_raw(headers, body).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, _) = app.post_raw(vec![], job.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        stored::model(app.env.db(), model.id).await.status,
        ModelStatus::Training
    );
    assert!(app.env.telegram.calls().is_empty());
}

#[tokio::test]
async fn a_succeeded_training_makes_the_model_ready_and_tells_the_user() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    let model = fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;

    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;
    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;

    let ready = stored::model(app.env.db(), model.id).await;
    assert_eq!(ready.status, ModelStatus::Ready);
    assert!(ready
        .version
        .unwrap()
        .starts_with("dreamtest/dream-photo-loras:"));
    assert!(ready.weights_url.is_some());
    let told = app.env.telegram.sent_to(user.id);
    assert_eq!(told.len(), 1, "told once");
    assert!(told[0].text().contains("ready"));
    let button = &told[0].buttons()[0];
    assert_eq!(button.callback_data, Some(format!("g:{}", model.id)));

    // A late `processing` changes nothing.
    app.deliver_ok("msg_late", &job_with_status("tr_1", "processing"))
        .await;
    assert_eq!(
        stored::model(app.env.db(), model.id).await.status,
        ModelStatus::Ready
    );
}

#[tokio::test]
async fn a_failed_training_is_refunded_exactly_once_even_when_delivered_twice() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    let model = fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    assert_eq!(app.balance(user.id).await, 0);

    let failed = job_failed("tr_1", "CUDA out of memory");
    let (a, b) = tokio::join!(app.deliver("msg_1", &failed), app.deliver("msg_1", &failed));
    // The one that found the other still handling it is told to come back (never "done" early).
    for status in [a, b] {
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
    assert!(a == StatusCode::OK || b == StatusCode::OK);
    app.deliver_ok("msg_1", &failed).await;
    // Replicate's retry with another id, and a "canceled" after: still one refund.
    app.deliver_ok("msg_2", &failed).await;
    app.deliver_ok("msg_3", &job_with_status("tr_1", "canceled"))
        .await;

    assert_eq!(app.balance(user.id).await, 100);
    let failed = stored::model(app.env.db(), model.id).await;
    assert_eq!(failed.status, ModelStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("CUDA out of memory"));
    let to_user = app.env.telegram.sent_to(user.id);
    assert_eq!(to_user.len(), 1);
    assert!(to_user[0].text().contains("100 tokens are back"));
    let to_admins = app.env.telegram.sent_to(testkit::ADMIN_ID);
    assert_eq!(to_admins.len(), 1);
}

#[tokio::test]
async fn a_succeeded_prediction_is_sent_as_one_album_and_file_ids_are_kept() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;

    app.deliver_ok("msg_s", &job_with_status("pr_1", "processing"))
        .await;
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    let (a, b) = tokio::join!(app.deliver("msg_1", &done), app.deliver("msg_2", &done));
    assert_eq!((a, b), (StatusCode::OK, StatusCode::OK));

    let albums = app.env.telegram.calls_of("sendMediaGroup");
    assert_eq!(albums.len(), 1, "one album, even with two deliveries");
    let album = albums[0].album();
    assert_eq!(album.len(), 2);
    assert_eq!(
        album[0].media,
        format!(
            "{}/delivery/pbxt/pr_1/out-0.jpg",
            app.env.replicate.server.uri()
        )
    );
    let stored = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(stored.status, GenerationStatus::Succeeded);
    assert_eq!(stored.result_urls.len(), 2);
    assert_eq!(stored.telegram_file_ids.len(), 2);
    assert_eq!(app.balance(user.id).await, 90, "a success is not refunded");
}

#[tokio::test]
async fn a_failed_prediction_is_refunded_once() {
    let app = App::spawn().await;
    let (user, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    let generation =
        fixtures::generation_in_flight(app.env.db(), user.id, model.id, "pr_1", 4, 20).await;
    assert_eq!(app.balance(user.id).await, 80);

    let failed = job_failed("pr_1", "NSFW content detected");
    app.deliver_ok("msg_1", &failed).await;
    app.deliver_ok("msg_1", &failed).await;
    app.deliver_ok("msg_2", &failed).await;
    assert_eq!(app.balance(user.id).await, 100);
    let stored = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(stored.status, GenerationStatus::Failed);
    assert_eq!(app.env.telegram.sent_to(user.id).len(), 1);
    // Replicate's safety checker refused it: the person is told so, not "it failed".
    let told = app.env.telegram.last_text_to(user.id).unwrap();
    assert!(told.contains("safety filter"), "{told}");
    assert!(told.contains("20 tokens are back"), "{told}");
}

#[tokio::test]
async fn a_prediction_that_fails_for_another_reason_is_refunded_as_a_failure() {
    let app = App::spawn().await;
    let (user, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    fixtures::generation_in_flight(app.env.db(), user.id, model.id, "pr_1", 1, 5).await;
    app.deliver_ok("msg_1", &job_failed("pr_1", "CUDA out of memory"))
        .await;
    assert_eq!(app.balance(user.id).await, 100);
    let told = app.env.telegram.last_text_to(user.id).unwrap();
    assert!(told.contains("failed"), "{told}");
    assert!(!told.contains("safety"), "{told}");
}

#[tokio::test]
async fn a_webhook_for_an_unknown_job_is_acknowledged_and_ignored() {
    let app = App::spawn().await;
    let (status, body) = {
        let (headers, body) = app
            .env
            .signed_replicate_webhook("msg_1", &training_succeeded("tr_nobody"));
        app.post_raw(headers, body).await
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"], "unknown");
}

#[tokio::test]
async fn when_telegram_is_down_the_album_is_delivered_from_the_effect_log() {
    // (teloxide-core waits 10 s after a Bot API 5xx before it returns the error; this test takes that long)
    let app = App::spawn().await;
    let (user, generation, done) = app.album_done_while_telegram_is_down().await;
    // The result is ours once stored: Replicate need not deliver it again.
    app.deliver_ok("msg_1", &done).await;
    let status = |app: &App| {
        let db = app.env.db().clone();
        async move { stored::generation(&db, generation.id).await }
    };
    let waiting = status(&app).await;
    assert_eq!(waiting.status, GenerationStatus::Processing);
    assert_eq!(waiting.result_urls.len(), 2, "the result is kept");
    let paid = app.balance(user.id).await;
    assert_eq!(paid, 90, "paid, not refunded");

    // The sweep drains the album once it is due again.
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    let drained = shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(
        drained.done, 1,
        "the album (its rating prompt is sent at once)"
    );
    assert!(app
        .env
        .telegram
        .sent_to(user.id)
        .iter()
        .any(|c| c.answered_ok() && c.body["reply_markup"].to_string().contains("⭐")));
    let delivered = status(&app).await;
    assert_eq!(delivered.status, GenerationStatus::Succeeded);
    assert_eq!(delivered.telegram_file_ids.len(), 2);
    let albums = app.env.telegram.calls_of("sendMediaGroup");
    assert_eq!(albums.iter().filter(|c| c.answered_ok()).count(), 1);
    // A late duplicate of the report changes nothing and sends nothing.
    app.deliver_ok("msg_2", &done).await;
    shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 2);
    assert_eq!(app.balance(user.id).await, paid);
}

#[tokio::test]
async fn photos_telegram_will_never_take_fail_the_generation_with_a_refund() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    // Neither from Replicate's links nor as our copies, uploaded.
    for _ in 0..2 {
        app.env.telegram.fail_next(
            "sendMediaGroup",
            400,
            "Bad Request: PHOTO_INVALID_DIMENSIONS",
            None,
        );
    }
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    app.deliver_ok("msg_1", &done).await;
    let stored = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(stored.status, GenerationStatus::Failed);
    assert!(stored.error.unwrap().contains("could not be sent"));
    assert_eq!(app.balance(user.id).await, 100, "refunded");
    assert!(app.env.telegram.last_text_to(user.id).is_some(), "told");
    // Replicate's retry of the same report changes nothing more.
    app.deliver_ok("msg_2", &done).await;
    assert_eq!(app.balance(user.id).await, 100);
}

#[tokio::test]
async fn an_album_whose_links_telegram_cannot_fetch_is_sent_from_our_copies_not_refunded() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    let paid = app.balance(user.id).await;
    // Replicate's links are gone by the time Telegram fetches them (a delivery late for an outage).
    app.env.telegram.fail_next(
        "sendMediaGroup",
        400,
        "Bad Request: failed to get HTTP URL content",
        None,
    );
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    app.deliver_ok("msg_1", &done).await;

    let delivered = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(delivered.status, GenerationStatus::Succeeded);
    assert_eq!(delivered.telegram_file_ids.len(), 2);
    assert_eq!(app.balance(user.id).await, paid, "not refunded");
    let albums = app.env.telegram.calls_of("sendMediaGroup");
    assert_eq!(albums.len(), 2, "the links, then our copies");
    let uploaded = &albums[1];
    assert!(uploaded.answered_ok());
    let media = uploaded.body["media"].to_string();
    assert!(media.contains("attach://"), "uploaded: {media}");
    assert!(
        !media.contains("/delivery/"),
        "not Replicate's links: {media}"
    );
}

/// The album of [`App::album_in_flight`] is delivered while its owner erases their data: the
/// erasure commits (and empties their part of the bucket) once the delivery has read the generation
/// and asked Replicate's CDN for the images, which answers late. `telegram_down`: the album's send
/// fails too (a 502), so the delivery keeps its copies on record for its next try.
async fn delivered_as_the_owner_erases(telegram_down: bool) -> (App, User, Generation) {
    delivered_as_the_owner_erases_then(telegram_down, async |_| {}).await
}

/// [`delivered_as_the_owner_erases`], `after_erasure` run once the erasure has committed (while
/// the delivery still waits for the images).
async fn delivered_as_the_owner_erases_then(
    telegram_down: bool,
    after_erasure: impl AsyncFnOnce(&App),
) -> (App, User, Generation) {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    if telegram_down {
        app.env.telegram.outage_next("sendMediaGroup");
    }
    app.env
        .replicate
        .delay_outputs(std::time::Duration::from_secs(2));
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    let (services, _jobs) = app.env.services();
    let erasure = async {
        while app.env.replicate.outputs_asked() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        shared::usecases::deletion::erase_account(&services, user.id)
            .await
            .expect("erased");
        after_erasure(&app).await;
    };
    tokio::join!(app.deliver_ok("msg_1", &done), erasure);
    (app, user, generation)
}

async fn assert_nothing_of_the_album_kept(app: &App, user: &User, generation: &Generation) {
    let erased = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(erased.status, GenerationStatus::Canceled);
    assert!(erased.image_keys.is_empty(), "{:?}", erased.image_keys);
    assert!(erased.telegram_file_ids.is_empty());
    let conn = app.env.db().conn().await.unwrap();
    let kept: i64 = conn
        .query_one(
            "SELECT count(*) FROM effects
              WHERE kind = 'deliver_generation' AND result::text LIKE '%tg-photo%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 0, "no Telegram file id of the album kept");
    assert_eq!(
        app.env.objects.list(&format!("generations/{}/", user.id)),
        Vec::<String>::new(),
        "no copy of the album left in the bucket"
    );
}

#[tokio::test]
async fn an_album_copied_as_its_owner_erases_their_data_leaves_no_copy_behind() {
    let (app, user, generation) = delivered_as_the_owner_erases(false).await;
    assert_nothing_of_the_album_kept(&app, &user, &generation).await;
}

#[tokio::test]
async fn an_album_that_could_not_be_sent_as_its_owner_erases_their_data_keeps_no_copy() {
    let (app, user, generation) = delivered_as_the_owner_erases(true).await;
    assert_nothing_of_the_album_kept(&app, &user, &generation).await;
}

#[tokio::test]
async fn copies_left_by_a_delivery_that_failed_to_discard_them_go_on_its_retry() {
    // Writing the deletion of the copies fails once (the database drops): the delivery's retry,
    // finding the generation erased, deletes them.
    let (app, user, generation) = delivered_as_the_owner_erases_then(false, async |app| {
        fixtures::meanwhile(
            app.env.db(),
            "fail_first_discard",
            "BEFORE INSERT ON effects",
            "IF NEW.payload->>'prefix' LIKE 'generations/%/%/'
                AND nextval('fail_first_discard_count') = 1 THEN
                 RAISE EXCEPTION 'injected failure' USING ERRCODE = '08006';
             END IF;
             RETURN NEW;",
        )
        .await
    })
    .await;
    let prefix = format!("generations/{}/", user.id);
    assert!(
        !app.env.objects.list(&prefix).is_empty(),
        "left behind for now"
    );
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 10).await.unwrap();
    assert_nothing_of_the_album_kept(&app, &user, &generation).await;
}

#[tokio::test]
async fn an_album_whose_second_image_is_gone_is_refunded_and_keeps_no_copy_of_the_first() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    let paid = app.balance(user.id).await;
    app.env.replicate.lose_output("pr_1", 1);
    app.deliver_ok("msg_1", &app.env.replicate.prediction_succeeded("pr_1", 2))
        .await;
    let failed = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(failed.status, GenerationStatus::Failed);
    assert_eq!(app.balance(user.id).await, paid + 10, "refunded");
    assert_eq!(
        app.env.objects.list(&format!("generations/{}/", user.id)),
        Vec::<String>::new(),
        "the first image's copy is deleted too"
    );
}

#[tokio::test]
async fn a_system_models_preview_is_never_another_users_photo() {
    let app = App::spawn().await;
    let owner = fixtures::user(app.env.db(), 1, 100).await;
    let other = fixtures::user(app.env.db(), 2, 100).await;
    let model = fixtures::ready_model(app.env.db(), owner.id).await;
    fixtures::generation_in_flight(app.env.db(), other.id, model.id, "pr_2", 1, 5).await;
    app.deliver_ok("msg_1", &app.env.replicate.prediction_succeeded("pr_2", 1))
        .await;
    let stored = stored::model(app.env.db(), model.id).await;
    assert!(stored.preview_file_id.is_none(), "{stored:?}");
    assert!(stored.preview_key.is_none(), "{stored:?}");

    let mine = fixtures::generation_in_flight(app.env.db(), owner.id, model.id, "pr_3", 1, 5).await;
    app.deliver_ok("msg_2", &app.env.replicate.prediction_succeeded("pr_3", 1))
        .await;
    let stored = stored::model(app.env.db(), model.id).await;
    assert!(
        stored.preview_file_id.is_some(),
        "the owner's photo is the preview"
    );
    // In the bot by its Telegram file id, in the API by our copy.
    let generated = stored::generation(app.env.db(), mine.id).await;
    assert_eq!(stored.preview_key.as_ref(), generated.image_keys.first());
    assert!(stored.preview_key.is_some());
}

#[tokio::test]
async fn a_notice_sent_while_the_database_stumbles_for_seconds_is_sent_once() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    // The "model ready" notice goes out; writing it down as sent fails for a few seconds.
    fixtures::fail_first_updates(
        app.env.db(),
        "effects",
        "NEW.state = 'done' AND NEW.kind = 'notify'",
        4,
    )
    .await;
    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;
    // Whatever was left runs again, as the sweep would once its lease ran out.
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 100).await.unwrap();
    let notices = app.env.telegram.sent_to(user.id);
    let notices: Vec<&str> = notices
        .iter()
        .filter(|c| c.method == "sendMessage")
        .map(|c| c.text())
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}

#[tokio::test]
async fn the_model_ready_notice_survives_telegram_failing_and_arrives_once() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    let model = fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    // Telegram is rate limiting us for longer than one invocation waits.
    app.env.telegram.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 60",
        Some(60),
    );
    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;
    let ready = stored::model(app.env.db(), model.id).await;
    assert_eq!(ready.status, ModelStatus::Ready);
    assert!(app
        .env
        .telegram
        .sent_to(user.id)
        .iter()
        .all(|c| !c.answered_ok()));

    // Replicate's retry of the same report changes nothing: the notice went out through the effect log.
    app.deliver_ok("msg_2", &training_succeeded("tr_1")).await;
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    assert_eq!(
        shared::dispatch::drain(&services, 100).await.unwrap().done,
        1
    );
    assert_eq!(
        shared::dispatch::drain(&services, 100).await.unwrap().done,
        0
    );
    let delivered: Vec<_> = app
        .env
        .telegram
        .sent_to(user.id)
        .into_iter()
        .filter(|c| c.answered_ok())
        .collect();
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].text().contains("ready"),
        "{}",
        delivered[0].text()
    );
}

#[tokio::test]
async fn a_notice_telegram_refuses_for_good_is_recorded_and_told_to_the_admins() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    let model = fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    app.env
        .telegram
        .fail_next("sendMessage", 400, "Bad Request: message is too long", None);
    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;
    let conn = app.env.db().conn().await.unwrap();
    let effect = shared::repo::effects::get_by_key(&**conn, &format!("model-ready:{}", model.id))
        .await
        .unwrap();
    drop(conn);
    let effect = effect.expect("the notice was logged");
    assert_eq!(effect.state, "failed");
    assert!(effect.last_error.unwrap().contains("too long"));
    let to_admins = app.env.telegram.sent_to(testkit::ADMIN_ID);
    assert_eq!(to_admins.len(), 1);
    assert!(
        to_admins[0].text().contains("model-ready"),
        "{}",
        to_admins[0].text()
    );
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}

#[tokio::test]
async fn a_refused_bot_token_pauses_notices_instead_of_failing_them() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    // Our bot token is refused (revoked by mistake): our outage, not the user's.
    app.env
        .telegram
        .fail_next("sendMessage", 401, "Unauthorized", None);
    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;
    let waiting = fixtures::unsettled_effects(app.env.db()).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].attempts, 0, "a pause uses up no attempt");
    assert!(waiting[0].last_error.as_deref().unwrap().contains("token"));
    assert!(app.env.telegram.sent_to(testkit::ADMIN_ID).is_empty());

    // Fixed: the next sweep delivers it.
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    assert_eq!(
        shared::dispatch::drain(&services, 100).await.unwrap().done,
        1
    );
    assert_eq!(
        app.env
            .telegram
            .sent_to(user.id)
            .iter()
            .filter(|c| c.answered_ok())
            .count(),
        1
    );
}

/// A queued model with a `starting` attempt, as the worker leaves it while its create call is in
/// flight (or after its answer was lost).
async fn starting_attempt(app: &App, model_id: i64) -> String {
    use shared::repo::attempts::{self, Kind};
    let conn = app.env.db().conn().await.unwrap();
    let tag = attempts::new_tag();
    fixtures::attempt(app.env.db(), Kind::Training, model_id, &tag, None, 300).await;
    attempts::prepare(
        &**conn,
        &tag,
        "https://example.com/zip",
        Some("dreamtest/dream-photo-loras"),
        0,
    )
    .await
    .unwrap();
    tag
}

#[tokio::test]
async fn a_webhook_that_beats_the_worker_is_handled_at_once_through_its_attempt() {
    let app = App::spawn().await;
    let (user, model) = fixtures::user_with_queued_model(app.env.db(), 1, 100).await;
    let tag = starting_attempt(&app, model.id).await;

    // Replicate is fast: the training is done before the worker stored its id.
    let (headers, body) = app
        .env
        .signed_replicate_webhook("msg_1", &training_succeeded("tr_fast"));
    let (status, answer) = app
        .post_raw_to(&format!("/replicate/webhook?attempt={tag}"), headers, body)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "handled");

    let conn = app.env.db().conn().await.unwrap();
    let ready = stored::model(app.env.db(), model.id).await;
    assert_eq!(ready.status, ModelStatus::Ready);
    assert_eq!(ready.replicate_training_id.as_deref(), Some("tr_fast"));
    let told = app.env.telegram.sent_to(user.id);
    assert_eq!(told.len(), 1, "told once");
    assert!(told[0].text().contains("ready"));
    let attempt = shared::repo::attempts::by_tag(&**conn, &tag)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.state, shared::repo::attempts::State::Created);
    assert_eq!(attempt.replicate_id.as_deref(), Some("tr_fast"));
}

#[tokio::test]
async fn a_webhook_for_an_abandoned_attempt_cancels_that_job() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_queued_model(app.env.db(), 1, 100).await;
    let tag = starting_attempt(&app, model.id).await;
    let conn = app.env.db().conn().await.unwrap();
    shared::repo::attempts::abandon(&**conn, &tag)
        .await
        .unwrap();

    let (headers, body) = app
        .env
        .signed_replicate_webhook("msg_1", &job_with_status("tr_late", "starting"));
    let (status, _) = app
        .post_raw_to(&format!("/replicate/webhook?attempt={tag}"), headers, body)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.env
            .replicate
            .calls_to("POST", "/trainings/tr_late/cancel")
            .len(),
        1,
        "canceled, not attached"
    );
    let still = stored::model(app.env.db(), model.id).await;
    assert_eq!(still.status, ModelStatus::Queued);
    assert_eq!(still.replicate_training_id, None);
}

#[tokio::test]
async fn a_database_failure_after_the_album_went_out_does_not_send_it_twice() {
    let app = App::spawn().await;
    let (_, generation) = app.album_in_flight().await;
    // Injected between two steps of ours: the first write that marks it delivered fails, as if the
    // database dropped the connection right after Telegram took the album.
    fixtures::fail_first_update(app.env.db(), "generations", "NEW.status = 'succeeded'").await;
    app.deliver_ok("msg_1", &app.env.replicate.prediction_succeeded("pr_1", 2))
        .await;
    assert_eq!(
        app.env.telegram.calls_of("sendMediaGroup").len(),
        1,
        "sent once"
    );
    let delivered = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(delivered.status, GenerationStatus::Succeeded);
    assert_eq!(delivered.telegram_file_ids.len(), 2);
}

#[tokio::test]
async fn a_database_failure_after_a_notice_went_out_does_not_send_it_twice() {
    let app = App::spawn().await;
    let user = fixtures::user(app.env.db(), 1, 100).await;
    fixtures::training_model(app.env.db(), user.id, "tr_1", 100).await;
    // Recording the sent notice fails once, as if the connection dropped right after Telegram
    // took the message.
    fixtures::fail_first_update(app.env.db(), "effects", "NEW.state = 'done'").await;
    app.deliver_ok("msg_1", &training_succeeded("tr_1")).await;
    // Even once any lease has run out and the sweep looks again, it went out once.
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(app.env.telegram.sent_to(user.id).len(), 1);
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}

#[tokio::test]
async fn images_replicate_cannot_serve_for_now_are_copied_later_and_delivered_once() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    app.env.replicate.fail_outputs(500);
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    app.deliver_ok("msg_1", &done).await;
    let waiting = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(
        waiting.status,
        GenerationStatus::Processing,
        "not failed for a 500"
    );
    assert!(waiting.image_keys.is_empty());
    assert!(
        app.env.telegram.calls_of("sendMediaGroup").is_empty(),
        "no album before the copy"
    );
    assert_eq!(app.balance(user.id).await, 90, "paid, not refunded");

    // Replicate serves them again: the sweep copies, then delivers, once.
    app.env.replicate.heal_outputs();
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 100).await.unwrap();
    let delivered = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(delivered.status, GenerationStatus::Succeeded);
    assert_eq!(delivered.image_keys.len(), 2);
    assert_eq!(
        app.env
            .objects
            .list(&format!("generations/{}/", user.id))
            .len(),
        2
    );
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 1);
    shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 1);
}

#[tokio::test]
async fn images_replicate_no_longer_has_fail_the_generation_with_a_refund() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    app.env.replicate.delete_outputs();
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    app.deliver_ok("msg_1", &done).await;
    let failed = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(failed.status, GenerationStatus::Failed);
    assert!(app.env.telegram.calls_of("sendMediaGroup").is_empty());
    assert_eq!(app.balance(user.id).await, 100, "refunded");
}

#[tokio::test]
async fn a_rating_prompt_telegram_refuses_for_now_is_sent_once_by_the_sweep_and_the_album_not_again(
) {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    // The album goes out; the rating prompt after it is rate limited for longer than we wait.
    app.env.telegram.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 30",
        Some(30),
    );
    app.deliver_ok("msg_1", &app.env.replicate.prediction_succeeded("pr_1", 2))
        .await;
    let delivered = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(delivered.status, GenerationStatus::Succeeded);
    assert_eq!(delivered.image_keys.len(), 2);
    let conn = app.env.db().conn().await.unwrap();
    let key = format!("rate:{}", generation.id);
    let prompt = shared::repo::effects::get_by_key(&**conn, &key)
        .await
        .unwrap()
        .expect("the rating prompt is logged");
    drop(conn);
    assert_eq!(prompt.state, "pending", "{prompt:?}");
    let error = prompt.last_error.unwrap_or_default();
    assert!(error.contains("wait 30s"), "{error}");
    let rated = |app: &App| {
        app.env
            .telegram
            .sent_to(user.id)
            .into_iter()
            .filter(|c| c.answered_ok() && c.body["reply_markup"].to_string().contains("⭐"))
            .count()
    };
    assert_eq!(rated(&app), 0);

    // The sweep sends it, once; the album is not sent again.
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    let drained = shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(drained.done, 1, "{drained:?}");
    assert_eq!(rated(&app), 1);
    fixtures::make_effects_due(app.env.db()).await;
    assert_eq!(
        shared::dispatch::drain(&services, 100).await.unwrap().done,
        0
    );
    assert_eq!(rated(&app), 1);
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 1);
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}

#[tokio::test]
async fn a_report_delivered_again_once_its_results_are_stored_is_a_duplicate_and_sends_nothing() {
    // (teloxide-core waits 10 s after a Bot API 5xx before it returns the error: the copy arrives
    // while the first delivery waits on its album)
    let app = App::spawn().await;
    let (user, generation, done) = app.album_done_while_telegram_is_down().await;
    let again = async {
        // The results' transaction committed: the album is in the effect log.
        let key = format!("deliver:{}", generation.id);
        loop {
            let conn = app.env.db().conn().await.unwrap();
            let logged = shared::repo::effects::get_by_key(&**conn, &key)
                .await
                .unwrap();
            if logged.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let (headers, body) = app.env.signed_replicate_webhook("msg_1", &done);
        app.post_raw(headers, body).await
    };
    let (first, (status, answer)) = tokio::join!(app.deliver("msg_1", &done), again);
    assert_eq!(first, StatusCode::OK);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"], "duplicate", "handled, not in progress");
    assert_eq!(
        app.env.telegram.calls_of("sendMediaGroup").len(),
        1,
        "only the first delivery's try"
    );
    let conn = app.env.db().conn().await.unwrap();
    let row = conn
        .query_one(
            "SELECT status, subject FROM webhook_deliveries WHERE webhook_id = 'msg_1'",
            &[],
        )
        .await
        .unwrap();
    drop(conn);
    assert_eq!(row.get::<_, String>(0), "done");
    assert_eq!(row.get::<_, String>(1), "replicate:pr_1");

    // The sweep delivers the album once; the same report again still sends nothing.
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 100).await.unwrap();
    let (headers, body) = app.env.signed_replicate_webhook("msg_1", &done);
    assert_eq!(app.post_raw(headers, body).await.1["result"], "duplicate");
    shared::dispatch::drain(&services, 100).await.unwrap();
    let albums = app.env.telegram.calls_of("sendMediaGroup");
    assert_eq!(albums.iter().filter(|c| c.answered_ok()).count(), 1);
    assert_eq!(albums.len(), 2);
    assert_eq!(
        stored::generation(app.env.db(), generation.id).await.status,
        GenerationStatus::Succeeded
    );
    assert_eq!(app.balance(user.id).await, 90);
}

/// Tracks `generation`'s status message as sent in message `message_id`.
async fn status_message(app: &App, generation: &Generation, message_id: i64) {
    use shared::domain::progress::Tracked;
    use shared::repo::progress;
    let job = Tracked::Generation {
        generation_id: generation.id,
    };
    let conn = app.env.db().conn().await.unwrap();
    progress::start(&**conn, job, generation.user_id)
        .await
        .unwrap();
    assert!(progress::set_message(&**conn, job, message_id)
        .await
        .unwrap());
}

/// The state of the effect under `key`.
async fn effect_state(app: &App, key: &str) -> Option<String> {
    let conn = app.env.db().conn().await.unwrap();
    let row = shared::repo::effects::get_by_key(&**conn, key)
        .await
        .unwrap();
    row.map(|row| row.state)
}

#[tokio::test]
async fn the_album_ends_the_status_message_and_prompts_a_rating_once_recorded_done() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    status_message(&app, &generation, 4242).await;
    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    app.deliver_ok("msg_1", &done).await;

    let deleted = app.env.telegram.calls_of("deleteMessage");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].body["message_id"], 4242);
    let end = format!("progress-end:generation:{}", generation.id);
    assert_eq!(effect_state(&app, &end).await.as_deref(), Some("done"));
    let rate = format!("rate:{}", generation.id);
    assert_eq!(effect_state(&app, &rate).await.as_deref(), Some("done"));
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());

    // Neither the sweep nor the same report again sends any of it a second time.
    app.deliver_ok("msg_2", &done).await;
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    assert_eq!(
        shared::dispatch::drain(&services, 100).await.unwrap().done,
        0
    );
    assert_eq!(app.env.telegram.calls_of("deleteMessage").len(), 1);
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 1);
    let prompts = app.env.telegram.sent_to(user.id);
    let prompts = prompts.iter().filter(|c| c.method == "sendMessage").count();
    assert_eq!(prompts, 1);
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_still_has_the_generation_settled() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    status_message(&app, &generation, 4242).await;
    app.env.telegram.fail_next(
        "sendMediaGroup",
        403,
        "Forbidden: bot was blocked by the user",
        None,
    );
    app.deliver_ok("msg_1", &app.env.replicate.prediction_succeeded("pr_1", 2))
        .await;

    let settled = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(settled.status, GenerationStatus::Succeeded);
    assert!(settled.telegram_file_ids.is_empty());
    assert_eq!(settled.image_keys.len(), 2, "our copies are kept");
    assert!(stored::user(app.env.db(), user.id).await.bot_blocked);
    assert_eq!(
        app.balance(user.id).await,
        90,
        "delivered as far as it can be"
    );
    let rate = format!("rate:{}", generation.id);
    assert_eq!(effect_state(&app, &rate).await, None, "no rating prompt");
    assert!(app
        .env
        .telegram
        .calls_of("sendMessage")
        .iter()
        .all(|c| c.chat_id() != Some(user.id)));
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}

/// The database refuses the sent album's record for a few seconds (each try fails as a dropped
/// connection would): the record is tried until it lands, so the sweep finds nothing to send again.
#[tokio::test]
async fn a_sent_album_whose_record_fails_for_seconds_is_recorded_and_never_sent_again() {
    let app = App::spawn().await;
    let (user, generation) = app.album_in_flight().await;
    fixtures::fail_first_updates(app.env.db(), "generations", "NEW.status = 'succeeded'", 4).await;

    let done = app.env.replicate.prediction_succeeded("pr_1", 2);
    assert_eq!(app.deliver("msg_1", &done).await, StatusCode::OK);
    let stored = stored::generation(app.env.db(), generation.id).await;
    assert_eq!(stored.status, GenerationStatus::Succeeded);
    assert_eq!(stored.telegram_file_ids.len(), 2);

    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 1);
    let prompts = app
        .env
        .telegram
        .sent_to(user.id)
        .into_iter()
        .filter(|call| call.method == "sendMessage")
        .count();
    assert_eq!(prompts, 1, "one rating prompt");
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}
