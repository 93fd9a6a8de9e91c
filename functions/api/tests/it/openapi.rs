//! The OpenAPI document and the router agree: every route the issue asks for is in the spec, every
//! operation in the spec is served, and every operation describes its errors and security.

use std::collections::BTreeSet;

use crate::app::{fixtures, method, App, ADMIN_ID};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

/// The API's routes as the issues list them (plus the meta routes).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/health"),
    ("get", "/api/me"),
    ("patch", "/api/me"),
    ("delete", "/api/me"),
    ("get", "/api/user/{user_id}"),
    ("get", "/api/models"),
    ("get", "/api/models/{id}"),
    ("delete", "/api/models/{id}"),
    ("post", "/api/train"),
    ("post", "/api/models/{id}/retrain"),
    ("post", "/api/uploads"),
    ("put", "/api/models/{id}/sharing"),
    ("get", "/api/generations"),
    ("post", "/api/generations"),
    ("get", "/api/generations/{id}"),
    ("get", "/api/styles"),
    ("get", "/api/packs"),
    ("post", "/api/payments/invoice"),
    ("get", "/api/payments"),
    ("get", "/api/referrals"),
    ("get", "/api/admin/stats"),
    ("get", "/api/admin/costs"),
    ("get", "/api/admin/users/{id}/costs"),
    ("get", "/api/admin/users"),
    ("post", "/api/admin/users/{id}/block"),
    ("post", "/api/admin/users/{id}/unblock"),
    ("post", "/api/admin/users/{id}/tokens"),
    ("get", "/api/admin/payments"),
    ("post", "/api/admin/payments/{charge_id}/refund"),
    ("post", "/api/admin/styles"),
    ("patch", "/api/admin/styles/{id}"),
    ("delete", "/api/admin/styles/{id}"),
    // Promo codes, feedback, system models and previews, the funnel, admins and their audit log.
    ("post", "/api/promo"),
    ("post", "/api/generations/{id}/feedback"),
    // A second try: "more like this" and the free redo after a rating of 1 or 2.
    ("post", "/api/generations/{id}/again"),
    ("post", "/api/generations/{id}/redo"),
    ("get", "/api/system-models"),
    ("post", "/api/models/{id}/preview"),
    ("get", "/api/admin/insights"),
    ("get", "/api/admin/promos"),
    ("post", "/api/admin/promos"),
    ("patch", "/api/admin/promos/{code}"),
    ("get", "/api/admin/admins"),
    ("post", "/api/admin/admins"),
    ("delete", "/api/admin/admins/{user_id}"),
    ("get", "/api/admin/actions"),
    ("post", "/api/admin/models/{id}/system"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec_operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (key, _) in item.as_object().expect("a path item") {
            if METHODS.contains(&key.as_str()) {
                out.insert((key.clone(), path.clone()));
            }
        }
    }
    out
}

pub(crate) fn spec() -> Value {
    // The spec needs no database: the pool is only built (it connects on first use), and nothing else
    // is configured.
    let config = shared::config::Config::from_lookup(|name| {
        (name == "DATABASE_URL").then(|| "postgres://127.0.0.1:9/unused".to_owned())
    })
    .unwrap();
    let services =
        shared::services::Services::new(config, shared::queue::TrainingQueue::Disabled).unwrap();
    let (_, document) = api::api_router(api::State::new(services));
    serde_json::to_value(document.get()).unwrap()
}

#[test]
fn the_spec_lists_exactly_the_api_routes() {
    let spec = spec();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let documented = spec_operations(&spec);
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the spec: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "spec operations that are not API routes: {extra:?}"
    );
    assert_eq!(spec["openapi"], "3.1.0");
}

#[test]
fn every_operation_describes_its_security_and_errors() {
    let spec = spec();
    assert_eq!(
        spec["components"]["securitySchemes"]["tma"],
        serde_json::json!({"type": "apiKey", "in": "header", "name": "Authorization",
            "description": spec["components"]["securitySchemes"]["tma"]["description"]})
    );
    assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
    for (method, path) in spec_operations(&spec) {
        let op = &spec["paths"][&path][&method];
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} has no success response"
        );
        if path.starts_with("/api/") {
            assert_eq!(
                op["security"],
                serde_json::json!([{"tma": []}]),
                "{method} {path}"
            );
            for status in ["401", "403", "500", "503"] {
                let error = &responses[status]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    error, "#/components/schemas/ErrorBody",
                    "{method} {path} does not describe its {status}"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if path.contains('{') || op.get("requestBody").is_some() {
                assert!(responses.contains_key("400"), "{method} {path} lacks 400");
            }
        }
    }
}

/// Every documented operation is served: called as an admin, none answers "no such route" or 405.
#[tokio::test]
async fn every_documented_operation_is_served_and_nothing_else_is() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 1000).await;
    let spec_text = app
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(spec_text.status, StatusCode::OK);
    let spec = spec_text.body;
    for (method_name, path) in spec_operations(&spec) {
        let concrete = path
            .replace("{user_id}", &ADMIN_ID.to_string())
            .replace("{id}", "999999");
        let body = (method_name == "post" || method_name == "patch").then(|| serde_json::json!({}));
        let answer = app
            .call(method(&method_name), &concrete, Some(ADMIN_ID), body)
            .await;
        assert_ne!(
            answer.code(),
            "no_route",
            "{method_name} {path} is documented but not served"
        );
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method_name} {path} is documented but not served"
        );
        assert!(
            !answer.status.is_server_error() || path == "/health",
            "{method_name} {path}: {answer:?}"
        );
    }
    // And routes that are not documented are not served (beyond the spec and the docs page).
    for (m, path) in [
        ("get", "/api/models/1/photos"),
        ("put", "/api/me"),
        ("get", "/api/admin"),
    ] {
        let answer = app.call(method(m), path, Some(ADMIN_ID), None).await;
        assert!(
            answer.code() == "no_route" || answer.code() == "method_not_allowed",
            "{m} {path} is served but not documented: {answer:?}"
        );
    }
    let docs = app
        .send(Request::get("/docs").body(Body::empty()).unwrap())
        .await;
    assert_eq!(docs.status, StatusCode::OK);
    let asset = app
        .send(
            Request::get("/docs/swagger-ui-bundle.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(asset.status, StatusCode::OK);
}
