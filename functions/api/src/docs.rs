//! `/openapi.json` (the generated spec) and `/docs` (Swagger UI reading it). Swagger UI's assets
//! are inside the binary (the vendored `utoipa-swagger-ui`, pinned), so the page renders with no
//! network: no CDN is asked for anything. The page is `/docs` itself (API Gateway routes `GET /docs`
//! and `GET /docs/{proxy+}`; a bare `/docs/` would match neither), its assets under `/docs/`.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa_swagger_ui::Config;

pub fn router(openapi: utoipa::openapi::OpenApi) -> Router {
    let spec: Arc<str> = openapi
        .to_json()
        .expect("the OpenAPI document serialises")
        .into();
    let config = Arc::new(Config::from("/openapi.json"));
    let page_config = config.clone();
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        spec.to_string(),
                    )
                }
            }),
        )
        .route("/docs", get(move || page(page_config.clone())))
        .route(
            "/docs/{*file}",
            get(move |Path(file): Path<String>| asset(file, config.clone())),
        )
}

/// Swagger UI's page, its relative links resolved under `/docs/`.
async fn page(config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve("index.html", config) {
        Ok(Some(file)) => {
            let html = String::from_utf8_lossy(&file.bytes).replacen(
                "<head>",
                "<head>\n<base href=\"/docs/\">",
                1,
            );
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn asset(file: String, config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(&file, config) {
        Ok(Some(file)) => (
            [
                (header::CONTENT_TYPE, file.content_type),
                (header::CACHE_CONTROL, "public, max-age=86400".to_owned()),
            ],
            file.bytes.into_owned(),
        )
            .into_response(),
        Ok(None) => crate::error::Error::not_found("file").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
