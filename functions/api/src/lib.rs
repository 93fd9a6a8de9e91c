//! The REST API function: the Mini App / web frontend's backend, behind API Gateway.
//! Routes and the OpenAPI document come from the same `#[utoipa::path]` handlers ([`routing`]), so
//! they cannot disagree; the document is written when first asked for, not at a cold start.
//!
//! Every `/api` route needs `Authorization: tma <initData>` ([`auth`]); errors are JSON
//! ([`error`]); lists are paginated ([`pagination`]); costly routes are rate limited per user in
//! Postgres ([`limits`]); paid and state-changing POSTs take an `Idempotency-Key` ([`idempotency`]);
//! CORS answers the origins in `CORS_ORIGINS`.
//!
//! Bodies are limited to [`MAX_BODY_BYTES`] (4.5 MB): a synchronous Lambda takes a 6 MB event, and
//! API Gateway base64-encodes a binary body into it, so that is what really arrives. Larger photo
//! sets are sent as `photo_urls`.

pub mod auth;
mod docs;
pub mod error;
pub mod idempotency;
pub mod limits;
pub mod pagination;
pub mod responses;
pub mod routes;
pub mod routing;
pub mod views;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::Router;
use shared::db::Connection;
use shared::services::{Services, StartupError};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routing::{ApiDocument, ApiRouter};

pub use limits::RateLimits;

/// The largest request body (API Gateway's payload limit): 413 above it.
/// 6 MB of Lambda event, less the event's own fields, as base64 (4 bytes for every 3).
pub const MAX_BODY_BYTES: usize = 4_500_000;

/// Built once per cold start.
#[derive(Clone, Debug)]
pub struct State {
    pub services: Services,
    pub limits: RateLimits,
}

impl State {
    pub async fn from_env() -> Result<Arc<Self>, StartupError> {
        Ok(Self::new(Services::from_env().await?))
    }

    pub fn new(services: Services) -> Arc<Self> {
        Self::with_limits(services, RateLimits::default())
    }

    pub fn with_limits(services: Services, limits: RateLimits) -> Arc<Self> {
        Arc::new(Self { services, limits })
    }

    /// A pooled database connection: 503 when there is no database, or it does not answer.
    pub async fn conn(&self) -> error::ApiResult<Connection> {
        Ok(self.services.db().conn().await?)
    }
}

/// The `tma` security scheme: `Authorization: tma <initData>`.
struct TmaAuth;

impl Modify for TmaAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "tma",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`tma <initData>`: the Telegram Mini App's `Telegram.WebApp.initData`, signed by \
                 Telegram with the bot's token and at most INIT_DATA_MAX_AGE_SECONDS (1 h by default) old",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dream Photo API",
        description = "The backend of the Dream Photo Telegram Mini App: models, generations, payments, referrals.\n\n\
            Authenticate with `Authorization: tma <initData>`. Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`. \
            Ids and money are integers (money in minor units: stars for XTR, kopecks for RUB). \
            Lists are newest first, paginated with `limit` (1-100, default 20) and `cursor` (the previous page's `next_cursor`). \
            Bodies are limited to 4.5 MB (what a Lambda behind API Gateway really receives): send big photo sets to `POST /api/train` as `photo_urls`."
    ),
    modifiers(&TmaAuth),
    components(schemas(web::ErrorBody, web::ErrorDetail)),
    tags(
        (name = "meta", description = "Health and documentation"),
        (name = "me", description = "The caller's profile, balance and referrals"),
        (name = "models", description = "Personal models: training and deletion"),
        (name = "generations", description = "Photos generated with a model"),
        (name = "catalog", description = "Styles and token packs"),
        (name = "payments", description = "Buying tokens with Telegram payments"),
        (name = "admin", description = "Owners' and admins' routes"),
    )
)]
struct ApiDoc;

/// The routes, and their OpenAPI document (written when first read).
pub fn api_router(state: Arc<State>) -> (Router, Arc<ApiDocument>) {
    let packs: Vec<String> = state
        .services
        .config
        .product
        .packs
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let guarded = state.clone();
    let (router, document) = ApiRouter::new()
        .merge(routes::meta::router())
        .merge(routes::me::router())
        .merge(routes::promo::router())
        .merge(routes::models::router())
        .merge(routes::training::router())
        .merge(routes::uploads::router())
        .merge(routes::generations::router())
        .merge(routes::catalog::router())
        .merge(routes::payments::router())
        .merge(routes::admin::router())
        .with_state(state)
        .split(ApiDoc::openapi, move |openapi| {
            idempotency::document(openapi);
            openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
            list_pack_ids(openapi, &packs);
        });
    let document = Arc::new(document);
    let router = idempotency::apply(router, document.clone(), guarded);
    (router, document)
}

/// The configured pack ids as the `enum` of `InvoiceRequest.pack_id`.
fn list_pack_ids(openapi: &mut utoipa::openapi::OpenApi, packs: &[String]) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(request))) = components.schemas.get_mut("InvoiceRequest") {
        if let Some(RefOr::T(Schema::Object(pack_id))) = request.properties.get_mut("pack_id") {
            pack_id.enum_values = Some(packs.iter().map(|p| serde_json::json!(p)).collect());
        }
    }
}

/// The whole function: the API routes, `/openapi.json` and `/docs`, with JSON 404/405s, the body
/// limit and CORS.
pub fn router(state: Arc<State>) -> Router {
    let cors = cors(&state.services.config.cors_origins);
    let local_objects = state
        .services
        .storage
        .as_ref()
        .is_some_and(|s| s.is_local());
    let objects = routes::objects::router(state.clone());
    let (router, document) = api_router(state);
    let router = if local_objects {
        router.merge(objects)
    } else {
        router
    };
    let router = router
        .merge(docs::router(document))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // One span per request (never with its headers: they carry the init data).
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    tracing::info_span!(
                        "api_request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        user_id = tracing::field::Empty,
                    )
                },
            ),
        );
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for the configured origins (never `*`); none configured: same-origin only.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                idempotency::IDEMPOTENCY_KEY,
            ])
            .expose_headers([header::RETRY_AFTER, idempotency::IDEMPOTENT_REPLAYED])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}
