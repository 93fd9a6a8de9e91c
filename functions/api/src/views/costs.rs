//! Revenue against Replicate's costs, in US dollars (`GET /api/admin/stats`, `GET /api/admin/costs`,
//! `GET /api/admin/users/{id}/costs`).

use chrono::NaiveDate;
use serde::Serialize;
use shared::repo::costs;
use utoipa::ToSchema;

/// Paid payments (at `REVENUE_USD_RATES`) against what Replicate's jobs cost (their run time at
/// `REPLICATE_HARDWARE_PRICES`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Economics {
    pub revenue_usd: f64,
    pub cost_usd: f64,
    /// Revenue less cost: negative when we lost money.
    pub margin_usd: f64,
    /// The jobs whose cost is counted.
    pub jobs: i64,
}

impl From<costs::Economics> for Economics {
    fn from(e: costs::Economics) -> Self {
        Self {
            revenue_usd: e.revenue_usd,
            cost_usd: e.cost_usd,
            margin_usd: e.margin_usd(),
            jobs: e.jobs,
        }
    }
}

/// The last `days` days, today included; all time when `days` is null.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Period {
    pub days: Option<i32>,
    #[serde(flatten)]
    pub economics: Economics,
}

impl From<costs::Period> for Period {
    fn from(p: costs::Period) -> Self {
        Self {
            days: p.days,
            economics: p.economics.into(),
        }
    }
}

/// One UTC day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Day {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub economics: Economics,
}

impl From<costs::Day> for Day {
    fn from(d: costs::Day) -> Self {
        Self {
            day: d.day,
            economics: d.economics.into(),
        }
    }
}
