//! Per-user rate limits in fixed windows, stored in Postgres so they hold across Lambda instances.

use super::{float8, int8, text, DbError, GenericClient};

/// At most `max` requests of `action` per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub action: &'static str,
    pub max: i32,
    pub window_seconds: i64,
}

/// What counting one more request gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        remaining: i32,
    },
    /// Over the limit until the window ends, in `retry_after` seconds.
    Limited {
        retry_after: i64,
    },
}

/// Counts one request of `limit.action` by `user_id` in the current window, and says whether it is
/// within the limit. One statement: the window's row is created, incremented, or restarted when a
/// new window has begun, atomically under concurrent requests.
pub async fn hit(
    db: &impl GenericClient,
    user_id: i64,
    limit: &Limit,
) -> Result<Decision, DbError> {
    let window = limit.window_seconds.max(1);
    let row = db
        .query_typed_one(
            "WITH w AS (
                SELECT to_timestamp(floor(extract(epoch FROM now()) / $3) * $3) AS start
             )
             INSERT INTO rate_limits AS r (user_id, action, window_start, count)
             SELECT $1, $2, w.start, 1 FROM w
             ON CONFLICT (user_id, action) DO UPDATE SET
                count = CASE WHEN r.window_start = EXCLUDED.window_start
                             THEN LEAST(r.count, 2000000000) + 1 ELSE 1 END,
                window_start = EXCLUDED.window_start
             RETURNING r.count,
                GREATEST(1, ceil(extract(epoch FROM
                    r.window_start + make_interval(secs => $3) - now())))::int8 AS retry_after",
            &[
                int8(&user_id),
                text(&limit.action),
                float8(&(window as f64)),
            ],
        )
        .await?;
    let count: i32 = row.get("count");
    Ok(if count <= limit.max {
        Decision::Allowed {
            remaining: limit.max - count,
        }
    } else {
        Decision::Limited {
            retry_after: row.get("retry_after"),
        }
    })
}
