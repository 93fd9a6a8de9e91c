//! What the tests read from the API's answers, as typed views (test-side: a field the API drops or
//! renames fails the test that reads it). Absence checks (what must not be shown) read the raw JSON.

use serde::Deserialize;
use serde_json::Value;

/// Every error answer: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: Value,
}

impl ErrorBody {
    /// The input field the error is about (`details.field`), or "".
    pub fn field(&self) -> &str {
        self.details["field"].as_str().unwrap_or_default()
    }

    /// `details.reason`, or "".
    pub fn reason(&self) -> &str {
        self.details["reason"].as_str().unwrap_or_default()
    }

    /// `details.retry_after` of a rate-limited answer.
    pub fn retry_after(&self) -> i64 {
        self.details["retry_after"]
            .as_i64()
            .expect("details.retry_after")
    }
}

/// A page of a list: `{"items", "next_cursor"}`.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<i64>,
}

/// Something listed by id.
pub trait Identified {
    fn id(&self) -> i64;
}

impl<T: Identified> Page<T> {
    pub fn ids(&self) -> Vec<i64> {
        self.items.iter().map(Identified::id).collect()
    }
}

macro_rules! identified {
    ($($view:ty),*) => {
        $(impl Identified for $view {
            fn id(&self) -> i64 {
                self.id
            }
        })*
    };
}
identified!(ModelView, GenerationView, Profile, StyleView);

#[derive(Debug, Deserialize)]
pub struct ModelView {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub photo_count: i64,
    pub cost_tokens: i64,
    pub preview_url: Option<String>,
}

/// `DELETE /api/models/{id}`.
#[derive(Debug, Deserialize)]
pub struct ModelDeletion {
    pub model: ModelView,
    pub photos_removed: i64,
    pub version_deleted: bool,
    pub training_canceled: bool,
    pub refunded: i64,
}

#[derive(Debug, Deserialize)]
pub struct GenerationView {
    pub id: i64,
    pub status: String,
    pub prompt: String,
    pub num_images: i64,
    pub cost_tokens: i64,
    pub style_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Profile {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub tokens_left: i64,
    pub is_blocked: bool,
    pub referred_by: Option<i64>,
}

/// A user's balance after an admin's change.
#[derive(Debug, Deserialize)]
pub struct Balance {
    pub user_id: i64,
    pub tokens_left: i64,
}

/// `GET /api/me`.
#[derive(Debug, Deserialize)]
pub struct Me {
    pub profile: Profile,
    pub language: String,
    pub language_chosen: bool,
    pub is_admin: bool,
    pub referral_link: Option<String>,
    pub prices: Prices,
}

#[derive(Debug, Deserialize)]
pub struct Prices {
    pub training_cost: i64,
    pub generation_cost_per_image: i64,
    pub currency: String,
    pub packs: Vec<Pack>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct Pack {
    pub id: String,
    pub tokens: i64,
    pub price: i64,
    pub currency: String,
}

impl Pack {
    pub fn xtr(id: &str, tokens: i64, price: i64) -> Self {
        Self {
            id: id.to_owned(),
            tokens,
            price,
            currency: "XTR".to_owned(),
        }
    }
}

/// `GET /api/referrals`.
#[derive(Debug, Deserialize)]
pub struct Referrals {
    pub code: String,
    pub link: String,
    pub stats: ReferralStats,
    pub bonus_tokens_per_referral: i64,
}

#[derive(Debug, Deserialize)]
pub struct ReferralStats {
    pub joined: i64,
    pub paid: i64,
}

/// A style as users see it, with what admins see besides.
#[derive(Debug, Deserialize)]
pub struct StyleView {
    pub id: i64,
    pub name: String,
    pub tags: Vec<String>,
    pub gender: Option<String>,
    pub is_active: Option<bool>,
    pub lora_scale: Option<f64>,
    pub prompt_template: Option<String>,
}

/// `POST /api/payments/invoice`.
#[derive(Debug, Deserialize)]
pub struct Invoice {
    pub url: String,
    pub price: i64,
    pub tokens: i64,
}

#[derive(Debug, Deserialize)]
pub struct PaymentView {
    pub amount: i64,
    pub user_id: Option<i64>,
}

/// `GET /api/admin/stats`.
#[derive(Debug, Deserialize)]
pub struct Stats {
    pub users_total: i64,
    pub revenue: Vec<Revenue>,
    pub economics: Vec<Economics>,
}

/// Revenue against Replicate's costs: in `GET /api/admin/stats` (with `days`), `GET /api/admin/costs`
/// (with `day`) and `GET /api/admin/users/{id}/costs`.
#[derive(Debug, Deserialize, PartialEq)]
pub struct Economics {
    #[serde(default)]
    pub days: Option<i32>,
    #[serde(default)]
    pub day: Option<chrono::NaiveDate>,
    pub revenue_usd: f64,
    pub cost_usd: f64,
    pub margin_usd: f64,
    pub jobs: i64,
}

#[derive(Debug, Deserialize)]
pub struct Revenue {
    pub amount: i64,
}

/// `DELETE /api/me`: what was erased.
#[derive(Debug, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Erasure {
    pub photos: i64,
    pub models: i64,
    pub generations: i64,
    pub feedback: i64,
    pub profile: bool,
    pub trainings_canceled: i64,
    pub predictions_canceled: i64,
    pub versions_deleted: i64,
    pub files_deleted: i64,
    pub refunded: i64,
}

/// `GET /health`.
#[derive(Debug, Deserialize)]
pub struct Health {
    pub status: String,
    pub database: HealthCheck,
}

#[derive(Debug, Deserialize)]
pub struct HealthCheck {
    pub status: String,
}

#[derive(Debug, Deserialize)]
pub struct Promo {
    pub code: String,
    pub max_uses: Option<i64>,
    pub used_count: i64,
}

/// `GET /api/admin/insights`.
#[derive(Debug, Deserialize)]
pub struct Insights {
    pub recent_low_ratings: Vec<LowRating>,
    pub funnels: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct LowRating {
    pub comment: Option<String>,
}

/// A model offered to everyone.
#[derive(Debug, Deserialize)]
pub struct SystemModel {
    pub id: i64,
}

/// An entry of the admins' audit log.
#[derive(Debug, Deserialize)]
pub struct AuditEntry {
    pub action: String,
}

/// `GET /api/admin/admins`.
#[derive(Debug, Deserialize)]
pub struct Admins {
    pub owners: Vec<i64>,
    pub admins: Vec<Value>,
}
