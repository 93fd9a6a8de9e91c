//! Data a test starts from, made through the repositories (users with tokens, queued models,
//! generations in flight).

use crate::db::Db;
use crate::repo::generations::{self, Generation, NewGeneration};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::models::{self, Model, NewPhoto};
use crate::repo::users::{self, TelegramProfile, User};

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
    if tokens > 0 {
        let change = Change {
            user_id: id,
            delta: tokens,
            reason: Reason::Admin,
            reference: "fixture",
            note: None,
        };
        ledger::apply(&**conn, &change).await.expect("credit");
    }
    users::get(&**conn, id)
        .await
        .expect("get")
        .expect("the user")
}

/// A paid, queued model with `photos` Telegram photos (the training cost debited through the ledger).
pub async fn queued_model(db: &Db, user_id: i64, photos: usize, cost: i64) -> Model {
    let model = draft_model(db, user_id, photos).await;
    let conn = db.conn().await.expect("a connection");
    if cost > 0 {
        let reference = format!("model:{}", model.id);
        let change = Change {
            user_id,
            delta: -cost,
            reason: Reason::Training,
            reference: &reference,
            note: None,
        };
        ledger::apply(&**conn, &change).await.expect("debit");
    }
    assert!(models::queue(&**conn, model.id, cost).await.expect("queue"));
    models::get(&**conn, model.id)
        .await
        .expect("get")
        .expect("the model")
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
        };
        models::add_photo(&**conn, model.id, &photo)
            .await
            .expect("photo");
    }
    models::get(&**conn, model.id)
        .await
        .expect("get")
        .expect("the model")
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
    models::get(&**conn, model.id)
        .await
        .expect("get")
        .expect("the model")
}

/// A ready model.
pub async fn ready_model(db: &Db, user_id: i64) -> Model {
    let model = training_model(db, user_id, &format!("tr-ready-{user_id}"), 0).await;
    let conn = db.conn().await.expect("a connection");
    models::advance(
        &**conn,
        model.id,
        crate::domain::status::ModelStatus::Ready,
        Some(&format!("dreamtest/dream-photo-loras:{}", "b".repeat(64))),
        Some("https://replicate.delivery/weights.tar"),
        None,
    )
    .await
    .expect("advance")
    .expect("it moved")
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
            user_id,
            model_id,
            style_id: None,
            prompt: "on a beach",
            full_prompt: "photo of DPTEST person, on a beach",
            num_images: images,
            cost_tokens: cost,
        },
    )
    .await
    .expect("generation");
    if cost > 0 {
        let reference = format!("generation:{}", generation.id);
        let change = Change {
            user_id,
            delta: -cost,
            reason: Reason::Generation,
            reference: &reference,
            note: None,
        };
        ledger::apply(&**conn, &change).await.expect("debit");
    }
    assert!(
        generations::set_prediction(&**conn, generation.id, prediction_id)
            .await
            .expect("prediction")
    );
    generations::get(&**conn, generation.id)
        .await
        .expect("get")
        .expect("the generation")
}

/// Makes every effect waiting for a retry due now (instead of after its backoff).
pub async fn make_effects_due(db: &Db) {
    let conn = db.conn().await.expect("connection");
    conn.execute(
        "UPDATE effects SET next_attempt_at = now() WHERE state = 'pending'",
        &[],
    )
    .await
    .expect("effects made due");
}

/// The effects not yet settled (pending, or taken by an executor).
pub async fn unsettled_effects(db: &Db) -> Vec<crate::repo::effects::EffectRow> {
    let conn = db.conn().await.expect("connection");
    crate::repo::effects::list_unsettled(&**conn)
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
