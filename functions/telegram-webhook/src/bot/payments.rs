//! Buying tokens: `/buy` lists the packs, a pack's button sends the invoice (Telegram Stars by
//! default), the pre-checkout query is answered at once, and a successful payment credits the tokens
//! exactly once (keyed by Telegram's charge id).

use shared::notify;
use shared::repo::promos;
use shared::telegram::Telegram;
use shared::usecases::payments::{self, CheckoutRefusal, ConfirmedPayment};
use shared::usecases::promo::Redeemed;
use teloxide_core::payloads::{AnswerPreCheckoutQuerySetters, SendInvoiceSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    ChatId, LabeledPrice, PreCheckoutQuery, RefundedPayment, SuccessfulPayment,
};

use super::{keyboards, texts, BotError, Ctx, Lang};
use crate::State;

/// The packs, priced for this user (a pending promo discount lowers every price).
pub async fn offer(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let discount = promos::pending_discount(&**db.conn().await?, ctx.user.id).await?;
    let mut packs = ctx.config().product.packs.clone();
    let mut text = t.buy_header.to_owned();
    if let Some(d) = discount {
        for pack in &mut packs {
            pack.price = shared::usecases::promo::discounted(pack, d.percent);
        }
        text.push('\n');
        text.push_str(&t.discount_note(d.percent));
    }
    ctx.reply(text, Some(keyboards::packs(t, &packs))).await?;
    Ok(())
}

/// `/promo CODE`
pub async fn redeem_promo(ctx: &Ctx<'_>, code: &str) -> Result<(), BotError> {
    let t = ctx.t();
    if code.is_empty() {
        return ctx.finish_with(t.promo_usage, None);
    }
    let outcome =
        shared::usecases::promo::redeem(ctx.services(), ctx.user.id, code, chrono::Utc::now())
            .await?;
    let text = match outcome {
        Ok(Redeemed::Tokens { tokens, balance }) => t.promo_tokens(tokens, balance),
        Ok(Redeemed::Discount { percent }) => t.promo_discount(percent),
        Err(refusal) => t.promo_refused(refusal),
    };
    ctx.finish_with(text, None)
}

pub async fn send_invoice(ctx: &Ctx<'_>, pack_id: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let plan = match payments::plan_invoice(ctx.services(), ctx.user.id, pack_id).await {
        Ok(plan) => plan,
        Err(shared::usecases::ServiceError::NotFound(_)) => {
            ctx.reply(t.checkout_unknown_pack, None).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let pack = &plan.pack;
    let invoice = notify::texts(ctx.lang);
    let mut request = ctx.telegram().bot.send_invoice(
        ChatId(ctx.user.id),
        invoice.invoice_title(pack.tokens),
        invoice.invoice_description(pack.tokens),
        plan.payload.clone(),
        pack.currency.clone(),
        vec![LabeledPrice::new(
            invoice.invoice_title(pack.tokens),
            plan.price as u32,
        )],
    );
    // Stars need an empty provider token; other currencies go through the configured provider.
    if let Some(token) = &ctx.config().product.provider_token {
        request = request.provider_token(token.expose().to_owned());
    }
    let result = ctx.telegram().call(request).await;
    match result {
        Ok(_) | Err(shared::telegram::TelegramError::Blocked) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Telegram waits at most 10 seconds for this answer: one read, then the answer.
pub async fn pre_checkout(
    state: &State,
    telegram: &Telegram,
    query: &PreCheckoutQuery,
) -> Result<(), BotError> {
    let user_id = query.from.id.0 as i64;
    let decision = payments::check_checkout(
        &state.services,
        user_id,
        &query.invoice_payload,
        &query.currency,
        i64::from(query.total_amount),
    )
    .await?;
    let request = match decision {
        Ok(()) => telegram
            .bot
            .answer_pre_checkout_query(query.id.clone(), true),
        Err(refusal) => {
            // The refusal in the language they chose (a second read, on this rare path only).
            let chosen = {
                let db = state.services.db();
                let conn = db.conn().await?;
                shared::repo::users::get(&**conn, user_id).await?
            };
            let t = texts(chosen.as_ref().map_or_else(
                || Lang::from_code(query.from.language_code.as_deref()),
                notify::lang_of,
            ));
            let reason = match refusal {
                CheckoutRefusal::Blocked => t.blocked,
                CheckoutRefusal::UnknownPack => t.checkout_unknown_pack,
            };
            telegram
                .bot
                .answer_pre_checkout_query(query.id.clone(), false)
                .error_message(reason)
        }
    };
    telegram.call(request).await?;
    Ok(())
}

pub async fn successful(ctx: &Ctx<'_>, payment: &SuccessfulPayment) -> Result<(), BotError> {
    let confirmed = ConfirmedPayment {
        user_id: ctx.user.id,
        currency: &payment.currency,
        total: i64::from(payment.total_amount),
        payload: &payment.invoice_payload,
        telegram_charge_id: &payment.telegram_payment_charge_id.0,
        provider_charge_id: &payment.provider_payment_charge_id,
    };
    // The thanks, the referrer's bonus notice and the admins' notice are effects of the credit.
    if payments::credit(ctx.services(), &confirmed)
        .await?
        .is_none()
    {
        tracing::info!("payment already credited");
    }
    Ok(())
}

/// Telegram reports a refund (one we asked for, or one made elsewhere): handled once, whatever
/// Telegram repeats; the user and the admins are told by its effects.
pub async fn refunded(ctx: &Ctx<'_>, refunded: &RefundedPayment) -> Result<(), BotError> {
    let charge_id = &refunded.telegram_payment_charge_id.0;
    match shared::usecases::refunds::reported(ctx.services(), ctx.user.id, charge_id).await? {
        shared::usecases::refunds::Reported::Refunded { taken } => {
            tracing::info!(taken, "a refund Telegram reported is recorded");
        }
        shared::usecases::refunds::Reported::Unchanged => {
            tracing::info!("a refund Telegram reported was recorded already");
        }
    }
    Ok(())
}
