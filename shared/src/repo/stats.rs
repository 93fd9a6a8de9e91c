//! Admin statistics (the seed's get_global_statistics), in one round trip.

use super::payments::{self, Revenue};
use super::{DbError, GenericClient};

#[derive(Debug, Clone, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

pub async fn global_statistics(db: &impl GenericClient) -> Result<GlobalStats, DbError> {
    let row = db
        .query_typed_one(
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
        )
        .await?;
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
        revenue: payments::revenue(db).await?,
    })
}
