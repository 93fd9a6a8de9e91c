//! `GET /` and `GET /health`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json;
use shared::telemetry::error_chain;

use crate::routing::{routes, ApiRouter};
use crate::views::meta::{About, DatabaseHealth, Health};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(health))
}

/// What this is: the API is up.
#[utoipa::path(get, path = "/", tag = "meta", responses((status = 200, body = About)))]
async fn root() -> Json<About> {
    Json(About {
        name: "Dream Photo API",
        version: env!("CARGO_PKG_VERSION"),
        docs: "/docs",
    })
}

/// Health of the API and its database (one round trip, timed).
#[utoipa::path(get, path = "/health", tag = "meta", responses(
    (status = 200, description = "Everything answers", body = Health),
    (status = 503, description = "The database does not answer", body = Health),
))]
async fn health(AxumState(state): AxumState<Arc<State>>) -> (StatusCode, Json<Health>) {
    let database = match state.services.db().ping().await {
        Ok(latency) => DatabaseHealth {
            status: "ok",
            latency_ms: Some((latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0),
        },
        Err(e) => {
            // The details are ours (host names, error texts): logs only, never the public.
            tracing::error!(error = %error_chain(&e), "health check: database unreachable");
            DatabaseHealth {
                status: "error",
                latency_ms: None,
            }
        }
    };
    let ok = database.status == "ok";
    let health = Health {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        database,
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(health),
    )
}
