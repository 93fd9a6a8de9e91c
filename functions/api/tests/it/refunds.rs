//! Refunding a Telegram Stars payment through the admin API: the tokens taken back, Telegram asked
//! once, the user told; refused (nothing changes) when the tokens are spent.

use crate::app::{fixtures, App, ADMIN_ID};
use axum::http::StatusCode;
use serde_json::json;
use shared::usecases::payments::{credit, ConfirmedPayment};

/// User `user_id` buys the small pack (100 tokens for 150 Stars) with charge `charge`.
async fn paid(app: &App, user_id: i64, charge: &str) {
    let payment = ConfirmedPayment {
        user_id,
        currency: "XTR",
        total: 150,
        payload: "pack:small:100:150",
        telegram_charge_id: charge,
        provider_charge_id: "",
    };
    credit(&app.services, &payment).await.unwrap().unwrap();
}

#[tokio::test]
async fn an_admin_refunds_a_stars_payment_once_and_not_when_its_tokens_are_spent() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), 5, 0).await;
    paid(&app, 5, "ch-a").await;
    assert_eq!(app.balance(5).await, 100);

    // Not an admin's to ask.
    let refused = app.post_empty("/api/admin/payments/ch-a/refund", 5).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");

    let done = app
        .post_empty("/api/admin/payments/ch-a/refund", ADMIN_ID)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    assert_eq!(done.body["state"], "refunded");
    assert_eq!(done.body["tokens"], 100);
    assert_eq!(done.body["balance"], 0);
    assert_eq!(done.body["payment"]["status"], "refunded");
    assert!(done.body["payment"]["refunded_at"].is_string());
    assert_eq!(app.balance(5).await, 0);
    let asked = app.env.telegram.calls_of("refundStarPayment");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (
            asked[0].body["user_id"].clone(),
            asked[0].body["telegram_payment_charge_id"].clone()
        ),
        (json!(5), json!("ch-a"))
    );
    assert!(app
        .env
        .telegram
        .last_text_to(5)
        .unwrap()
        .contains("was refunded"));

    let again = app
        .post_empty("/api/admin/payments/ch-a/refund", ADMIN_ID)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "already_refunded");
    let unknown = app
        .post_empty("/api/admin/payments/nope/refund", ADMIN_ID)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Spent: 30 of another payment's 100 tokens go to a generation; the refund is refused.
    paid(&app, 5, "ch-b").await;
    let conn = app.db().conn().await.unwrap();
    shared::repo::ledger::apply(
        &**conn,
        &shared::repo::ledger::Change {
            user_id: 5,
            delta: -30,
            reason: shared::repo::ledger::Reason::Generation,
            reference: "generation:1",
            note: None,
        },
    )
    .await
    .unwrap();
    drop(conn);
    let spent = app
        .post_empty("/api/admin/payments/ch-b/refund", ADMIN_ID)
        .await;
    assert_eq!(spent.status, StatusCode::CONFLICT, "{spent:?}");
    assert_eq!(spent.code(), "tokens_spent");
    assert_eq!(
        spent.body["error"]["details"],
        json!({"balance": 70, "tokens": 100})
    );
    assert_eq!(app.balance(5).await, 70, "nothing changed");
    assert_eq!(app.env.telegram.calls_of("refundStarPayment").len(), 1);
}
