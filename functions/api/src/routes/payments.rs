//! Buying tokens: `POST /api/payments/invoice` (a Telegram invoice link for a pack, which the Mini
//! App opens with `Telegram.WebApp.openInvoice`), `GET /api/payments`. The payment itself arrives
//! at the bot's webhook and is credited there, once.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json as JsonResponse;
use serde::Deserialize;
use shared::notify::texts;
use shared::repo::payments;
use shared::usecases::payments as payment_service;
use teloxide_core::payloads::CreateInvoiceLinkSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::LabeledPrice;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{check_text, ApiResult, Error, Json, Query};
use crate::idempotency::IdempotencyKey;
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AuthErrors, Invalid, JsonBody, RateLimited, Upstream};
use crate::routing::{routes, ApiRouter};
use crate::views::payments::{Invoice, Payment};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(create_invoice))
        .routes(routes!(list_payments))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InvoiceRequest {
    /// A pack id from `GET /api/packs`.
    pub pack_id: String,
}

/// A Telegram invoice link for a token pack (Telegram Stars, or the configured provider's currency).
#[utoipa::path(post, path = "/api/payments/invoice", tag = "payments", security(("tma" = [])),
    params(IdempotencyKey),
    request_body = InvoiceRequest,
    responses((status = 200, description = "The invoice link", body = Invoice),
              AuthErrors, JsonBody, Invalid, RateLimited, Upstream))]
async fn create_invoice(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Json(body): Json<InvoiceRequest>,
) -> ApiResult<JsonResponse<Invoice>> {
    let services = &state.services;
    check_text("pack_id", &body.pack_id)?;
    if services.config.product.pack(&body.pack_id).is_none() {
        return Err(Error::invalid(
            "pack_id",
            "no such pack; see GET /api/packs",
        ));
    }
    let telegram = services.telegram()?;
    crate::limits::enforce(&state, caller.user.id, &state.limits.invoice).await?;
    let plan = payment_service::plan_invoice(services, caller.user.id, &body.pack_id).await?;
    let t = texts(shared::notify::lang_of(&caller.user));
    let pack = &plan.pack;
    let price = u32::try_from(plan.price)
        .map_err(|_| Error::invalid("pack_id", "the pack's price is out of Telegram's range"))?;
    let mut request = telegram.bot.create_invoice_link(
        t.invoice_title(pack.tokens),
        t.invoice_description(pack.tokens),
        plan.payload.clone(),
        pack.currency.clone(),
        vec![LabeledPrice::new(t.invoice_title(pack.tokens), price)],
    );
    // Stars need no provider token; other currencies go through the configured provider.
    if let Some(token) = &services.config.product.provider_token {
        request = request.provider_token(token.expose().to_owned());
    }
    let url = telegram.call(request).await?;
    Ok(JsonResponse(Invoice {
        url,
        pack_id: pack.id.clone(),
        tokens: pack.tokens,
        price: plan.price,
        currency: pack.currency.clone(),
        discount_percent: plan.discount_percent,
    }))
}

/// The caller's payments, newest first.
#[utoipa::path(get, path = "/api/payments", tag = "payments", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of the caller's payments", body = Paginated<Payment>),
              AuthErrors, Invalid))]
async fn list_payments(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Query(params): Query<PageParams>,
) -> ApiResult<JsonResponse<Paginated<Payment>>> {
    let page = params.page()?;
    let rows = payments::list_for_user(&**state.conn().await?, caller.user.id, page).await?;
    Ok(JsonResponse(Paginated::from_rows(rows, page, |p| p.id)))
}
