//! The REST API function: the Mini App / web frontend's backend, behind API Gateway.
//! Routes and the OpenAPI document are built together (utoipa-axum), so they cannot disagree.

mod docs;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use shared::services::{Services, StartupError};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Built once per cold start.
#[derive(Clone, Debug)]
pub struct State {
    pub services: Services,
}

impl State {
    pub async fn from_env() -> Result<Arc<Self>, StartupError> {
        Ok(Arc::new(Self {
            services: Services::from_env().await?,
        }))
    }

    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(Self { services })
    }
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Dream Photo API",
    description = "The backend of the Dream Photo Telegram Mini App: models, generations, payments, referrals."
))]
struct ApiDoc;

/// The routes with their OpenAPI document.
pub fn api_router(state: Arc<State>) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::meta::router())
        .with_state(state)
        .split_for_parts();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
    (router, openapi)
}

/// The whole function: the API routes, `/openapi.json` and `/docs`.
pub fn router(state: Arc<State>) -> Router {
    let (router, openapi) = api_router(state);
    router.merge(docs::router(openapi))
}
