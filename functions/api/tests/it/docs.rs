//! `/docs` is Swagger UI served from the binary: in headless Chromium that can reach nothing but
//! this server (every other host fails to resolve), the page renders and lists the operations.

use std::process::Command;

use crate::app::App;

fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .expect("headless Chromium is needed: apt-get install chromium (.ci/setup does)")
}

#[tokio::test]
async fn docs_render_offline_in_a_browser_and_list_the_operations() {
    let app = App::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let profile = std::env::temp_dir().join(format!("docs-chromium-{}-{port}", std::process::id()));
    let url = format!("http://127.0.0.1:{port}/docs");
    let browser = chromium();
    let dom = tokio::task::spawn_blocking(move || {
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // The network is off but for this server: a CDN asset would never load.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=15000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(&url)
            .output()
            .expect("chromium runs");
        let _ = std::fs::remove_dir_all(&profile);
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap();
    assert!(
        dom.contains("swagger-ui"),
        "Swagger UI did not render: {dom:.500}"
    );
    for operation in ["/api/uploads", "/api/train", "/api/generations", "/health"] {
        assert!(
            dom.contains(operation),
            "{operation} is not listed in the rendered page"
        );
    }
}

/// One asset of the page, asked with `accept_encoding` (or none): status, headers and bytes.
async fn asset(
    app: &App,
    file: &str,
    accept_encoding: Option<&str>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::get(format!("/docs/{file}"));
    if let Some(encoding) = accept_encoding {
        request = request.header("accept-encoding", encoding);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap().to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn assets_go_gzipped_to_browsers_and_plain_to_clients_that_take_no_gzip() {
    use std::io::Read;
    let app = App::spawn().await;
    let (status, headers, gzipped) =
        asset(&app, "swagger-ui-bundle.js", Some("gzip, deflate, br")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();

    let (status, headers, plain) = asset(&app, "swagger-ui-bundle.js", None).await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none());
    assert_eq!(plain, unzipped, "the same file either way");
    assert!(plain.len() > 1_000_000, "the whole bundle: {}", plain.len());

    let (_, headers, _) = asset(&app, "swagger-ui.css", Some("gzip;q=0")).await;
    assert!(headers.get("content-encoding").is_none(), "gzip refused");
    let (status, _, _) = asset(&app, "swagger-ui-bundle.js.map", Some("gzip")).await;
    assert_eq!(status, 404, "only what the page loads is served");
}
