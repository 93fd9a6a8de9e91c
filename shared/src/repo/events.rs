//! The user journey: key events with metadata, and the funnel admins see.

use serde_json::Value;

use super::{execute, fetch_all, int8, jsonb, text, DbError, GenericClient};
use crate::domain::named_enum;

named_enum! {
    /// A step of the user journey, as it is recorded.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Event {
        Started => "started",
        ReferralJoined => "referral_joined",
        PhotosUploaded => "photos_uploaded",
        TrainingPaid => "training_paid",
        TrainingStarted => "training_started",
        TrainingFinished => "training_finished",
        GenerationRequested => "generation_requested",
        GenerationDelivered => "generation_delivered",
        Payment => "payment",
        PromoUsed => "promo_used",
    }
}

pub async fn record(
    db: &impl GenericClient,
    user_id: i64,
    event: Event,
    metadata: Value,
) -> Result<(), DbError> {
    execute(
        db,
        "INSERT INTO user_events (user_id, event, metadata) VALUES ($1, $2, $3)",
        &[int8(&user_id), text(&event.as_str()), jsonb(&metadata)],
    )
    .await
}

/// Distinct users at each step of the funnel within a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funnel {
    pub days: i32,
    pub started: i64,
    /// Got a ready model.
    pub trained: i64,
    /// Got generated photos delivered.
    pub generated: i64,
    pub paid: i64,
}

from_row!(Funnel, |row| { days, started, trained, generated, paid });

/// The funnel for today (since midnight UTC), the last 7 and the last 30 days, in one round trip.
pub async fn funnels(db: &impl GenericClient) -> Result<Vec<Funnel>, DbError> {
    fetch_all(
        db,
            "SELECT p.days,
                count(DISTINCT e.user_id) FILTER (WHERE e.event = 'started') AS started,
                count(DISTINCT e.user_id) FILTER (WHERE e.event = 'training_finished' AND e.metadata->>'status' = 'ready') AS trained,
                count(DISTINCT e.user_id) FILTER (WHERE e.event = 'generation_delivered') AS generated,
                count(DISTINCT e.user_id) FILTER (WHERE e.event = 'payment') AS paid
             FROM (VALUES (1), (7), (30)) AS p(days)
             LEFT JOIN user_events e ON e.created_at >= CASE WHEN p.days = 1 THEN date_trunc('day', now())
                                                             ELSE now() - make_interval(days => p.days) END
             GROUP BY p.days ORDER BY p.days",
        &[],
    )
    .await
}
