//! `/openapi.json` (the generated spec) and `/docs` (Swagger UI reading it). Swagger UI's assets
//! are inside the binary (the files the page loads from the pinned vendored release, gzipped by the
//! build script), so the page renders with no network: no CDN is asked for anything. The page is `/docs` itself (API Gateway routes `GET /docs`
//! and `GET /docs/{proxy+}`; a bare `/docs/` would match neither), its assets under `/docs/`.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::routing::ApiDocument;

include!(concat!(env!("OUT_DIR"), "/swagger_assets.rs"));

/// The page: Swagger UI reading `/openapi.json`, its relative links resolved under `/docs/`.
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<base href="/docs/">
<title>Dream Photo API</title>
<link rel="stylesheet" type="text/css" href="swagger-ui.css">
<link rel="stylesheet" type="text/css" href="index.css">
<link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js" charset="UTF-8"></script>
<script src="swagger-ui-standalone-preset.js" charset="UTF-8"></script>
<script src="swagger-initializer.js" charset="UTF-8"></script>
</body>
</html>
"##;

const INITIALIZER: &str = r##"window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
"##;

pub fn router(document: Arc<ApiDocument>) -> Router {
    // Written and serialised on the first request for it, not at the function's cold start.
    let spec = Arc::new((document, OnceLock::<Arc<str>>::new()));
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move {
                    let (document, json) = &*spec;
                    let json = json.get_or_init(|| {
                        document
                            .get()
                            .to_json()
                            .expect("the OpenAPI document serialises")
                            .into()
                    });
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        json.to_string(),
                    )
                }
            }),
        )
        .route(
            "/docs",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route("/docs/{*file}", get(asset))
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let cache = (
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if file == "swagger-initializer.js" {
        return (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/javascript; charset=utf-8"),
                ),
                cache,
            ],
            INITIALIZER,
        )
            .into_response();
    }
    let Some((_, content_type, gzipped)) = ASSETS.iter().find(|(name, ..)| *name == file) else {
        return crate::error::Error::not_found("file").into_response();
    };
    let content_type = (header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    if accepts_gzip(&headers) {
        let encoding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return ([content_type, encoding, vary, cache], *gzipped).into_response();
    }
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(*gzipped).read_to_end(&mut plain) {
        Ok(_) => ([content_type, vary, cache], plain).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether the client takes gzip (every browser does; a bare `curl` does not).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}
