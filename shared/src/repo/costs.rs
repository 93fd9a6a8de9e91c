//! What Replicate's jobs cost us against what people paid, in US dollars: each job's cost recorded
//! once, and the margins of a user, of the last days and of each day.
//!
//! Revenue is the paid (not refunded, not disputed) payments, each converted at its currency's rate;
//! a currency with no rate is left out. Days are UTC days.

use chrono::NaiveDate;

use super::{
    fetch_all, fetch_one, fetch_value_opt, float8, int4, int8, text, DbError, GenericClient,
};
use super::{Param, Type};

/// A job whose cost is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostKind {
    Training,
    Generation,
}

impl CostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CostKind::Training => "training",
            CostKind::Generation => "generation",
        }
    }
}

/// A finished job's run on Replicate's hardware.
#[derive(Debug, Clone, PartialEq)]
pub struct JobCost<'a> {
    /// Replicate's id of the training or prediction.
    pub replicate_id: &'a str,
    pub user_id: i64,
    pub kind: CostKind,
    pub model_id: Option<i64>,
    pub generation_id: Option<i64>,
    pub hardware: &'a str,
    pub seconds: f64,
    pub usd_per_second: f64,
}

/// What a unit of each currency is worth in US dollars, as SQL takes it (two arrays).
#[derive(Debug, Clone, PartialEq)]
pub struct UsdRates {
    currencies: Vec<String>,
    usd: Vec<f64>,
}

impl UsdRates {
    pub fn new(rates: &[(String, f64)]) -> Self {
        Self {
            currencies: rates.iter().map(|(c, _)| c.clone()).collect(),
            usd: rates.iter().map(|(_, r)| *r).collect(),
        }
    }

    fn params(&self) -> [Param<'_>; 2] {
        [
            (&self.currencies, Type::TEXT_ARRAY),
            (&self.usd, Type::FLOAT8_ARRAY),
        ]
    }
}

/// Revenue against cost, in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Economics {
    pub revenue_usd: f64,
    pub cost_usd: f64,
    /// The jobs whose cost is counted.
    pub jobs: i64,
}

impl Economics {
    pub fn margin_usd(&self) -> f64 {
        self.revenue_usd - self.cost_usd
    }
}

from_row!(Economics, |row| { revenue_usd, cost_usd, jobs });

/// The economics of the last `days` days (today included), or of all time (`days` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub days: Option<i32>,
    pub economics: Economics,
}

from_row!(Period, |row| {
    days,
    economics: Economics::from_row(row),
});

/// One UTC day's economics.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    pub economics: Economics,
}

from_row!(Day, |row| {
    day,
    economics: Economics::from_row(row),
});

/// The rates, `$1` and `$2` of every statement here, as a table.
const RATES: &str = "rates AS (SELECT * FROM unnest($1::text[], $2::float8[]) AS r(currency, usd))";

/// Revenue and cost from `since` (an SQL timestamp) on, as the columns [`Economics`] reads; `user`
/// adds a condition to both, `{t}` standing for the table.
fn economics_since(since: &str, user: &str) -> String {
    format!(
        "(SELECT COALESCE(sum(p.amount * r.usd), 0)::float8 FROM payments p JOIN rates r USING (currency)
           WHERE p.status = 'paid' AND p.created_at >= {since}{user_p}) AS revenue_usd,
         (SELECT COALESCE(sum(c.cost_usd), 0)::float8 FROM job_costs c
           WHERE c.recorded_at >= {since}{user_c}) AS cost_usd,
         (SELECT count(*) FROM job_costs c WHERE c.recorded_at >= {since}{user_c}) AS jobs",
        user_p = user.replace("{t}", "p"),
        user_c = user.replace("{t}", "c"),
    )
}

/// Midnight (UTC) of today.
const TODAY: &str = "(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')";

/// Records a finished job's cost, once (a result delivered again records nothing). When it was
/// new, returns today's margin with it counted, for the alarm on a day that loses money.
pub async fn record(
    db: &impl GenericClient,
    cost: &JobCost<'_>,
    rates: &UsdRates,
) -> Result<Option<f64>, DbError> {
    let [currencies, usd] = rates.params();
    let kind = cost.kind.as_str();
    let sql = format!(
        "WITH {RATES},
         new AS (
            INSERT INTO job_costs
                (replicate_id, user_id, kind, model_id, generation_id, hardware, seconds, usd_per_second)
            VALUES ($3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (replicate_id) DO NOTHING
            RETURNING cost_usd
         ),
         today AS (SELECT {})
         SELECT today.revenue_usd - today.cost_usd - new.cost_usd FROM today, new",
        economics_since(TODAY, "")
    );
    fetch_value_opt(
        db,
        &sql,
        &[
            currencies,
            usd,
            text(&cost.replicate_id),
            int8(&cost.user_id),
            text(&kind),
            int8(&cost.model_id),
            int8(&cost.generation_id),
            text(&cost.hardware),
            float8(&cost.seconds),
            float8(&cost.usd_per_second),
        ],
    )
    .await
}

/// Today, the last 7 and 30 days, and all time, in that order.
pub async fn periods(db: &impl GenericClient, rates: &UsdRates) -> Result<Vec<Period>, DbError> {
    let [currencies, usd] = rates.params();
    let since = format!(
        "CASE WHEN s.days IS NULL THEN '-infinity'::timestamptz
              ELSE {TODAY} - (s.days - 1) * interval '1 day' END"
    );
    let sql = format!(
        "WITH {RATES}
         SELECT s.days, {}
         FROM (VALUES (1), (7), (30), (NULL::int4)) AS s(days)
         ORDER BY s.days NULLS LAST",
        economics_since(&since, "")
    );
    fetch_all(db, &sql, &[currencies, usd]).await
}

/// The last `days` UTC days (today the last), each with its revenue and cost; a day with neither
/// is there with zeros.
pub async fn daily(
    db: &impl GenericClient,
    days: i32,
    rates: &UsdRates,
) -> Result<Vec<Day>, DbError> {
    let [currencies, usd] = rates.params();
    let sql = format!(
        "WITH {RATES},
         days AS (
            SELECT d::date AS day
            FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($3::int4 - 1),
                                 (now() AT TIME ZONE 'UTC')::date, interval '1 day') d
         ),
         since AS (SELECT (min(day)::timestamp AT TIME ZONE 'UTC') AS t FROM days),
         revenue AS (
            SELECT (p.created_at AT TIME ZONE 'UTC')::date AS day, sum(p.amount * r.usd) AS usd
            FROM payments p JOIN rates r USING (currency)
            WHERE p.status = 'paid' AND p.created_at >= (SELECT t FROM since)
            GROUP BY 1
         ),
         cost AS (
            SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS usd, count(*) AS jobs
            FROM job_costs WHERE recorded_at >= (SELECT t FROM since)
            GROUP BY 1
         )
         SELECT days.day,
                COALESCE(revenue.usd, 0)::float8 AS revenue_usd,
                COALESCE(cost.usd, 0)::float8 AS cost_usd,
                COALESCE(cost.jobs, 0)::int8 AS jobs
         FROM days LEFT JOIN revenue USING (day) LEFT JOIN cost USING (day)
         ORDER BY days.day"
    );
    fetch_all(db, &sql, &[currencies, usd, int4(&days)]).await
}

/// What one user paid us and cost us, over all time.
pub async fn for_user(
    db: &impl GenericClient,
    user_id: i64,
    rates: &UsdRates,
) -> Result<Economics, DbError> {
    let [currencies, usd] = rates.params();
    let sql = format!(
        "WITH {RATES} SELECT {}",
        economics_since("'-infinity'::timestamptz", " AND {t}.user_id = $3")
    );
    fetch_one(db, &sql, &[currencies, usd, int8(&user_id)]).await
}
