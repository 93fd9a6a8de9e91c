//! Refunding Telegram Stars payments through the bot: an admin's `/admin_refund`, the tokens taken
//! back through the ledger (or the refund refused when they are spent), Telegram refusing, and the
//! `refunded_payment` messages Telegram sends. Updates in, Bot API calls out.

use crate::app::App;
use shared::repo::ledger::{self, Change, Reason};
use shared::repo::payments::{self, Payment};
use shared::repo::Page;
use testkit::updates::{self, TgUser};
use testkit::{ADMIN_ID, WEBHOOK_SECRET};

/// Bob starts and buys the small pack (100 tokens for 150 Stars) with charge `charge`.
async fn bob_paid(app: &App, update_id: i64, charge: &str) -> TgUser {
    let bob = TgUser::new(7, "Bob");
    app.send(&updates::text(update_id, &bob, "/start")).await;
    app.send(&updates::successful_payment(
        update_id + 1,
        &bob,
        "XTR",
        150,
        "pack:small:100:150",
        charge,
    ))
    .await;
    bob
}

async fn admin_says(app: &App, update_id: i64, text: &str) -> String {
    let owner = TgUser::new(ADMIN_ID, "Boss");
    app.send(&updates::text(update_id, &owner, text)).await;
    app.last_text(ADMIN_ID)
}

async fn balance(app: &App, user_id: i64) -> i64 {
    let user = app.user(user_id).await.unwrap();
    let conn = app.env.db().conn().await.unwrap();
    let sum = ledger::sum(&**conn, user_id).await.unwrap();
    assert_eq!(sum, user.tokens_left, "the balance is the ledger's sum");
    user.tokens_left
}

async fn payment(app: &App, user_id: i64, charge: &str) -> Payment {
    let conn = app.env.db().conn().await.unwrap();
    payments::list_for_user(&**conn, user_id, Page::first(10))
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.telegram_charge_id == charge)
        .expect("the payment")
}

/// Bob spends `tokens` (as a generation would).
async fn spend(app: &App, user_id: i64, tokens: i64) {
    let conn = app.env.db().conn().await.unwrap();
    ledger::apply(
        &**conn,
        &Change {
            user_id,
            delta: -tokens,
            reason: Reason::Generation,
            reference: "generation:1",
            note: None,
        },
    )
    .await
    .unwrap();
}

fn refunds_asked(app: &App) -> Vec<(i64, String)> {
    app.env
        .telegram
        .calls_of("refundStarPayment")
        .iter()
        .map(|c| {
            (
                c.body["user_id"].as_i64().unwrap(),
                c.body["telegram_payment_charge_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn told_refunded(app: &App, user_id: i64) -> usize {
    app.texts(user_id)
        .iter()
        .filter(|t| t.contains("was refunded"))
        .count()
}

/// The refund of `charge-1` took back the `left` tokens there were of its 100: the balance is 0,
/// the payment refunded, the buyer told once, and the admins hear of the shortfall.
async fn assert_took_back_what_was_left(app: &App, user_id: i64, left: i64) {
    assert_eq!(balance(app, user_id).await, 0, "the {left} left are taken");
    assert_eq!(payment(app, user_id, "charge-1").await.status, "refunded");
    assert_eq!(told_refunded(app, user_id), 1);
    let shortfall = format!("только {left} из 100");
    assert!(
        app.texts(ADMIN_ID).iter().any(|t| t.contains(&shortfall)),
        "the admins hear of the shortfall: {:?}",
        app.texts(ADMIN_ID)
    );
}

#[tokio::test]
async fn an_admin_refunds_a_stars_payment_once_however_often_asked() {
    let app = App::spawn().await;
    let bob = bob_paid(&app, 1, "charge-1").await;
    assert_eq!(balance(&app, bob.id).await, 100);

    let reply = admin_says(&app, 10, "/admin_refund charge-1").await;
    assert!(reply.contains("refunded: 100 tokens taken back"), "{reply}");
    assert_eq!(refunds_asked(&app), vec![(bob.id, "charge-1".to_owned())]);
    assert_eq!(balance(&app, bob.id).await, 0);
    assert_eq!(payment(&app, bob.id, "charge-1").await.status, "refunded");
    assert_eq!(told_refunded(&app, bob.id), 1, "Bob is told");
    assert!(app
        .texts(ADMIN_ID)
        .iter()
        .any(|t| t.contains("возвращена администратором")));

    // Asked again, and Telegram's own report of the refund (twice): nothing more.
    let again = admin_says(&app, 11, "/admin_refund charge-1").await;
    assert!(again.contains("already refunded"), "{again}");
    let report = updates::refunded_payment(12, &bob, 150, "pack:small:100:150", "charge-1");
    app.send(&report).await;
    app.send(&report).await;
    app.send(&updates::refunded_payment(
        13,
        &bob,
        150,
        "pack:small:100:150",
        "charge-1",
    ))
    .await;
    assert_eq!(refunds_asked(&app).len(), 1);
    assert_eq!(balance(&app, bob.id).await, 0);
    assert_eq!(told_refunded(&app, bob.id), 1);

    // Two admins' commands at once for another payment: refunded once.
    app.send(&updates::successful_payment(
        20,
        &bob,
        "XTR",
        150,
        "pack:small:100:150",
        "charge-2",
    ))
    .await;
    let owner = TgUser::new(ADMIN_ID, "Boss");
    let first = updates::text(21, &owner, "/admin_refund charge-2");
    let second = updates::text(22, &owner, "/admin_refund charge-2");
    let (a, b) = tokio::join!(
        app.post_to(0, &first, Some(WEBHOOK_SECRET)),
        app.post_to(1, &second, Some(WEBHOOK_SECRET)),
    );
    assert!(a.0.is_success() && b.0.is_success());
    assert_eq!(refunds_asked(&app).len(), 2, "charge-2 refunded once");
    assert_eq!(balance(&app, bob.id).await, 0);
    assert_eq!(payment(&app, bob.id, "charge-2").await.status, "refunded");
}

#[tokio::test]
async fn a_refund_of_tokens_already_spent_is_refused_and_changes_nothing() {
    let app = App::spawn().await;
    let bob = bob_paid(&app, 1, "charge-1").await;
    spend(&app, bob.id, 60).await;

    let reply = admin_says(&app, 10, "/admin_refund charge-1").await;
    assert!(reply.contains("bought 100 tokens"), "{reply}");
    assert!(reply.contains("only 40 left"), "{reply}");
    assert!(refunds_asked(&app).is_empty());
    assert_eq!(balance(&app, bob.id).await, 40);
    let unchanged = payment(&app, bob.id, "charge-1").await;
    assert_eq!(
        (unchanged.status.as_str(), unchanged.refund_attempts),
        ("paid", 0)
    );
    assert_eq!(told_refunded(&app, bob.id), 0);

    // An unknown charge and no charge at all are explained.
    let unknown = admin_says(&app, 11, "/admin_refund nope").await;
    assert!(unknown.contains("No payment"), "{unknown}");
    let usage = admin_says(&app, 12, "/admin_refund").await;
    assert!(usage.contains("Usage: /admin_refund"), "{usage}");
    // Not an admin: an unknown command.
    let told = app.says(13, &bob, "/admin_refund charge-1").await;
    assert!(!told.contains("refund"), "{told}");
    assert!(refunds_asked(&app).is_empty());
}

#[tokio::test]
async fn telegram_refusing_a_refund_gives_the_tokens_back_and_tells_the_admin() {
    let app = App::spawn().await;
    let bob = bob_paid(&app, 1, "charge-1").await;
    app.env.telegram.fail_next(
        "refundStarPayment",
        400,
        "Bad Request: CHARGE_NOT_FOUND",
        None,
    );

    let reply = admin_says(&app, 10, "/admin_refund charge-1").await;
    assert!(reply.contains("Telegram refused"), "{reply}");
    assert!(reply.contains("CHARGE_NOT_FOUND"), "{reply}");
    assert_eq!(balance(&app, bob.id).await, 100, "the tokens are back");
    let stands = payment(&app, bob.id, "charge-1").await;
    assert_eq!(stands.status, "paid");
    assert!(stands
        .refund_error
        .as_deref()
        .is_some_and(|e| e.contains("CHARGE_NOT_FOUND")));
    assert!(app
        .texts(ADMIN_ID)
        .iter()
        .any(|t| t.contains("отказал в возврате")));
    assert_eq!(told_refunded(&app, bob.id), 0);

    // Asked again once Telegram takes it: refunded (a second attempt, its own ledger rows).
    let reply = admin_says(&app, 11, "/admin_refund charge-1").await;
    assert!(reply.contains("refunded: 100 tokens"), "{reply}");
    assert_eq!(refunds_asked(&app).len(), 2);
    assert_eq!(balance(&app, bob.id).await, 0);
    assert_eq!(told_refunded(&app, bob.id), 1);
}

#[tokio::test]
async fn a_refund_telegram_reports_takes_back_what_is_left_once() {
    let app = App::spawn().await;
    let bob = bob_paid(&app, 1, "charge-1").await;
    spend(&app, bob.id, 60).await;

    let report = updates::refunded_payment(10, &bob, 150, "pack:small:100:150", "charge-1");
    app.send(&report).await;
    assert_took_back_what_was_left(&app, bob.id, 40).await;

    // Redelivered, and reported again under another update: nothing more.
    app.send(&report).await;
    app.send(&updates::refunded_payment(
        11,
        &bob,
        150,
        "pack:small:100:150",
        "charge-1",
    ))
    .await;
    assert_eq!(balance(&app, bob.id).await, 0);
    assert_eq!(told_refunded(&app, bob.id), 1);
    assert!(
        refunds_asked(&app).is_empty(),
        "Telegram refunded it itself"
    );
    let again = admin_says(&app, 12, "/admin_refund charge-1").await;
    assert!(again.contains("already refunded"), "{again}");
}

#[tokio::test]
async fn a_refund_telegram_keeps_failing_is_asked_until_it_answers_never_dropped() {
    let app = App::spawn().await;
    let bob = bob_paid(&app, 1, "charge-1").await;
    for _ in 0..10 {
        app.env.telegram.outage_next("refundStarPayment");
    }
    let reply = admin_says(&app, 10, "/admin_refund charge-1").await;
    assert!(reply.contains("not confirmed"), "{reply}");
    assert_eq!(balance(&app, bob.id).await, 0, "the tokens are taken back");

    // Telegram has failed for as long as any effect is tried: the refund is still asked for, since
    // giving up would leave the tokens taken with no refund (and crediting them back could pay
    // twice, if one of the failed calls did refund).
    testkit::fixtures::rewrite_rows(
        app.env.db(),
        "UPDATE effects SET attempts = $1 WHERE kind = 'refund_star_payment'",
        &[&shared::effects::MAX_ATTEMPTS],
    )
    .await;
    testkit::fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 100).await.unwrap();
    let waiting = testkit::fixtures::unsettled_effects(app.env.db()).await;
    assert_eq!(waiting.len(), 1, "still to be asked: {waiting:?}");
    assert_eq!(
        payment(&app, bob.id, "charge-1").await.status,
        "refund_pending"
    );

    // Telegram answers again: refunded, the user told.
    app.env.telegram.clear_scripts("refundStarPayment");
    testkit::fixtures::make_effects_due(app.env.db()).await;
    shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(payment(&app, bob.id, "charge-1").await.status, "refunded");
    assert_eq!(told_refunded(&app, bob.id), 1);
    assert_eq!(balance(&app, bob.id).await, 0);
}

#[tokio::test]
async fn a_refund_telegram_reports_while_the_buyer_spends_takes_back_what_is_left_after_it() {
    let app = App::spawn().await;
    let bob = bob_paid(&app, 1, "charge-1").await;
    spend(&app, bob.id, 60).await;

    // A generation's debit of 30 is written but not yet committed when the report comes in.
    let mut conn = app.env.db().conn().await.unwrap();
    let spending = conn.transaction().await.unwrap();
    ledger::apply(
        &*spending,
        &Change {
            user_id: bob.id,
            delta: -30,
            reason: Reason::Generation,
            reference: "generation:2",
            note: None,
        },
    )
    .await
    .unwrap();
    let report = updates::refunded_payment(10, &bob, 150, "pack:small:100:150", "charge-1");
    let commit_once_the_report_waits = async {
        testkit::fixtures::wait_for_a_lock_wait(app.env.db()).await;
        spending.commit().await.unwrap();
    };
    tokio::join!(app.send(&report), commit_once_the_report_waits);

    assert_took_back_what_was_left(&app, bob.id, 10).await;
}
