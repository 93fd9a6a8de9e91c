//! Repositories against a real PostgreSQL: the ledger's guarantees, dedupe, status transitions.

use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::repo::deliveries::{self, Claim, Delivery};
use shared::repo::ledger::{self, Change, LedgerError, Reason};
use shared::repo::users::{self, TelegramProfile};
use shared::repo::{generations, models, payments, referrals};
use testkit::stored;
use testkit::test_db;

fn profile(id: i64) -> TelegramProfile {
    TelegramProfile {
        id,
        username: Some(format!("user{id}")),
        first_name: "Ann".into(),
        last_name: None,
        language_code: Some("en".into()),
    }
}

fn credit(user_id: i64, delta: i64, reference: &str) -> Change<'_> {
    Change {
        user_id,
        delta,
        reason: Reason::Admin,
        reference,
        note: None,
    }
}

/// User `id`, registered and granted `tokens`.
async fn registered_with(conn: &tokio_postgres::Client, id: i64, tokens: i64) {
    users::register(conn, &profile(id)).await.unwrap();
    ledger::apply(conn, &credit(id, tokens, "grant"))
        .await
        .unwrap();
}

/// A draft model of user 1 (registered here).
async fn draft_of_user_1(conn: &tokio_postgres::Client) -> models::Model {
    users::register(conn, &profile(1)).await.unwrap();
    models::create_draft(conn, 1, "Me", "TOK1").await.unwrap()
}

#[tokio::test]
async fn register_is_idempotent_and_refreshes_names() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    let (user, created) = users::register(&**conn, &profile(1)).await.unwrap();
    assert!(created);
    assert_eq!(user.tokens_left, 0);
    let mut renamed = profile(1);
    renamed.first_name = "Anna".into();
    let (again, created) = users::register(&**conn, &renamed).await.unwrap();
    assert!(!created);
    assert_eq!(again.first_name, "Anna");
    assert_eq!(again.referral_code, user.referral_code);
}

#[tokio::test]
async fn a_debit_below_zero_is_refused_and_the_ledger_untouched() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    registered_with(&conn, 1, 5).await;
    let err = ledger::apply(&**conn, &credit(1, -6, "take"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Insufficient {
                available: 5,
                required: 6
            }
        ),
        "{err:?}"
    );
    let user = stored::user(&t.db, 1).await;
    assert_eq!(user.tokens_left, 5);
    assert_eq!(ledger::sum(&**conn, 1).await.unwrap(), 5);
    let entries = ledger::entries(&**conn, 1, shared::repo::Page::first(10))
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn fifty_concurrent_debits_against_ten_tokens_make_exactly_ten_succeed() {
    let t = test_db().await;
    {
        let conn = t.db.conn().await.unwrap();
        registered_with(&conn, 1, 10).await;
    }
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let db = t.db.clone();
            tokio::spawn(async move {
                let conn = db.conn().await.unwrap();
                let reference = format!("generation:{i}");
                let change = Change {
                    user_id: 1,
                    delta: -1,
                    reason: Reason::Generation,
                    reference: &reference,
                    note: None,
                };
                ledger::apply(&**conn, &change).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(LedgerError::Insufficient { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 10);
    let conn = t.db.conn().await.unwrap();
    let user = stored::user(&t.db, 1).await;
    assert_eq!((user.tokens_left, user.tokens_spent), (0, 10));
    assert_eq!(ledger::sum(&**conn, 1).await.unwrap(), 0);
}

#[tokio::test]
async fn a_refund_happens_once_per_reference() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    users::register(&**conn, &profile(1)).await.unwrap();
    let refund = Change {
        user_id: 1,
        delta: 3,
        reason: Reason::Refund,
        reference: "generation:7",
        note: None,
    };
    ledger::apply(&**conn, &refund).await.unwrap();
    let again = ledger::apply(&**conn, &refund).await.unwrap_err();
    assert!(
        matches!(again, LedgerError::AlreadyApplied { .. }),
        "{again:?}"
    );
    assert_eq!(stored::user(&t.db, 1).await.tokens_left, 3);
}

#[tokio::test]
async fn a_repeated_once_only_change_leaves_the_callers_transaction_usable() {
    let t = test_db().await;
    let mut conn = t.db.conn().await.unwrap();
    users::register(&**conn, &profile(1)).await.unwrap();
    let refund = Change {
        user_id: 1,
        delta: 3,
        reason: Reason::Refund,
        reference: "generation:8",
        note: None,
    };
    ledger::apply(&**conn, &refund).await.unwrap();
    let tx = conn.transaction().await.unwrap();
    let again = ledger::apply(&*tx, &refund).await.unwrap_err();
    assert!(
        matches!(again, LedgerError::AlreadyApplied { .. }),
        "{again:?}"
    );
    // The transaction goes on: the next statement and the commit succeed.
    ledger::apply(&*tx, &credit(1, 2, "grant")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored::user(&t.db, 1).await.tokens_left, 5);
}

#[tokio::test]
async fn the_ledger_is_append_only() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    registered_with(&conn, 1, 2).await;
    assert!(conn
        .batch_execute("UPDATE token_ledger SET delta = 100")
        .await
        .is_err());
    assert!(conn
        .batch_execute("DELETE FROM token_ledger")
        .await
        .is_err());
}

#[tokio::test]
async fn a_delivery_is_claimed_once_and_released_on_failure() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    let update = Delivery::TelegramUpdate(42);
    assert_eq!(
        deliveries::claim(&**conn, update).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        deliveries::claim(&**conn, update).await.unwrap(),
        Claim::InProgress,
        "a delivery still being handled is not reported done"
    );
    deliveries::release(&**conn, update).await.unwrap();
    assert_eq!(
        deliveries::claim(&**conn, update).await.unwrap(),
        Claim::Claimed
    );
    deliveries::finish(&**conn, update).await.unwrap();
    deliveries::release(&**conn, update).await.unwrap();
    assert_eq!(
        deliveries::claim(&**conn, update).await.unwrap(),
        Claim::Duplicate
    );

    let hook = Delivery::ReplicateWebhook {
        webhook_id: "msg_1",
        replicate_id: "abc",
    };
    assert_eq!(
        deliveries::claim(&**conn, hook).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        deliveries::claim(&**conn, hook).await.unwrap(),
        Claim::InProgress
    );
    deliveries::finish(&**conn, hook).await.unwrap();
    assert_eq!(
        deliveries::claim(&**conn, hook).await.unwrap(),
        Claim::Duplicate
    );

    // A claim whose handler died (its lease ran out) is taken over by the next delivery.
    let died = Delivery::TelegramUpdate(43);
    deliveries::claim(&**conn, died).await.unwrap();
    conn.execute(
        "UPDATE processed_updates SET claimed_at = now() - interval '3 minutes' WHERE update_id = 43",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        deliveries::claim(&**conn, died).await.unwrap(),
        Claim::Claimed
    );
}

#[tokio::test]
async fn statuses_only_move_forward() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    let model = draft_of_user_1(&conn).await;
    assert!(models::queue(&**conn, model.id, 100).await.unwrap());
    assert!(
        !models::queue(&**conn, model.id, 100).await.unwrap(),
        "queued twice"
    );
    assert!(models::start_training(&**conn, model.id, "tr_1", "me/lora")
        .await
        .unwrap());
    let ready = models::advance(
        &**conn,
        model.id,
        ModelStatus::Ready,
        Some("me/lora:v1"),
        Some("https://w"),
        None,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ready.status, ModelStatus::Ready);
    let late = models::advance(&**conn, model.id, ModelStatus::Training, None, None, None)
        .await
        .unwrap();
    assert!(late.is_none());
    let found = models::find_by_training_id(&**conn, "tr_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.version.as_deref(), Some("me/lora:v1"));

    let generation = generations::create(
        &**conn,
        &generations::NewGeneration {
            id: None,
            user_id: 1,
            model_id: model.id,
            style_id: None,
            prompt: "on a beach",
            full_prompt: "TOK1 on a beach",
            num_images: 2,
            cost_tokens: 2,
            aspect_ratio: Default::default(),
            again_of: None,
            free_redo: false,
        },
    )
    .await
    .unwrap();
    assert!(generations::set_prediction(&**conn, generation.id, "p_1")
        .await
        .unwrap());
    let done = generations::advance(
        &**conn,
        generation.id,
        GenerationStatus::Succeeded,
        Some(&["u1".into()]),
        None,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(done.result_urls, vec!["u1".to_owned()]);
    assert!(generations::advance(
        &**conn,
        generation.id,
        GenerationStatus::Processing,
        None,
        None
    )
    .await
    .unwrap()
    .is_none());
}

#[tokio::test]
async fn photos_count_once_per_file_unique_id() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    let model = draft_of_user_1(&conn).await;
    let photo = |u: &str| models::NewPhoto {
        file_unique_id: u.into(),
        telegram_file_id: Some(format!("f-{u}")),
        source_url: None,
        file_size: Some(1000),
        mime_type: Some("image/jpeg".into()),
        storage_key: None,
    };
    assert_eq!(
        models::add_photo(&**conn, model.id, &photo("a"))
            .await
            .unwrap(),
        (true, 1)
    );
    assert_eq!(
        models::add_photo(&**conn, model.id, &photo("a"))
            .await
            .unwrap(),
        (false, 1)
    );
    assert_eq!(
        models::add_photo(&**conn, model.id, &photo("b"))
            .await
            .unwrap(),
        (true, 2)
    );
}

#[tokio::test]
async fn payments_and_referrals_record_once() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    users::register(&**conn, &profile(1)).await.unwrap();
    users::register(&**conn, &profile(2)).await.unwrap();
    assert!(referrals::record_invite(&**conn, 1, 2).await.unwrap());
    assert!(!referrals::record_invite(&**conn, 1, 2).await.unwrap());
    assert!(!referrals::record_invite(&**conn, 2, 2).await.unwrap());
    let payment = payments::NewPayment {
        user_id: 2,
        pack_id: "small",
        amount: 100,
        currency: "XTR",
        tokens: 50,
        telegram_charge_id: "ch_1",
        provider_charge_id: "",
        payload: "pack:small",
    };
    assert!(payments::record(&**conn, &payment).await.unwrap().is_some());
    assert!(payments::record(&**conn, &payment).await.unwrap().is_none());
    assert_eq!(
        referrals::take_unpaid_bonus(&**conn, 2, 10).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        referrals::take_unpaid_bonus(&**conn, 2, 10).await.unwrap(),
        None
    );
    let stats = referrals::statistics(&**conn, 1).await.unwrap();
    assert_eq!((stats.joined, stats.paid, stats.bonus_tokens), (1, 1, 10));
    // Revenue in US dollars at the configured rates; a currency without one is left out.
    let rates = shared::repo::costs::UsdRates::new(&[("XTR".to_owned(), 0.5)]);
    let stats = shared::repo::stats::global_statistics(&**conn, &rates)
        .await
        .unwrap();
    assert_eq!(stats.users_total, 2);
    assert_eq!(stats.paying_users, 1);
    assert_eq!(stats.revenue[0].amount, 100);
    let today = &stats.economics[0];
    assert_eq!(today.days, Some(1));
    assert_eq!(today.economics.revenue_usd, 50.0);
    assert_eq!(today.economics.cost_usd, 0.0);
    let unpriced = shared::repo::costs::UsdRates::new(&[]);
    let stats = shared::repo::stats::global_statistics(&**conn, &unpriced)
        .await
        .unwrap();
    assert_eq!(stats.economics[3].economics.revenue_usd, 0.0);
}

#[tokio::test]
async fn a_paid_training_gets_its_job_even_when_the_queue_fails_at_submit() {
    let env = testkit::TestEnv::start().await;
    let db = env.db();
    let user = testkit::fixtures::user(db, 1, 100).await;
    let model = testkit::fixtures::draft_model(db, user.id, 10).await;

    // The queue is down when the user pays (its receiving end is gone).
    let (broken, receiver) = shared::queue::TrainingQueue::in_process();
    drop(receiver);
    let services = shared::services::Services::new(env.config(), broken).unwrap();
    let queued = shared::usecases::training::submit(&services, user.id, model.id)
        .await
        .expect("paid and queued, the job waits");
    assert_eq!(queued.status, ModelStatus::Queued);
    assert_eq!(stored::user(db, user.id).await.tokens_left, 0);
    let waiting = testkit::fixtures::unsettled_effects(db).await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].kind, "queue_training");

    // A double click pays and queues nothing more; the sweep sends the job once the queue is back.
    assert!(
        shared::usecases::training::submit(&services, user.id, model.id)
            .await
            .is_err()
    );
    let (working, mut jobs) = shared::queue::TrainingQueue::in_process();
    let services = shared::services::Services::new(env.config(), working).unwrap();
    testkit::fixtures::make_effects_due(db).await;
    let drained = shared::dispatch::drain(&services, 10).await.unwrap();
    assert_eq!(drained.done, 1);
    assert_eq!(
        jobs.try_recv().unwrap(),
        shared::queue::TrainingJob { model_id: model.id }
    );
    assert!(jobs.try_recv().is_err(), "one job");
}

#[tokio::test]
async fn dedupe_and_effect_rows_are_pruned_only_past_their_windows() {
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    for id in [1, 2, 3, 4] {
        let update = Delivery::TelegramUpdate(id);
        deliveries::claim(&**conn, update).await.unwrap();
        deliveries::finish(&**conn, update).await.unwrap();
    }
    // Update 1 was done long ago, 2 yesterday (inside Telegram's window), 3 is being handled now,
    // 4 was claimed long ago and never finished (its handler died, or it changed nothing).
    conn.batch_execute(
        "UPDATE processed_updates SET done_at = now() - interval '8 days' WHERE update_id = 1;
         UPDATE processed_updates SET done_at = now() - interval '1 day' WHERE update_id = 2;
         UPDATE processed_updates SET status = 'processing', done_at = NULL WHERE update_id = 3;
         UPDATE processed_updates SET status = 'processing', done_at = NULL,
             claimed_at = now() - interval '9 days' WHERE update_id = 4;",
    )
    .await
    .unwrap();
    let effect = shared::effects::Effect::QueueTraining { model_id: 1 };
    let old = shared::effects::write(&**conn, "old", &effect)
        .await
        .unwrap()
        .unwrap();
    shared::effects::write(&**conn, "pending", &effect)
        .await
        .unwrap()
        .unwrap();
    shared::repo::effects::finish(&**conn, old, &serde_json::json!({}))
        .await
        .unwrap();
    conn.execute(
        "UPDATE effects SET finished_at = now() - interval '31 days', created_at = now() - interval '40 days'",
        &[],
    )
    .await
    .unwrap();

    assert_eq!(deliveries::prune(&**conn, 7, 100).await.unwrap(), 2);
    assert_eq!(
        shared::repo::effects::prune(&**conn, 30, 100)
            .await
            .unwrap(),
        1
    );
    // What is left: the recent one, the one in progress, and the effect not yet run.
    assert_eq!(
        deliveries::claim(&**conn, Delivery::TelegramUpdate(2))
            .await
            .unwrap(),
        Claim::Duplicate
    );
    assert_eq!(
        deliveries::claim(&**conn, Delivery::TelegramUpdate(1))
            .await
            .unwrap(),
        Claim::Claimed,
        "pruned"
    );
    assert_eq!(
        deliveries::claim(&**conn, Delivery::TelegramUpdate(3))
            .await
            .unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        deliveries::claim(&**conn, Delivery::TelegramUpdate(4))
            .await
            .unwrap(),
        Claim::Claimed,
        "pruned"
    );
    assert!(shared::repo::effects::get_by_key(&**conn, "pending")
        .await
        .unwrap()
        .is_some());
    assert!(shared::repo::effects::get_by_key(&**conn, "old")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_runtime_role_writes_rows_but_cannot_change_the_schema() {
    let t = test_db().await;
    let mut url: url::Url = t.url.parse().unwrap();
    url.set_username("dream_photo_app").unwrap();
    let (client, connection) = tokio_postgres::connect(url.as_str(), tokio_postgres::NoTls)
        .await
        .expect("the runtime role logs in");
    tokio::spawn(connection);
    users::register(&client, &profile(1))
        .await
        .expect("rows are written");
    assert!(users::get(&client, 1).await.unwrap().is_some());
    for ddl in [
        "CREATE TABLE stolen (x int)",
        "DROP TABLE users",
        "ALTER TABLE users ADD COLUMN x int",
        "TRUNCATE token_ledger",
        "DELETE FROM refinery_schema_history",
    ] {
        let error = client.batch_execute(ddl).await.expect_err(ddl);
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{ddl}: {error}"
        );
    }
}

/// A burst dropped before it ended (its caller stopped waiting) must not hand its open transaction to
/// the pool's next user: what it wrote is gone, and the next statement on the pool commits on its own.
#[tokio::test]
async fn an_unfinished_burst_rolls_back_and_leaves_no_transaction_in_the_pool() {
    let t = testkit::test_db_with_pool(1).await;
    {
        let burst = shared::db::Burst::new(t.db.conn().await.unwrap());
        let first = profile(1);
        let (begun, registered) =
            tokio::join!(burst.begin(), users::register(burst.client(), &first));
        begun.unwrap();
        registered.unwrap();
        // Dropped here, neither committed nor rolled back.
    }
    let conn = t.db.conn().await.unwrap();
    // A savepoint is refused outside a transaction block.
    assert!(
        conn.batch_execute("SAVEPOINT probe").await.is_err(),
        "the pooled connection is inside the burst's transaction"
    );
    assert!(users::get(&**conn, 1).await.unwrap().is_none());
}

/// A burst that fails part-way rolls back whole, and its connection goes back to the pool usable.
#[tokio::test]
async fn a_burst_rolled_back_after_a_refused_statement_leaves_nothing() {
    let t = testkit::test_db_with_pool(1).await;
    let conn = t.db.conn().await.unwrap();
    registered_with(&conn, 1, 5).await;
    drop(conn);
    let burst = shared::db::Burst::new(t.db.conn().await.unwrap());
    let (first, second) = (credit(1, 3, "first"), credit(1, -100, "second"));
    let (begun, credited, overdrawn) = tokio::join!(
        burst.begin(),
        ledger::apply(burst.client(), &first),
        ledger::apply(burst.client(), &second),
    );
    begun.unwrap();
    credited.unwrap();
    assert!(matches!(
        overdrawn.unwrap_err(),
        LedgerError::Insufficient { .. }
    ));
    let conn = burst.rollback().await.unwrap();
    assert_eq!(
        users::get(&**conn, 1).await.unwrap().unwrap().tokens_left,
        5
    );
}

#[tokio::test]
async fn a_status_messages_end_tried_before_it_settled_is_written_as_it_went() {
    use shared::domain::progress::Tracked;
    use shared::effects::{progress_end_key, settle_progress_tried, Tried};
    use shared::repo::{effects as log, progress};
    let t = test_db().await;
    let conn = t.db.conn().await.unwrap();
    registered_with(&conn, 1, 10).await;
    let job = |id| Tracked::Generation { generation_id: id };
    let client: &tokio_postgres::Client = &conn;
    let written = move |id| async move {
        log::get_by_key(client, &progress_end_key(job(id)))
            .await
            .unwrap()
    };
    for id in 1..=4 {
        progress::start(&**conn, job(id), 1).await.unwrap();
    }
    let deleted = Tried::Done(serde_json::json!({ "deleted": 71 }));

    // The message seen is the one deleted: done.
    progress::set_message(&**conn, job(1), 71).await.unwrap();
    settle_progress_tried(&**conn, job(1), Some(71), &deleted)
        .await
        .unwrap();
    let done = written(1).await.unwrap();
    assert_eq!((done.state.as_str(), done.attempts), ("done", 1));
    assert_eq!(done.result, Some(serde_json::json!({ "deleted": 71 })));
    assert!(progress::get(&**conn, job(1))
        .await
        .unwrap()
        .unwrap()
        .settled_at
        .is_some());

    // None was seen, but one was recorded before it settled: pending, due now, so the sweep
    // deletes it.
    progress::set_message(&**conn, job(2), 72).await.unwrap();
    let nothing = Tried::Done(serde_json::json!({ "skipped": "no status message" }));
    settle_progress_tried(&**conn, job(2), None, &nothing)
        .await
        .unwrap();
    let missed = written(2).await.unwrap();
    assert_eq!((missed.state.as_str(), missed.attempts), ("pending", 0));
    assert_eq!(missed.result, None);
    assert!(log::due(&**conn, 100).await.unwrap().contains(&missed.id));

    // Its deletion failed: pending with its error, due after its wait.
    let failed = Tried::Again {
        error: "Telegram is down".into(),
        after_seconds: 60.0,
        attempts: 1,
    };
    settle_progress_tried(&**conn, job(3), None, &failed)
        .await
        .unwrap();
    let again = written(3).await.unwrap();
    assert_eq!((again.state.as_str(), again.attempts), ("pending", 1));
    assert_eq!(again.last_error.as_deref(), Some("Telegram is down"));
    assert!(!log::due(&**conn, 100).await.unwrap().contains(&again.id));

    // Settled before (by whoever ends it): nothing is written.
    progress::settle(&**conn, job(4)).await.unwrap();
    settle_progress_tried(&**conn, job(4), None, &nothing)
        .await
        .unwrap();
    assert!(written(4).await.is_none());
}
