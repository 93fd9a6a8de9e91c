//! A retraining's result: ready, it replaces the model it retrains (whose version goes at
//! Replicate); failed, it is refunded and the old model stays.

use shared::domain::status::ModelStatus;
use testkit::replicate::{job_failed, training_succeeded};
use testkit::{fixtures, stored};

use crate::app::App;

/// A ready model of user 1, and its retraining in training at Replicate as `tr_new` (80 paid).
async fn retraining(app: &App) -> (i64, i64) {
    let db = app.env.db();
    let (user, old) = fixtures::user_with_ready_model(db, 1, 100).await;
    let new = fixtures::training_model(db, user.id, "tr_new", 80).await;
    fixtures::rewrite_rows(
        db,
        "UPDATE models SET retrain_of = $1 WHERE id = $2",
        &[&old.id, &new.id],
    )
    .await;
    (old.id, new.id)
}

#[tokio::test]
async fn a_ready_retraining_replaces_its_model_and_deletes_the_old_version() {
    let app = App::spawn().await;
    let (old, new) = retraining(&app).await;
    let old_version = stored::model(app.env.db(), old).await.version.unwrap();

    app.deliver_ok("msg_1", &training_succeeded("tr_new")).await;
    app.deliver_ok("msg_2", &training_succeeded("tr_new")).await;
    let ready = stored::model(app.env.db(), new).await;
    assert_eq!(ready.status, ModelStatus::Ready);
    let retired = stored::model(app.env.db(), old).await;
    assert_eq!(retired.status, ModelStatus::Canceled);
    assert_eq!(retired.version, None);
    assert!(retired.error.unwrap().contains(&format!("#{new}")));
    // The old version is deleted at Replicate, once.
    let (_, id) = old_version.split_once(':').unwrap();
    let deletions: Vec<_> = app
        .env
        .replicate
        .calls_to("DELETE", "/models")
        .into_iter()
        .filter(|c| c.path.ends_with(id))
        .collect();
    assert_eq!(deletions.len(), 1, "{deletions:?}");
    assert_eq!(
        stored::balance(app.env.db(), 1).await,
        20,
        "nothing refunded"
    );
    // The person hears that the new one is ready.
    assert!(app
        .env
        .telegram
        .last_text_to(1)
        .unwrap()
        .contains("is ready"));
}

#[tokio::test]
async fn a_failed_retraining_is_refunded_and_the_old_model_stays() {
    let app = App::spawn().await;
    let (old, new) = retraining(&app).await;
    app.deliver_ok("msg_1", &job_failed("tr_new", "CUDA out of memory"))
        .await;
    assert_eq!(
        stored::model(app.env.db(), new).await.status,
        ModelStatus::Failed
    );
    let kept = stored::model(app.env.db(), old).await;
    assert_eq!(kept.status, ModelStatus::Ready);
    assert!(kept.version.is_some());
    assert_eq!(stored::balance(app.env.db(), 1).await, 100, "refunded");
    assert!(app.env.replicate.calls_to("DELETE", "/models").is_empty());
}

#[tokio::test]
async fn a_ready_retraining_that_keeps_no_photos_deletes_those_it_carried_from_the_old_model() {
    let app = App::spawn().await;
    let (old, new) = retraining(&app).await;
    // The old model kept its photos for a retraining; the retraining carried one of them (its
    // copy stays where the old model put it) and brought one of its own, and keeps none.
    let (carried, brought) = (
        format!("photos/1/{old}/a.jpg"),
        format!("photos/1/{new}/b.jpg"),
    );
    let (services, _jobs) = app.env.services();
    let storage = services.storage().unwrap();
    for key in [&carried, &brought] {
        let key = shared::storage::ObjectKey::parse(key).unwrap();
        storage
            .put(&key, testkit::fake_jpeg(), "image/jpeg")
            .await
            .unwrap();
    }
    let conn = app.env.db().conn().await.unwrap();
    conn.execute(
        "UPDATE models SET keep_photos = (id = $1) WHERE id IN ($1, $2)",
        &[&old, &new],
    )
    .await
    .unwrap();
    conn.execute(
        "INSERT INTO training_photos (model_id, file_unique_id, storage_key, mime_type)
         VALUES ($1, 'a', $3, 'image/jpeg'), ($2, 'a', $3, 'image/jpeg'), ($2, 'b', $4, 'image/jpeg')",
        &[&old, &new, &carried, &brought],
    )
    .await
    .unwrap();

    app.deliver_ok("msg_1", &training_succeeded("tr_new")).await;
    assert_eq!(
        stored::model(app.env.db(), new).await.status,
        ModelStatus::Ready
    );
    assert_eq!(
        app.env.objects.list("photos/1/"),
        Vec::<String>::new(),
        "no photo of either model kept"
    );
}
