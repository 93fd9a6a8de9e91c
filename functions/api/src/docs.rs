//! `/openapi.json` (the generated spec) and `/docs` (Swagger UI reading it).

use std::sync::Arc;

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;

pub fn router(openapi: utoipa::openapi::OpenApi) -> Router {
    let spec: Arc<str> = openapi
        .to_json()
        .expect("the OpenAPI document serialises")
        .into();
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
        .route("/docs", get(docs_page))
}

/// Swagger UI, loaded by the reader's browser from a CDN (nothing is bundled into the Lambda).
async fn docs_page() -> impl IntoResponse {
    Html(
        r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Dream Photo API</title>
  <link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js" crossorigin></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" });
  </script>
</body>
</html>"##,
    )
}
