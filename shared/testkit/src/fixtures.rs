//! Data a test starts from, made through the repositories (users with tokens, queued models,
//! generations in flight).

use shared::db::Db;
use shared::repo::attempts;
use shared::repo::generations::{self, Generation, NewGeneration};
use shared::repo::ledger::{self, Change, Reason};
use shared::repo::models::{self, Model, NewPhoto};
use shared::repo::users::{self, TelegramProfile, User};
use tokio_postgres::types::ToSql;

use crate::stored;

pub async fn user(db: &Db, id: i64, tokens: i64) -> User {
    let conn = db.conn().await.expect("a connection");
    let profile = TelegramProfile {
        id,
        username: Some(format!("user{id}")),
        first_name: format!("User{id}"),
        last_name: None,
        language_code: Some("en".into()),
    };
    users::register(&**conn, &profile).await.expect("register");
    drop(conn);
    if tokens > 0 {
        ledger_change(db, id, tokens, Reason::Admin, "fixture").await;
    }
    stored::user(db, id).await
}

/// One change of a user's balance through the ledger (a debit when `delta` is negative).
/// `tokens` granted to the user by an admin, through the ledger (`reference` once).
pub async fn grant(db: &Db, user_id: i64, tokens: i64, reference: &str) {
    ledger_change(db, user_id, tokens, Reason::Admin, reference).await;
}

async fn ledger_change(db: &Db, user_id: i64, delta: i64, reason: Reason, reference: &str) {
    let conn = db.conn().await.expect("a connection");
    let change = Change {
        user_id,
        delta,
        reason,
        reference,
        note: None,
    };
    ledger::apply(&**conn, &change)
        .await
        .expect("the ledger takes the change");
}

/// A paid, queued model with `photos` Telegram photos (the training cost debited through the ledger).
pub async fn queued_model(db: &Db, user_id: i64, photos: usize, cost: i64) -> Model {
    let model = draft_model(db, user_id, photos).await;
    if cost > 0 {
        let reference = format!("model:{}", model.id);
        ledger_change(db, user_id, -cost, Reason::Training, &reference).await;
    }
    let conn = db.conn().await.expect("a connection");
    assert!(models::queue(&**conn, model.id, cost).await.expect("queue"));
    stored::model(db, model.id).await
}

/// A draft model with `photos` training photos (from Telegram).
pub async fn draft_model(db: &Db, user_id: i64, photos: usize) -> Model {
    let conn = db.conn().await.expect("a connection");
    let model = models::create_draft(&**conn, user_id, "Me", "DPTEST")
        .await
        .expect("draft");
    for i in 0..photos {
        let photo = NewPhoto {
            file_unique_id: format!("uniq-{}-{i}", model.id),
            telegram_file_id: Some(format!("file-{}-{i}", model.id)),
            source_url: None,
            file_size: Some(200_000),
            mime_type: None,
            storage_key: None,
        };
        models::add_photo(&**conn, model.id, &photo)
            .await
            .expect("photo");
    }
    stored::model(db, model.id).await
}

/// A model in training with Replicate training `training_id`.
pub async fn training_model(db: &Db, user_id: i64, training_id: &str, cost: i64) -> Model {
    let model = queued_model(db, user_id, 10, cost).await;
    let conn = db.conn().await.expect("a connection");
    assert!(models::start_training(
        &**conn,
        model.id,
        training_id,
        "dreamtest/dream-photo-loras"
    )
    .await
    .expect("start"));
    stored::model(db, model.id).await
}

/// A ready model.
pub async fn ready_model(db: &Db, user_id: i64) -> Model {
    let model = training_model(db, user_id, &format!("tr-ready-{user_id}"), 0).await;
    let conn = db.conn().await.expect("a connection");
    models::advance(
        &**conn,
        model.id,
        shared::domain::status::ModelStatus::Ready,
        Some(&format!("dreamtest/dream-photo-loras:{}", "b".repeat(64))),
        Some("https://replicate.delivery/weights.tar"),
        None,
    )
    .await
    .expect("advance")
    .expect("it moved")
}

/// A user with `tokens` and a queued model of 10 photos, its training's 100 tokens paid.
pub async fn user_with_queued_model(db: &Db, id: i64, tokens: i64) -> (User, Model) {
    let user = user(db, id, tokens).await;
    let model = queued_model(db, id, 10, 100).await;
    (user, model)
}

/// A user with `tokens` and a ready model.
pub async fn user_with_ready_model(db: &Db, id: i64, tokens: i64) -> (User, Model) {
    let user = user(db, id, tokens).await;
    let model = ready_model(db, id).await;
    (user, model)
}

/// A generation sent to Replicate as `prediction_id`, its cost debited.
pub async fn generation_in_flight(
    db: &Db,
    user_id: i64,
    model_id: i64,
    prediction_id: &str,
    images: i32,
    cost: i64,
) -> Generation {
    let conn = db.conn().await.expect("a connection");
    let generation = generations::create(
        &**conn,
        &NewGeneration {
            id: None,
            user_id,
            model_id,
            style_id: None,
            prompt: "on a beach",
            full_prompt: "photo of DPTEST person, on a beach",
            num_images: images,
            cost_tokens: cost,
            aspect_ratio: Default::default(),
            again_of: None,
            free_redo: false,
        },
    )
    .await
    .expect("generation");
    if cost > 0 {
        let reference = format!("generation:{}", generation.id);
        ledger_change(db, user_id, -cost, Reason::Generation, &reference).await;
    }
    assert!(
        generations::set_prediction(&**conn, generation.id, prediction_id)
            .await
            .expect("prediction")
    );
    stored::generation(db, generation.id).await
}

/// An attempt at Replicate (`kind` for `subject_id`) started under `tag` and leased for
/// `lease_seconds`, as a worker records it before calling Replicate.
pub async fn attempt(
    db: &Db,
    kind: attempts::Kind,
    subject_id: i64,
    tag: &str,
    input_ref: Option<&str>,
    lease_seconds: i64,
) -> attempts::Attempt {
    let conn = db.conn().await.expect("a connection");
    attempts::start(&**conn, kind, subject_id, tag, input_ref, lease_seconds)
        .await
        .expect("start an attempt")
        .expect("no attempt was under way")
}

/// A recorded payment of the small pack (150 stars for 100 tokens), the ledger untouched.
pub async fn small_pack_paid(db: &Db, user_id: i64, telegram_charge_id: &str) {
    let conn = db.conn().await.expect("a connection");
    let payment = shared::repo::payments::NewPayment {
        user_id,
        pack_id: "small",
        amount: 150,
        currency: "XTR",
        tokens: 100,
        telegram_charge_id,
        provider_charge_id: "",
        payload: "pack:small",
    };
    shared::repo::payments::record(&**conn, &payment)
        .await
        .expect("record the payment");
}

/// Makes every unsettled effect due now: those waiting for a retry (instead of after their backoff),
/// and those taken by an executor (as if its lease had run out).
pub async fn make_effects_due(db: &Db) {
    let conn = db.conn().await.expect("connection");
    conn.execute(
        "UPDATE effects SET next_attempt_at = now(),
            lease_until = CASE WHEN state = 'running' THEN now() - interval '1 second' END
         WHERE state IN ('pending', 'running')",
        &[],
    )
    .await
    .expect("effects made due");
}

/// The effects not yet settled (pending, or taken by an executor).
pub async fn unsettled_effects(db: &Db) -> Vec<shared::repo::effects::EffectRow> {
    let conn = db.conn().await.expect("connection");
    shared::repo::effects::list_unsettled(&**conn)
        .await
        .expect("effects listed")
}

/// Ages a claimed delivery past its lease, as if its handler had died.
pub async fn expire_update_claim(db: &Db, update_id: i64) {
    let conn = db.conn().await.expect("connection");
    conn.execute(
        "UPDATE processed_updates SET claimed_at = now() - interval '1 hour' WHERE update_id = $1",
        &[&update_id],
    )
    .await
    .expect("claim aged");
}

/// What [`account_with_everything`] made.
#[derive(Debug, Clone)]
pub struct FullAccount {
    pub ready: Model,
    pub training: Model,
    pub training_id: String,
    pub version: String,
    /// Files at Replicate: an uploaded photo and both trainings' zips.
    pub file_ids: Vec<String>,
    pub generation_id: i64,
}

/// A user with something of everything "delete my data" removes: a ready model (10 Telegram photos
/// and one uploaded to Replicate's files API, its training zip, a preview, offered to everyone), a
/// model in training (`tr_run_<user>`, its zip), a delivered generation (result URLs, Telegram file
/// ids) with a rating and comment, journey events, and a paid purchase in the ledger.
/// `replicate_url` is the fake Replicate's `REPLICATE_API_URL`.
pub async fn account_with_everything(db: &Db, user_id: i64, replicate_url: &str) -> FullAccount {
    use shared::repo::{events, feedback, payments};
    user(db, user_id, 0).await;
    {
        let conn = db.conn().await.expect("a connection");
        let charge = format!("ch_{user_id}");
        payments::record(
            &**conn,
            &payments::NewPayment {
                user_id,
                pack_id: "small",
                amount: 150,
                currency: "XTR",
                tokens: 500,
                telegram_charge_id: &charge,
                provider_charge_id: "",
                payload: "pack:small:500:150",
            },
        )
        .await
        .expect("payment")
        .expect("recorded");
        let reference = format!("payment:{charge}");
        ledger_change(db, user_id, 500, Reason::Purchase, &reference).await;
    }
    let ready = ready_model(db, user_id).await;
    let training_id = format!("tr_run_{user_id}");
    let training = training_model(db, user_id, &training_id, 100).await;
    let generation =
        generation_in_flight(db, user_id, ready.id, &format!("pr_{user_id}"), 2, 20).await;
    let conn = db.conn().await.expect("a connection");
    let photo_url = format!("{replicate_url}/files/photo{user_id}/download");
    models::add_photo(
        &**conn,
        ready.id,
        &NewPhoto {
            file_unique_id: format!("upload-{user_id}"),
            telegram_file_id: None,
            source_url: Some(photo_url),
            file_size: Some(200_000),
            mime_type: Some("image/jpeg".into()),
            storage_key: None,
        },
    )
    .await
    .expect("an uploaded photo");
    let mut file_ids = vec![format!("photo{user_id}")];
    for model in [&ready, &training] {
        let file = format!("zip{}", model.id);
        let zip_url = format!("{replicate_url}/files/{file}/download");
        attempt(
            db,
            attempts::Kind::Training,
            model.id,
            &attempts::new_tag(),
            Some(&zip_url),
            60,
        )
        .await;
        file_ids.push(file);
    }
    let urls = vec![
        format!("https://replicate.delivery/pbxt/{user_id}/out-0.jpg"),
        format!("https://replicate.delivery/pbxt/{user_id}/out-1.jpg"),
    ];
    assert!(generations::set_results(&**conn, generation.id, &urls)
        .await
        .expect("results"));
    generations::advance(
        &**conn,
        generation.id,
        shared::domain::status::GenerationStatus::Succeeded,
        None,
        None,
    )
    .await
    .expect("advance")
    .expect("it moved");
    let file_ids_tg = vec![format!("tgfile-{user_id}-0"), format!("tgfile-{user_id}-1")];
    generations::set_telegram_file_ids(&**conn, generation.id, &file_ids_tg)
        .await
        .expect("file ids");
    models::set_first_preview(&**conn, ready.id, user_id, Some(&file_ids_tg[0]), None)
        .await
        .expect("preview");
    assert!(feedback::rate(&**conn, generation.id, user_id, 4)
        .await
        .expect("rating"));
    assert!(
        feedback::comment(&**conn, generation.id, user_id, "my face looks great")
            .await
            .expect("comment")
    );
    events::record(
        &**conn,
        user_id,
        events::Event::PromoUsed,
        serde_json::json!({"code": "SPRING", "redemption_id": 1}),
    )
    .await
    .expect("an event");
    conn.execute(
        "UPDATE models SET model_type = 'system', shared_consent_at = now() WHERE id = $1",
        &[&ready.id],
    )
    .await
    .expect("offered to everyone");
    FullAccount {
        version: ready.version.clone().expect("a version"),
        ready,
        training,
        training_id,
        file_ids,
        generation_id: generation.id,
    }
}

/// Checks that nothing naming or showing `user_id` is left in the database, and that their
/// payments and ledger are (balance = sum of the ledger). Returns the balance.
pub async fn assert_account_erased(db: &Db, user_id: i64) -> i64 {
    let conn = db.conn().await.expect("a connection");
    let count = |sql: &'static str| {
        let conn = &conn;
        async move {
            let row = conn.query_one(sql, &[&user_id]).await.expect(sql);
            row.get::<_, i64>(0)
        }
    };
    let photos = count(
        "SELECT count(*) FROM training_photos p JOIN models m ON m.id = p.model_id WHERE m.user_id = $1",
    )
    .await;
    assert_eq!(photos, 0, "no training photo is left");
    let models_left = count(
        "SELECT count(*) FROM models WHERE user_id = $1 AND (status <> 'canceled' OR name <> 'deleted'
            OR version IS NOT NULL OR weights_url IS NOT NULL OR preview_file_id IS NOT NULL
            OR preview_url IS NOT NULL OR model_type <> 'user' OR shared_consent_at IS NOT NULL)",
    )
    .await;
    assert_eq!(models_left, 0, "no model keeps a name, version or preview");
    let generations_left = count(
        "SELECT count(*) FROM generations WHERE user_id = $1 AND (prompt <> '' OR full_prompt <> ''
            OR cardinality(result_urls) > 0 OR cardinality(telegram_file_ids) > 0)",
    )
    .await;
    assert_eq!(
        generations_left, 0,
        "no prompt, result URL or file id is left"
    );
    let feedback_left = count("SELECT count(*) FROM generation_feedback WHERE user_id = $1").await;
    assert_eq!(feedback_left, 0, "no feedback is left");
    let events_left = count(
        "SELECT count(*) FROM user_events WHERE user_id = $1 AND metadata - 'status' <> '{}'::jsonb",
    )
    .await;
    assert_eq!(events_left, 0, "journey events keep no details");
    let names = count(
        "SELECT count(*) FROM users WHERE id = $1 AND (username IS NOT NULL OR first_name <> ''
            OR last_name IS NOT NULL OR language_code IS NOT NULL OR erased_at IS NULL)",
    )
    .await;
    assert_eq!(names, 0, "the profile names no one and is marked erased");
    let payments = count("SELECT count(*) FROM payments WHERE user_id = $1").await;
    assert!(payments > 0, "payments stay");
    let ledger_rows = count("SELECT count(*) FROM token_ledger WHERE user_id = $1").await;
    assert!(ledger_rows > 0, "the ledger stays");
    let user = users::get(&**conn, user_id)
        .await
        .expect("get")
        .expect("the user row stays");
    assert_eq!(
        ledger::sum(&**conn, user_id).await.expect("sum"),
        user.tokens_left,
        "balance = sum of the ledger"
    );
    user.tokens_left
}

/// Changes stored rows behind the code's back: time travel (a row made an hour older) or a state the
/// code itself never leaves (a lease run out, a start never recorded).
pub async fn rewrite_rows(db: &Db, statement: &str, params: &[&(dyn ToSql + Sync)]) {
    let conn = db.conn().await.expect("a connection");
    conn.execute(statement, params).await.expect(statement);
}

/// Sets the user's balance to `tokens` directly, past the ledger (as if it had been spent elsewhere).
pub async fn set_tokens_left(db: &Db, user_id: i64, tokens: i64) {
    rewrite_rows(
        db,
        "UPDATE users SET tokens_left = $2 WHERE id = $1",
        &[&user_id, &tokens],
    )
    .await;
}

/// Blocks the user, as an admin does.
pub async fn block_user(db: &Db, user_id: i64) {
    rewrite_rows(
        db,
        "UPDATE users SET is_blocked = true WHERE id = $1",
        &[&user_id],
    )
    .await;
}

/// Makes the user look as if they joined `days` days ago.
pub async fn joined_days_ago(db: &Db, user_id: i64, days: i32) {
    rewrite_rows(
        db,
        "UPDATE users SET created_at = now() - make_interval(days => $2) WHERE id = $1",
        &[&user_id, &days],
    )
    .await;
}

/// Makes a queued model look queued seven hours ago and untouched for an hour: past the sweep's
/// six-hour give-up on a job that never started.
pub async fn queued_hours_ago(db: &Db, model_id: i64) {
    rewrite_rows(
        db,
        "UPDATE models SET updated_at = now() - interval '1 hour',
                queued_at = now() - interval '7 hours' WHERE id = $1",
        &[&model_id],
    )
    .await;
}

/// Injects a failure between two steps of our code: the first UPDATE of `table` whose new row
/// matches `when` (SQL over `NEW`) fails as a dropped connection would (SQLSTATE 08006); later ones
/// pass. The counter is a sequence, so the failed transaction's rollback does not reset it.
pub async fn fail_first_update(db: &Db, table: &str, when: &str) {
    fail_first_updates(db, table, when, 1).await
}

/// [`fail_first_update`] for the first `n` such UPDATEs (for code that tries again at once).
pub async fn fail_first_updates(db: &Db, table: &str, when: &str, n: i64) {
    meanwhile(
        db,
        &format!("fail_first_update_{table}"),
        &format!("BEFORE UPDATE ON {table}"),
        &format!(
            "IF ({when}) AND nextval('fail_first_update_{table}_count') <= {n} THEN
                 RAISE EXCEPTION 'injected failure' USING ERRCODE = '08006';
             END IF;
             RETURN NEW;"
        ),
    )
    .await
}

/// Injects what happens elsewhere between two steps of our code (another request's commit, an
/// erasure, a failure): `body` (PL/pgSQL, ending in its `RETURN`) runs in a trigger `name` fired
/// for each row `when` (`AFTER INSERT ON models`, say). `nextval('<name>_count')` counts the
/// firings, so a body can act on the first only (a sequence: a rollback does not reset it).
pub async fn meanwhile(db: &Db, name: &str, when: &str, body: &str) {
    let conn = db.conn().await.expect("connection");
    conn.batch_execute(&format!(
        "CREATE SEQUENCE {name}_count;
         CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             {body}
         END $$;
         CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION {name}();"
    ))
    .await
    .expect("trigger injected");
}

/// A style in the catalogue, as an admin adds it.
pub async fn style(db: &Db, style: shared::repo::styles::NewStyle) -> shared::repo::styles::Style {
    let conn = db.conn().await.expect("a connection");
    shared::repo::styles::create(&**conn, &style)
        .await
        .expect("create the style")
        .expect("a new style name")
}

/// The catalogue's "Noir" style: `film noir, {prompt}`, and whatever `extra` sets.
pub fn noir(extra: shared::repo::styles::NewStyle) -> shared::repo::styles::NewStyle {
    shared::repo::styles::NewStyle {
        name: "Noir".into(),
        description: "".into(),
        prompt_template: "film noir, {prompt}".into(),
        ..extra
    }
}

/// Waits until a statement of this database waits for a row lock (another session holds it): the
/// moment to let that session go on, to run two steps in a chosen order.
pub async fn wait_for_a_lock_wait(db: &Db) {
    let conn = db.conn().await.expect("a connection");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let row = conn
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        if row.get::<_, i64>(0) > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no statement waited for a lock within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
