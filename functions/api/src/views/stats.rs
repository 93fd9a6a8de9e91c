//! Statistics for admins: `GET /api/admin/stats` (users, payments, models, generations) and
//! `GET /api/admin/insights` (the journey funnel and ratings).

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::repo::{events, feedback, payments, stats};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GlobalStats {
    pub users_total: i64,
    pub users_today: i64,
    pub users_7_days: i64,
    pub paying_users: i64,
    pub tokens_sold: i64,
    pub tokens_spent: i64,
    pub models_by_status: Vec<StatusCount>,
    pub generations_today: i64,
    pub revenue: Vec<Revenue>,
    /// Revenue against Replicate's costs: today, 7 and 30 days, all time (`days` null).
    pub economics: Vec<super::costs::Period>,
}

impl From<stats::GlobalStats> for GlobalStats {
    fn from(s: stats::GlobalStats) -> Self {
        Self {
            users_total: s.users_total,
            users_today: s.users_today,
            users_7_days: s.users_7_days,
            paying_users: s.paying_users,
            tokens_sold: s.tokens_sold,
            tokens_spent: s.tokens_spent,
            models_by_status: super::from_rows(s.models_by_status),
            generations_today: s.generations_today,
            revenue: super::from_rows(s.revenue),
            economics: super::from_rows(s.economics),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

from_row!(stats::StatusCount => StatusCount { status, count });

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Revenue {
    pub currency: String,
    pub amount: i64,
    pub payments: i64,
    pub tokens: i64,
}

from_row!(payments::Revenue => Revenue { currency, amount, payments, tokens });

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Insights {
    /// Distinct users started -> trained -> generated -> paid, for today, 7 and 30 days.
    pub funnels: Vec<Funnel>,
    pub ratings_by_style: Vec<StyleRating>,
    pub recent_low_ratings: Vec<LowRating>,
}

/// Distinct users at each step of the funnel within a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Funnel {
    pub days: i32,
    pub started: i64,
    /// Got a ready model.
    pub trained: i64,
    /// Got generated photos delivered.
    pub generated: i64,
    pub paid: i64,
}

from_row!(events::Funnel => Funnel { days, started, trained, generated, paid });

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StyleRating {
    /// `None`: generations without a style.
    pub style: Option<String>,
    pub average: f64,
    pub ratings: i64,
}

from_row!(feedback::StyleRating => StyleRating { style, average, ratings });

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LowRating {
    pub generation_id: i64,
    pub user_id: i64,
    pub rating: i16,
    pub comment: Option<String>,
    pub style: Option<String>,
    pub prompt: String,
    pub at: DateTime<Utc>,
}

from_row!(feedback::LowRating => LowRating {
    generation_id, user_id, rating, comment, style, prompt, at,
});
