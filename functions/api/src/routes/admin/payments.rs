//! Every payment (`GET /api/admin/payments`), and refunding a Stars payment
//! (`POST /api/admin/payments/{charge_id}/refund`).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use shared::repo::payments;

use axum::http::StatusCode;
use serde_json::json;
use shared::usecases::refunds::{self, Refused};

use crate::auth::AdminUser;
use crate::error::{check_text, ApiResult, Error, Path, Query};
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AdminErrors, Invalid, RefundRefused};
use crate::routing::{routes, ApiRouter};
use crate::views::payments::{Payment, PaymentRefund};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_all_payments))
        .routes(routes!(refund_payment))
}

/// Every payment, newest first.
#[utoipa::path(get, path = "/api/admin/payments", tag = "admin", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of payments", body = Paginated<Payment>), AdminErrors, Invalid))]
async fn list_all_payments(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<Payment>>> {
    let page = params.page()?;
    let rows = payments::list_recent(&**state.conn().await?, page).await?;
    Ok(Json(Paginated::from_rows(rows, page, |p| p.id)))
}

/// Refunds a Telegram Stars payment, by its Telegram charge id: the tokens it bought are taken back
/// through the ledger (refused with 409 `tokens_spent` when the user has fewer left, and nothing
/// changes), Telegram is asked to refund it (`refundStarPayment`), and the user is told. Asking
/// again is refused (`already_refunded`, `refund_in_progress`); it is refunded once.
#[utoipa::path(post, path = "/api/admin/payments/{charge_id}/refund", tag = "admin", security(("tma" = [])),
    params(("charge_id" = String, Path, description = "The payment's `telegram_payment_charge_id`")),
    responses((status = 200, description = "The refund, done, pending at Telegram, or refused by it", body = PaymentRefund),
              AdminErrors, Invalid, RefundRefused))]
async fn refund_payment(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(charge_id): Path<String>,
) -> ApiResult<Json<PaymentRefund>> {
    check_text("charge_id", &charge_id)?;
    if charge_id.trim().is_empty() || charge_id.chars().count() > 256 {
        return Err(Error::invalid("charge_id", "must be 1 to 256 characters"));
    }
    let refund = refunds::refund(&state.services, admin.user.id, &charge_id).await?;
    let refund = refund.map_err(|refused| match refused {
        Refused::NotFound => Error::not_found("payment"),
        Refused::NotStars { currency } => Error::new(
            StatusCode::CONFLICT,
            "not_stars",
            format!("the payment was in {currency}; only Telegram Stars payments are refunded"),
        ),
        Refused::AlreadyRefunded => Error::new(
            StatusCode::CONFLICT,
            "already_refunded",
            "the payment is already refunded",
        ),
        Refused::InProgress => Error::new(
            StatusCode::CONFLICT,
            "refund_in_progress",
            "a refund of this payment is under way",
        ),
        Refused::Spent { balance, tokens } => Error::new(
            StatusCode::CONFLICT,
            "tokens_spent",
            format!("the payment bought {tokens} tokens, the user has {balance} left; nothing was refunded"),
        )
        .with_details(json!({"balance": balance, "tokens": tokens})),
    })?;
    tracing::info!(
        admin_id = admin.user.id,
        payment_id = refund.payment.id,
        "payment refund asked for"
    );
    Ok(Json(PaymentRefund::from(refund)))
}
