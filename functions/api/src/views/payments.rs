//! Prices, token packs, invoices and payments (`GET /api/packs`, `POST /api/payments/invoice`, ...).

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::config;
use shared::domain::rules;
use shared::repo::payments;
use shared::services::Services;
use utoipa::ToSchema;

/// A pack of tokens for sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenPack {
    pub id: String,
    pub tokens: i64,
    /// In minor units of `currency` (stars for XTR, kopecks for RUB).
    pub price: i64,
    pub currency: String,
}

from_row!(config::TokenPack => TokenPack { id, tokens, price, currency });

impl TokenPack {
    /// The configured packs, in their order.
    pub fn all(services: &Services) -> Vec<Self> {
        super::from_rows(services.config.product.packs.clone())
    }
}

/// What things cost, in tokens, and the packs of tokens for sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Prices {
    /// Tokens a training costs.
    pub training_cost: i64,
    /// Tokens one generated image costs.
    pub generation_cost_per_image: i64,
    /// Tokens earned when someone invited pays for the first time.
    pub referral_bonus: i64,
    /// The currency of the packs' prices (`XTR`: Telegram Stars).
    pub currency: String,
    pub packs: Vec<TokenPack>,
}

impl Prices {
    pub fn of(services: &Services) -> Self {
        let product = &services.config.product;
        Self {
            training_cost: rules::training_cost(product),
            generation_cost_per_image: rules::generation_cost(product, 1),
            referral_bonus: product.referral_bonus,
            currency: product.currency.clone(),
            packs: TokenPack::all(services),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invoice {
    /// The invoice link (`https://t.me/$...`), for `Telegram.WebApp.openInvoice`.
    pub url: String,
    pub pack_id: String,
    pub tokens: i64,
    /// What the user pays, in minor units of `currency` (after a promo discount, if they have one).
    pub price: i64,
    pub currency: String,
    pub discount_percent: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: i64,
    pub user_id: i64,
    pub pack_id: String,
    /// In minor units of `currency` (kopecks, cents; stars for XTR).
    pub amount: i64,
    pub currency: String,
    pub tokens: i64,
    /// `paid`, `disputed` (nothing credited), `refund_pending`, or `refunded`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub refunded_at: Option<DateTime<Utc>>,
}

from_row!(payments::Payment => Payment {
    id, user_id, pack_id, amount, currency, tokens, status, created_at, refunded_at,
});

/// Where an admin's refund of a Stars payment stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Telegram refunded it.
    Refunded,
    /// Telegram has not confirmed yet; it is asked again until it does.
    Pending,
    /// Telegram refused: the tokens are back with the user, the payment stands.
    Refused,
}

/// A refund asked for: the payment as it is now, what was taken back, and the user's balance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentRefund {
    pub payment: Payment,
    pub state: RefundState,
    /// Why Telegram refused, when it did.
    pub error: Option<String>,
    /// The tokens the payment bought, taken back (returned again when refused).
    pub tokens: i64,
    /// The user's balance now.
    pub balance: i64,
}

impl From<shared::usecases::refunds::Refund> for PaymentRefund {
    fn from(refund: shared::usecases::refunds::Refund) -> Self {
        use shared::usecases::refunds::RefundState as State;
        let (state, error) = match refund.state {
            State::Refunded => (RefundState::Refunded, None),
            State::Pending => (RefundState::Pending, None),
            State::Refused { error } => (RefundState::Refused, Some(error)),
        };
        Self {
            payment: refund.payment.into(),
            state,
            error,
            tokens: refund.tokens_taken,
            balance: refund.balance,
        }
    }
}
