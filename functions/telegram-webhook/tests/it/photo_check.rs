//! The photo check in the bot: each photo downloaded from the (fake) Bot API and checked as it
//! arrives, the status message naming the photos to replace and why, and "Start training" only once
//! ten good photos are in. The photos are the check's test set (testkit's `photos`).

use crate::app::{last_buttons, App};
use shared::domain::status::ModelStatus;
use shared::repo::models;
use testkit::photos::{self, good_photos};
use testkit::updates::{self, TgUser};
use testkit::{fixtures, stored};

async fn checking_app() -> App {
    App::spawn_with_var("PHOTO_CHECK", Some("true")).await
}

/// Sends `bytes` as the photo `unique` (served by the fake Bot API).
async fn send_photo(app: &App, update_id: i64, from: &TgUser, unique: &str, bytes: Vec<u8>) {
    app.env.telegram.serve_photo(unique, bytes);
    app.send(&updates::photo(update_id, from, unique, None))
        .await;
}

fn re_encoded_astronaut() -> Vec<u8> {
    photos::labelled_set()
        .into_iter()
        .find(|p| p.name == "astronaut re-encoded (JPEG q 60)")
        .expect("in the set")
        .bytes
}

#[tokio::test]
async fn photos_to_replace_are_named_with_why_and_training_starts_only_with_ten_good_ones() {
    let mut app = checking_app().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 150).await;
    app.send(&updates::text(1, &ann, "/train")).await;
    app.send(&updates::text(2, &ann, "Me")).await;

    let good = good_photos(10);
    for (i, bytes) in good.iter().take(9).enumerate() {
        send_photo(
            &app,
            10 + i as i64,
            &ann,
            &format!("good-{i}"),
            bytes.clone(),
        )
        .await;
    }
    send_photo(&app, 20, &ann, "blurred", photos::blurred(4.0)).await;
    send_photo(&app, 21, &ann, "landscape", photos::landscape()).await;
    // The first good photo again, re-encoded: another file, the same photo.
    send_photo(&app, 22, &ann, "again", re_encoded_astronaut()).await;

    let status = app.last_text(1);
    assert!(
        status.contains("<b>9</b>"),
        "only the good ones count: {status}"
    );
    assert!(status.contains("Replace these photos"), "{status}");
    assert!(status.contains("photo 10: blurred"), "{status}");
    assert!(status.contains("photo 11: no face found"), "{status}");
    assert!(
        status.contains("photo 12: nearly the same as another of your photos"),
        "{status}"
    );
    let last = app.env.telegram.sent_to(1).pop().unwrap();
    assert!(
        !last.has_inline_keyboard(),
        "no Start training with 9 good photos"
    );

    // The button of an earlier status cannot start it either: refused, nothing charged.
    let model = app.newest_model(1).await;
    app.press(23, &ann, &format!("t:{}", model.id)).await;
    assert!(
        app.last_text(1).contains("at least 10"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 150);

    // A replacement: the tenth good photo.
    send_photo(&app, 24, &ann, "good-9", good[9].clone()).await;
    let status = app.last_text(1);
    assert!(status.contains("<b>10</b>"), "{status}");
    assert!(
        status.contains("photo 10: blurred"),
        "still named: {status}"
    );
    assert_eq!(
        last_buttons(&app, 1),
        vec![(
            "🚀 Start training (100 tokens)".to_owned(),
            format!("t:{}", model.id)
        )]
    );

    app.press(25, &ann, &format!("t:{}", model.id)).await;
    let queued = stored::model(app.env.db(), model.id).await;
    assert_eq!(queued.status, ModelStatus::Queued);
    assert_eq!(queued.photo_count, 10);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 50);
    assert_eq!(app.jobs.try_recv().unwrap().model_id, model.id);
    // Kept to be named, never trained on: the worker's list is the ten good ones.
    let conn = app.env.db().conn().await.unwrap();
    assert_eq!(models::photos(&**conn, model.id).await.unwrap().len(), 13);
    let trained = models::good_photos(&**conn, model.id).await.unwrap();
    assert_eq!(trained.len(), 10);
    assert!(trained
        .iter()
        .all(|p| p.file_unique_id.starts_with("good-")));
    let blurred = models::photos(&**conn, model.id)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.file_unique_id == "blurred")
        .unwrap();
    assert_eq!(blurred.problem.as_deref(), Some("blurred"));
    assert!(blurred.measurements.unwrap()["sharpness"].as_f64().unwrap() < 5.0);
}

#[tokio::test]
async fn the_reasons_are_said_in_russian_too_and_a_file_that_is_not_an_image_is_unreadable() {
    let app = checking_app().await;
    let ivan = TgUser::new(2, "Иван").russian();
    fixtures::user(app.env.db(), 2, 0).await;
    app.send(&updates::text(1, &ivan, "/train")).await;
    app.send(&updates::text(2, &ivan, "Я")).await;
    // The fake's default file: JPEG's first bytes, and nothing decodable after them.
    app.send(&updates::photo(3, &ivan, "broken", None)).await;
    send_photo(&app, 4, &ivan, "small", photos::too_small()).await;
    let status = app.last_text(2);
    assert!(status.contains("Замените эти фото"), "{status}");
    assert!(
        status.contains("фото 1: не удалось открыть файл"),
        "{status}"
    );
    assert!(
        status.contains("фото 2: слишком маленькое: меньше 512 пикселей"),
        "{status}"
    );
    assert!(status.contains("<b>0</b>"), "{status}");
}
