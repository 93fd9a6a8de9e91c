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
    pub status: String,
    pub created_at: DateTime<Utc>,
}

from_row!(payments::Payment => Payment {
    id, user_id, pack_id, amount, currency, tokens, status, created_at,
});
