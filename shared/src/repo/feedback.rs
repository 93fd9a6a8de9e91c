//! Ratings (1-5) and comments on generations, and what admins see of them.

use chrono::{DateTime, Utc};

use super::{changed_one, fetch_all, int2, int8, text, DbError, GenericClient};

/// Rates the user's own generation (again, if they change their mind). False if the generation is
/// not theirs.
pub async fn rate(
    db: &impl GenericClient,
    generation_id: i64,
    user_id: i64,
    rating: i16,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "INSERT INTO generation_feedback (generation_id, user_id, rating)
             SELECT id, user_id, $3 FROM generations WHERE id = $1 AND user_id = $2
             ON CONFLICT (generation_id) DO UPDATE SET rating = EXCLUDED.rating, updated_at = now()",
        &[int8(&generation_id), int8(&user_id), int2(&rating)],
    )
    .await
}

/// Adds a comment to the user's rating of a generation. False if there is no rating of theirs.
pub async fn comment(
    db: &impl GenericClient,
    generation_id: i64,
    user_id: i64,
    comment: &str,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE generation_feedback SET comment = $3, updated_at = now() WHERE generation_id = $1 AND user_id = $2",
        &[int8(&generation_id), int8(&user_id), text(&comment)],
    )
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct StyleRating {
    /// `None`: generations without a style.
    pub style: Option<String>,
    pub average: f64,
    pub ratings: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LowRating {
    pub generation_id: i64,
    pub user_id: i64,
    pub rating: i16,
    pub comment: Option<String>,
    pub style: Option<String>,
    pub prompt: String,
    pub at: DateTime<Utc>,
}

from_row!(StyleRating, |row| {
    style,
    average: (row.get::<_, f64>("average") * 100.0).round() / 100.0,
    ratings,
});

from_row!(LowRating, |row| {
    generation_id, user_id, rating, comment, style, prompt,
    at: row.get("updated_at"),
});

pub async fn by_style(db: &impl GenericClient) -> Result<Vec<StyleRating>, DbError> {
    fetch_all(
        db,
        "SELECT s.name AS style, avg(f.rating)::float8 AS average, count(*) AS ratings
         FROM generation_feedback f JOIN generations g ON g.id = f.generation_id
         LEFT JOIN styles s ON s.id = g.style_id
         GROUP BY s.name ORDER BY average, s.name NULLS FIRST",
        &[],
    )
    .await
}

/// The latest ratings of 1 or 2.
pub async fn recent_low(db: &impl GenericClient, limit: i64) -> Result<Vec<LowRating>, DbError> {
    fetch_all(
        db,
        "SELECT f.generation_id, f.user_id, f.rating, f.comment, s.name AS style, g.prompt, f.updated_at
         FROM generation_feedback f JOIN generations g ON g.id = f.generation_id
         LEFT JOIN styles s ON s.id = g.style_id
         WHERE f.rating <= 2 ORDER BY f.updated_at DESC LIMIT $1",
        &[int8(&limit)],
    )
    .await
}
