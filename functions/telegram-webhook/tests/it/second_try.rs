//! A second try after an album, through the bot: "more like this" in a shape, and the free redo a
//! rating of 1 or 2 earns, with the ledger kept exact.

use crate::app::{last_buttons, App};
use shared::domain::rules::AspectRatio;
use shared::domain::status::GenerationStatus;
use shared::repo::generations::Generation;
use shared::repo::ledger::{self, Reason};
use shared::repo::{generations, Page};
use testkit::fixtures;
use testkit::stored;
use testkit::updates::{self, TgUser};

/// Ann (user 1, 100 tokens, a ready model) makes two images (10 tokens) in the style "Noir"
/// through the bot; Replicate delivers them; the rating prompt is the last message with buttons.
async fn album_delivered(app: &App) -> Generation {
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    let style = fixtures::style(app.env.db(), fixtures::noir(Default::default())).await;
    app.press(1, &ann, &format!("g:{}", model.id)).await;
    app.press(2, &ann, &format!("s:{}", style.id)).await;
    app.send(&updates::text(3, &ann, "in a hat")).await;
    app.press(4, &ann, "n:2").await;
    let generation = newest(app).await;
    assert_eq!(generation.style_id, Some(style.id));
    deliver(app, &generation).await;
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
    stored::generation(app.env.db(), generation.id).await
}

/// Replicate reports the generation succeeded: the album goes out, then the rating prompt.
async fn deliver(app: &App, generation: &Generation) {
    let id = prediction_of(generation);
    let report = app
        .env
        .replicate
        .prediction_succeeded(&id, generation.num_images as usize);
    reported(app, &id, report).await;
    assert_eq!(
        stored::generation(app.env.db(), generation.id).await.status,
        GenerationStatus::Succeeded
    );
}

fn prediction_of(generation: &Generation) -> String {
    generation
        .replicate_prediction_id
        .clone()
        .expect("started at Replicate")
}

/// Replicate's `report` on the prediction `id`, handled as its webhook or the sweep would.
async fn reported(app: &App, id: &str, report: serde_json::Value) {
    let (services, _jobs) = app.env.services();
    let job: shared::replicate::Job = serde_json::from_value(report).unwrap();
    let subject = shared::outcomes::find_subject(&services, id, None)
        .await
        .unwrap()
        .expect("our prediction");
    shared::outcomes::apply(&services, subject, &job)
        .await
        .unwrap();
}

async fn newest(app: &App) -> Generation {
    all(app).await.remove(0)
}

/// Ann's generations, newest first.
async fn all(app: &App) -> Vec<Generation> {
    let conn = app.env.db().conn().await.unwrap();
    generations::list_for_user(&**conn, 1, Page::first(20))
        .await
        .unwrap()
}

/// Ann presses a free redo of `generation_id` that was not offered (update `update_id`): it is out of
/// date and does nothing: still `generations` generations, her balance still 90.
async fn assert_free_redo_does_nothing(
    app: &App,
    update_id: i64,
    generation_id: i64,
    generations: usize,
) {
    let ann = TgUser::new(1, "Ann");
    app.press(update_id, &ann, &format!("fr:{generation_id}"))
        .await;
    assert!(app.last_text(1).contains("out of date"));
    assert_eq!(all(app).await.len(), generations);
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
}

/// Ann's ledger as (reason, delta, reference), oldest first.
async fn ledger_of_ann(app: &App) -> Vec<(Reason, i64, String)> {
    let conn = app.env.db().conn().await.unwrap();
    let mut entries = ledger::entries(&**conn, 1, Page::first(50)).await.unwrap();
    entries.reverse();
    entries
        .into_iter()
        .map(|e| (e.reason, e.delta, e.reference))
        .collect()
}

fn seed(prediction: &testkit::replicate::ReplicateCall) -> i64 {
    prediction.input("seed").as_i64().expect("a seed")
}

#[tokio::test]
async fn more_like_this_after_an_album_is_a_new_paid_generation_with_the_same_prompt_and_style() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    let buttons = last_buttons(&app, 1);
    let again = format!("a:{}:0", first.id);
    assert!(
        buttons.contains(&("🔁 More like this".to_owned(), again.clone())),
        "{buttons:?}"
    );
    assert!(app.last_text(1).contains("10 tokens"), "the price is said");
    for (ratio, code) in [("1:1", "1x1"), ("3:4", "3x4"), ("9:16", "9x16")] {
        assert!(
            buttons.contains(&(format!("🔁 {ratio}"), format!("a:{}:{code}", first.id))),
            "{buttons:?}"
        );
    }

    app.press(10, &ann, &again).await;
    let second = newest(&app).await;
    assert_ne!(second.id, first.id);
    assert_eq!(second.again_of, Some(first.id));
    assert!(!second.free_redo);
    assert_eq!(
        (second.prompt.as_str(), second.style_id, second.num_images),
        (first.prompt.as_str(), first.style_id, 2)
    );
    assert_eq!(second.full_prompt, first.full_prompt);
    assert_eq!(second.aspect_ratio, AspectRatio::Square);
    assert_eq!(stored::balance(app.env.db(), 1).await, 80, "paid");
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions.len(), 2);
    assert_eq!(
        predictions[1].input("prompt"),
        predictions[0].input("prompt")
    );
    assert_ne!(seed(&predictions[1]), seed(&predictions[0]), "a new seed");
    assert!(app
        .texts(1)
        .iter()
        .any(|t| t.contains("Creating 2") || t.contains("Создаю 2")));
    // The same button again, twice at once: one per button, nothing more charged.
    tokio::join!(app.press(20, &ann, &again), app.press(21, &ann, &again));
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 2);
    assert_eq!(stored::balance(app.env.db(), 1).await, 80);
    assert!(
        app.last_text(1).contains("on its way already"),
        "{}",
        app.last_text(1)
    );

    // In a portrait shape, then a story's.
    app.press(11, &ann, &format!("a:{}:3x4", first.id)).await;
    app.press(12, &ann, &format!("a:{}:9x16", first.id)).await;
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions.len(), 4);
    assert_eq!(predictions[0].input("aspect_ratio"), "1:1");
    assert_eq!(predictions[2].input("aspect_ratio"), "3:4");
    assert_eq!(predictions[3].input("aspect_ratio"), "9:16");
    assert_eq!(newest(&app).await.aspect_ratio, AspectRatio::Story);
    assert_eq!(stored::balance(app.env.db(), 1).await, 60);

    // "More like this" of a story keeps its shape; someone else's generation is not theirs to repeat.
    let story = newest(&app).await;
    deliver(&app, &story).await;
    app.press(13, &ann, &format!("a:{}:0", story.id)).await;
    assert_eq!(newest(&app).await.aspect_ratio, AspectRatio::Story);
    assert_eq!(stored::balance(app.env.db(), 1).await, 50);
    let bob = TgUser::new(2, "Bob");
    fixtures::user(app.env.db(), 2, 100).await;
    app.press(14, &bob, &format!("a:{}:0", first.id)).await;
    assert!(app.last_text(2).contains("out of date"));
    assert_eq!(stored::balance(app.env.db(), 2).await, 100);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 5);

    // Without the tokens, nothing is started and the person is offered to buy.
    let poor = TgUser::new(3, "Cleo");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 3, 10).await;
    let theirs = fixtures::generation_in_flight(app.env.db(), 3, model.id, "pr_c", 2, 10).await;
    app.press(15, &poor, &format!("a:{}:0", theirs.id)).await;
    assert!(
        app.last_text(3).contains("Not enough tokens"),
        "{}",
        app.last_text(3)
    );
    assert_eq!(stored::balance(app.env.db(), 3).await, 0);
    // A press that started nothing can be pressed again once the tokens are there.
    fixtures::grant(app.env.db(), 3, 100, "admin:cleo").await;
    app.press(16, &poor, &format!("a:{}:0", theirs.id)).await;
    assert_eq!(stored::balance(app.env.db(), 3).await, 90);
}

#[tokio::test]
async fn a_rating_of_1_or_2_offers_one_free_redo_made_once_however_often_it_is_pressed() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;

    app.press(10, &ann, &format!("r:{}:2", first.id)).await;
    assert!(app.last_text(1).contains("Thanks for rating"));
    assert!(app.last_text(1).contains("on us"), "{}", app.last_text(1));
    let redo = format!("fr:{}", first.id);
    assert_eq!(
        last_buttons(&app, 1),
        vec![("🎁 Free redo".to_owned(), redo.clone())]
    );

    // Pressed twice at once (two updates, two Lambdas): one redo.
    let (a, b) = (
        updates::callback(11, &ann, &redo),
        updates::callback(12, &ann, &redo),
    );
    tokio::join!(app.send(&a), app.send(&b));
    app.press(13, &ann, &redo).await;
    let made = all(&app).await;
    assert_eq!(made.len(), 2, "the album and one redo");
    let redone = &made[0];
    assert!(redone.free_redo);
    assert_eq!(redone.again_of, Some(first.id));
    assert_eq!(redone.prompt, first.prompt);
    assert_eq!(redone.style_id, first.style_id);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 2);
    assert!(
        app.last_text(1).contains("already used"),
        "{}",
        app.last_text(1)
    );

    // The balance did not move: the ledger has the credit and the debit of the redo, once.
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
    let ledger = ledger_of_ann(&app).await;
    let redo_rows: Vec<_> = ledger
        .iter()
        .filter(|(reason, _, reference)| {
            *reason == Reason::FreeRedo || reference == &format!("generation:{}", redone.id)
        })
        .cloned()
        .collect();
    assert_eq!(
        redo_rows,
        vec![
            (Reason::FreeRedo, 10, format!("free-redo:{}:0", first.id)),
            (Reason::Generation, -10, format!("generation:{}", redone.id)),
        ]
    );
    // A free redo is not spending.
    assert_eq!(stored::user(app.env.db(), 1).await.tokens_spent, 10);

    // A second low rating of the same generation offers no second redo; the redo itself earns none.
    app.press(14, &ann, &format!("r:{}:1", first.id)).await;
    assert!(app.last_text(1).contains("Thanks for rating"));
    assert!(!app.last_text(1).contains("on us"));
    deliver(&app, redone).await;
    app.press(15, &ann, &format!("r:{}:1", redone.id)).await;
    assert!(!app.last_text(1).contains("on us"));
    assert_free_redo_does_nothing(&app, 16, redone.id, 2).await;
}

#[tokio::test]
async fn a_rating_of_3_to_5_offers_no_free_redo_and_a_redo_button_without_one_does_nothing() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    for (update, rating) in [(10, 3), (11, 4), (12, 5)] {
        app.press(update, &ann, &format!("r:{}:{rating}", first.id))
            .await;
        assert!(app.last_text(1).contains("Thanks for rating"));
        assert!(!app.last_text(1).contains("on us"));
    }
    assert_free_redo_does_nothing(&app, 13, first.id, 1).await;
}

#[tokio::test]
async fn a_free_redo_replicate_refuses_gives_no_tokens_only_the_redo_back() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    app.press(10, &ann, &format!("r:{}:1", first.id)).await;
    let redo = format!("fr:{}", first.id);

    app.env
        .replicate
        .fail_next("/predictions", 422, "invalid input");
    app.press(11, &ann, &redo).await;
    let failed = newest(&app).await;
    assert!(failed.free_redo);
    assert_eq!(failed.status, GenerationStatus::Failed);
    // Nothing comes back but the redo: its debit was paid by its credit, never by Ann.
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
    let ledger = ledger_of_ann(&app).await;
    assert!(
        !ledger
            .iter()
            .any(|(reason, _, _)| *reason == Reason::Refund),
        "{ledger:?}"
    );
    let told = app.last_text(1);
    assert!(
        told.contains("failed") && told.contains("still yours"),
        "{told}"
    );
    assert_eq!(
        last_buttons(&app, 1),
        vec![("🎁 Free redo".to_owned(), redo.clone())]
    );

    // Asked for again, it is made, in the next slot of the ledger; the balance still has not moved.
    app.press(12, &ann, &redo).await;
    let redone = newest(&app).await;
    assert_ne!(redone.id, failed.id);
    assert_eq!(redone.status, GenerationStatus::Starting);
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
    let credits: Vec<_> = ledger_of_ann(&app)
        .await
        .into_iter()
        .filter(|(reason, _, _)| *reason == Reason::FreeRedo)
        .map(|(_, delta, reference)| (delta, reference))
        .collect();
    assert_eq!(
        credits,
        vec![
            (10, format!("free-redo:{}:0", first.id)),
            (10, format!("free-redo:{}:1", first.id)),
        ]
    );
    // And that one is the last.
    app.press(13, &ann, &redo).await;
    assert!(app.last_text(1).contains("already used"));
    assert_eq!(all(&app).await.len(), 3);
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
}

#[tokio::test]
async fn free_redos_are_switched_off_with_zero() {
    let app = App::spawn_with_var("FREE_REDOS_PER_GENERATION", Some("0")).await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    app.press(10, &ann, &format!("r:{}:1", first.id)).await;
    assert!(!app.last_text(1).contains("on us"));
    app.press(11, &ann, &format!("fr:{}", first.id)).await;
    assert_eq!(all(&app).await.len(), 1);
    assert_eq!(stored::balance(app.env.db(), 1).await, 90);
}

#[tokio::test]
async fn more_like_this_whose_start_is_unknown_is_paid_once_however_often_it_is_pressed() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    let again = format!("a:{}:0", first.id);
    // Replicate takes the prediction and answers 500, and looking for it fails too.
    app.env.replicate.accept_then_fail_next("/predictions", 500);
    app.env
        .replicate
        .fail_next("/predictions", 500, "Replicate is down");
    app.press(10, &ann, &again).await;
    assert_eq!(stored::balance(app.env.db(), 1).await, 80, "paid");
    // Pressed again: on its way already, nothing more paid.
    app.press(11, &ann, &again).await;
    assert!(
        app.last_text(1).contains("on its way already"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(stored::balance(app.env.db(), 1).await, 80);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 2);
}

#[tokio::test]
async fn a_second_try_after_its_model_was_retrained_is_made_with_the_retraining() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    let old = first.model_id.unwrap();
    // The model is retrained meanwhile: the retraining is ready and the old model retired.
    let new = fixtures::training_model(app.env.db(), 1, "tr_new", 0).await;
    fixtures::rewrite_rows(
        app.env.db(),
        "UPDATE models SET retrain_of = $1, status = 'ready', version = 'dreamtest/lora:new'
          WHERE id = $2",
        &[&old, &new.id],
    )
    .await;
    fixtures::rewrite_rows(
        app.env.db(),
        "UPDATE models SET status = 'canceled', version = NULL WHERE id = $1",
        &[&old],
    )
    .await;

    app.press(10, &ann, &format!("r:{}:2", first.id)).await;
    app.press(11, &ann, &format!("fr:{}", first.id)).await;
    let made = all(&app).await;
    assert_eq!(made.len(), 2, "the free redo made: {}", app.last_text(1));
    assert_eq!(
        made[0].model_id,
        Some(new.id),
        "with the model that replaced it"
    );
    assert!(made[0].free_redo);

    app.press(12, &ann, &format!("a:{}:0", first.id)).await;
    let made = all(&app).await;
    assert_eq!(made.len(), 3, "more like this made: {}", app.last_text(1));
    assert_eq!(made[0].model_id, Some(new.id));
}

#[tokio::test]
async fn more_like_this_whose_generation_failed_can_be_pressed_again() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let first = album_delivered(&app).await;
    let again = format!("a:{}:0", first.id);
    app.press(10, &ann, &again).await;
    let failed = newest(&app).await;
    assert_eq!(failed.again_of, Some(first.id));
    assert_eq!(stored::balance(app.env.db(), 1).await, 80);
    // Replicate fails it: refunded.
    let id = prediction_of(&failed);
    reported(
        &app,
        &id,
        testkit::replicate::job_failed(&id, "CUDA out of memory"),
    )
    .await;
    assert_eq!(
        stored::generation(app.env.db(), failed.id).await.status,
        GenerationStatus::Failed
    );
    assert_eq!(stored::balance(app.env.db(), 1).await, 90, "refunded");

    // The button works again: a new generation, paid once.
    app.press(11, &ann, &again).await;
    let made = all(&app).await;
    assert_eq!(made.len(), 3, "{}", app.last_text(1));
    assert_eq!(made[0].again_of, Some(first.id));
    assert_eq!(stored::balance(app.env.db(), 1).await, 80);
    // And only once more.
    app.press(12, &ann, &again).await;
    assert_eq!(all(&app).await.len(), 3);
}
