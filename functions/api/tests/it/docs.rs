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
