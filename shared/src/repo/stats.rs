//! Admin statistics (the seed's get_global_statistics), in one round trip.

use super::costs::{self, Period, UsdRates};
use super::payments::{self, Revenue};
use super::{DbError, GenericClient};

#[derive(Debug, Clone, PartialEq)]
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
    /// Revenue against Replicate's costs: today, 7 and 30 days, all time.
    pub economics: Vec<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

pub async fn global_statistics(
    db: &impl GenericClient,
    rates: &UsdRates,
) -> Result<GlobalStats, DbError> {
    // The three statements go out together: one round trip.
    let counts = db.query_typed_one(
            "SELECT
                (SELECT count(*) FROM users) AS users_total,
                (SELECT count(*) FROM users WHERE created_at >= date_trunc('day', now())) AS users_today,
                (SELECT count(*) FROM users WHERE created_at >= now() - interval '7 days') AS users_7_days,
                (SELECT count(DISTINCT user_id) FROM payments WHERE status = 'paid') AS paying_users,
                (SELECT COALESCE(sum(tokens), 0)::int8 FROM payments WHERE status = 'paid') AS tokens_sold,
                (SELECT COALESCE(sum(tokens_spent), 0)::int8 FROM users) AS tokens_spent,
                (SELECT count(*) FROM generations WHERE created_at >= date_trunc('day', now())) AS generations_today,
                (SELECT COALESCE(json_agg(json_build_object('status', status, 'count', n) ORDER BY status), '[]')
                   FROM (SELECT status, count(*) AS n FROM models GROUP BY status) s) AS models_by_status",
            &[],
        );
    let counts = async { Ok::<_, DbError>(counts.await?) };
    let (row, revenue, economics) =
        tokio::try_join!(counts, payments::revenue(db), costs::periods(db, rates))?;
    let models_by_status: serde_json::Value = row.get("models_by_status");
    let models_by_status = models_by_status
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| StatusCount {
            status: v["status"].as_str().unwrap_or_default().to_owned(),
            count: v["count"].as_i64().unwrap_or_default(),
        })
        .collect();
    Ok(GlobalStats {
        users_total: row.get("users_total"),
        users_today: row.get("users_today"),
        users_7_days: row.get("users_7_days"),
        paying_users: row.get("paying_users"),
        tokens_sold: row.get("tokens_sold"),
        tokens_spent: row.get("tokens_spent"),
        models_by_status,
        generations_today: row.get("generations_today"),
        revenue,
        economics,
    })
}

/// One day of [`daily`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub day: chrono::NaiveDate,
    pub new_users: i64,
    pub generations: i64,
    /// Paid (not refunded) payments in the one currency asked for, in its minor units.
    pub revenue: i64,
}

/// The last `days` days (UTC, today the last), each with its new users, generations started and
/// revenue in `currency`; a day with none of them is there with zeros.
pub async fn daily(
    db: &impl GenericClient,
    days: i32,
    currency: &str,
) -> Result<Vec<Day>, DbError> {
    let rows = db
        .query_typed(
            "WITH days AS (
                SELECT d::date AS day
                FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($1::int4 - 1),
                                     (now() AT TIME ZONE 'UTC')::date, interval '1 day') d
             ), since AS (SELECT (min(day)::timestamp AT TIME ZONE 'UTC') AS t FROM days)
             SELECT days.day,
                    COALESCE(u.n, 0)::int8 AS new_users,
                    COALESCE(g.n, 0)::int8 AS generations,
                    COALESCE(p.amount, 0)::int8 AS revenue
             FROM days
             LEFT JOIN (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                        FROM users WHERE created_at >= (SELECT t FROM since) GROUP BY 1) u
                    USING (day)
             LEFT JOIN (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                        FROM generations WHERE created_at >= (SELECT t FROM since) GROUP BY 1) g
                    USING (day)
             LEFT JOIN (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amount
                        FROM payments
                        WHERE created_at >= (SELECT t FROM since) AND status = 'paid'
                          AND currency = $2
                        GROUP BY 1) p
                    USING (day)
             ORDER BY days.day",
            &[
                (&days, tokio_postgres::types::Type::INT4),
                (&currency, tokio_postgres::types::Type::TEXT),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Day {
            day: row.get("day"),
            new_users: row.get("new_users"),
            generations: row.get("generations"),
            revenue: row.get("revenue"),
        })
        .collect())
}
