//! Retraining a ready model with more photos, in the bot: started from `/models`, its photos carried
//! over, paid at the retraining price, the old model usable meanwhile.

use crate::app::{last_buttons, App};
use shared::domain::status::ModelStatus;
use testkit::fixtures;
use testkit::stored;
use testkit::updates::{self, TgUser};

#[tokio::test]
async fn a_ready_model_is_retrained_with_more_photos_at_the_retraining_price() {
    let mut app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    app.send(&updates::text(1, &ann, "/models")).await;
    let retrain = format!("rt:{}", model.id);
    assert!(
        last_buttons(&app, 1)
            .iter()
            .any(|(label, data)| data == &retrain && label.contains("Retrain")),
        "{:?}",
        last_buttons(&app, 1)
    );

    // A double tap starts one retraining, carrying the model's 10 photos.
    tokio::join!(app.press(2, &ann, &retrain), app.press(3, &ann, &retrain));
    let started = app
        .texts(1)
        .into_iter()
        .find(|t| t.contains("Retraining"))
        .expect("the retraining explained");
    assert!(started.contains("80 tokens"), "{started}");
    assert!(started.contains("10 photos came along"), "{started}");
    assert_eq!(stored::retrainings(app.env.db()).await, 1);
    let draft = app.newest_model(1).await;
    assert_eq!(draft.retrain_of, Some(model.id));
    assert_eq!(draft.status, ModelStatus::Draft);
    assert_eq!(draft.trigger_word, model.trigger_word);
    assert_eq!(draft.photo_count, 10);

    for i in 0..2 {
        app.send(&updates::photo(10 + i, &ann, &format!("new{i}"), None))
            .await;
    }
    assert!(app.last_text(1).contains("12"), "{}", app.last_text(1));
    // The old model still generates while the new one is made.
    app.press(20, &ann, &format!("g:{}", model.id)).await;
    assert!(app.last_text(1).contains("Describe the photo"));

    app.press(21, &ann, &format!("t:{}", draft.id)).await;
    assert!(
        app.last_text(1).contains("has started"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(
        app.user(1).await.unwrap().tokens_left,
        20,
        "the retraining price"
    );
    let queued = stored::model(app.env.db(), draft.id).await;
    assert_eq!(queued.status, ModelStatus::Queued);
    assert_eq!(queued.photo_count, 12);
    assert_eq!(queued.cost_tokens, 80);
    assert_eq!(app.jobs.try_recv().unwrap().model_id, draft.id);
    assert_eq!(
        stored::model(app.env.db(), model.id).await.status,
        ModelStatus::Ready
    );

    // A retraining under way is not started twice.
    app.press(22, &ann, &retrain).await;
    assert!(
        app.last_text(1).contains("already training"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 20);
}

#[tokio::test]
async fn only_one_s_own_ready_model_is_retrained() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 100).await;
    let (_, bobs) = fixtures::user_with_ready_model(app.env.db(), 2, 0).await;
    let draft = fixtures::draft_model(app.env.db(), 1, 3).await;
    for (i, model_id) in [bobs.id, draft.id, 999].into_iter().enumerate() {
        app.press(i as i64 + 1, &ann, &format!("rt:{model_id}"))
            .await;
        assert!(app.last_text(1).contains("out of date"), "{model_id}");
    }
    assert_eq!(stored::retrainings(app.env.db()).await, 0);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
}
