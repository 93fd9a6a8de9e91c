//! Signing in with the Mini App's init data: what passes, what is refused and how it is told apart,
//! registration on first sight (with a referral code), blocked users and the admin boundary; and
//! init data signed by an independent implementation (@telegram-apps/init-data-node, through node).

use std::path::PathBuf;

use crate::app::{fixtures, tma, tma_signed_at, App, ADMIN_ID};
use crate::views::Me;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use shared::repo::{referrals, users};
use testkit::stored;
use testkit::BOT_TOKEN;

async fn me_with(app: &App, authorization: Option<&str>) -> crate::app::Answer {
    let mut request = Request::get("/api/me");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn missing_invalid_and_expired_init_data_are_told_apart() {
    let app = App::spawn().await;

    let answer = me_with(&app, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "missing_auth");
    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "tma");
    let answer = me_with(&app, Some("Bearer abc")).await;
    assert_eq!(answer.code(), "missing_auth");
    let answer = me_with(&app, Some("tma ")).await;
    assert_eq!(answer.code(), "missing_auth");

    // Tampered: the user id changed after signing.
    let tampered = tma(1).replace("%22id%22%3A1%2C", "%22id%22%3A2%2C");
    assert_ne!(tampered, tma(1));
    let answer = me_with(&app, Some(&tampered)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "invalid_init_data");
    assert_eq!(answer.error().reason(), "bad_signature");

    // Signed with another bot's token.
    let other = shared::auth::sign(
        "123:OTHER",
        &[("user", &shared::auth::user_json(1, "A", None))],
        chrono::Utc::now().timestamp(),
    );
    let answer = me_with(&app, Some(&format!("tma {other}"))).await;
    assert_eq!(answer.code(), "invalid_init_data");

    // Malformed: no hash at all.
    let answer = me_with(&app, Some("tma user=%7B%7D&auth_date=1")).await;
    assert_eq!(answer.code(), "invalid_init_data");
    assert_eq!(answer.error().reason(), "malformed");

    // Signed, but without a user.
    let no_user = shared::auth::sign(
        BOT_TOKEN,
        &[("query_id", "q")],
        chrono::Utc::now().timestamp(),
    );
    let answer = me_with(&app, Some(&format!("tma {no_user}"))).await;
    assert_eq!(answer.code(), "invalid_init_data");
    assert_eq!(answer.error().reason(), "no_user");

    // Expired: an hour and a minute old (a leaked init data string is good for an hour at most).
    let old = chrono::Utc::now().timestamp() - 3_660;
    let answer = me_with(&app, Some(&tma_signed_at(1, old, &[]))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "expired_init_data");
    assert_eq!(answer.error().details["max_age_seconds"], 3_600);

    // Nobody was registered by any of these.
    let conn = app.db().conn().await.unwrap();
    assert!(users::get(&**conn, 1).await.unwrap().is_none());
}

#[tokio::test]
async fn the_allowed_age_is_configurable() {
    let app = App::spawn_with_var("INIT_DATA_MAX_AGE_SECONDS", Some("60")).await;
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        me_with(&app, Some(&tma_signed_at(7, now - 30, &[])))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        me_with(&app, Some(&tma_signed_at(7, now - 120, &[])))
            .await
            .code(),
        "expired_init_data"
    );
}

/// `GET /api/me` as `user_id`, from a Mini App opened through a referral link with `code`.
async fn me_opening_a_referral_link(app: &App, user_id: i64, code: &str) -> crate::app::Answer {
    let now = chrono::Utc::now().timestamp();
    let header = tma_signed_at(user_id, now, &[("start_param", code)]);
    me_with(app, Some(&header)).await
}

#[tokio::test]
async fn a_new_user_is_registered_on_first_sight_and_joins_through_the_referral_code() {
    let app = App::spawn().await;
    let referrer = fixtures::user(app.db(), 10, 0).await;

    let answer = me_opening_a_referral_link(&app, 11, &referrer.referral_code).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let profile = answer.json::<Me>().profile;
    assert_eq!(profile.id, 11);
    assert_eq!(profile.first_name, "User11");
    assert_eq!(profile.referred_by, Some(10));

    let conn = app.db().conn().await.unwrap();
    let joined = stored::user(app.db(), 11).await;
    assert_eq!(joined.referred_by, Some(10));
    assert_eq!(referrals::statistics(&**conn, 10).await.unwrap().joined, 1);
    // (User 10 has been with us for a day.)
    conn.execute(
        "UPDATE users SET activated_at = now() - interval '1 day' WHERE id = 10",
        &[],
    )
    .await
    .unwrap();
    drop(conn);

    // A known user opening a referral link changes nothing; renamed users are refreshed.
    let other = fixtures::user(app.db(), 12, 0).await;
    let answer = me_opening_a_referral_link(&app, 10, &other.referral_code).await;
    assert_eq!(answer.json::<Me>().profile.referred_by, None);

    let renamed = shared::auth::sign(
        BOT_TOKEN,
        &[(
            "user",
            &shared::auth::user_json(12, "Renamed", Some("new_name")),
        )],
        chrono::Utc::now().timestamp(),
    );
    let answer = me_with(&app, Some(&format!("tma {renamed}"))).await;
    let profile = answer.json::<Me>().profile;
    assert_eq!(profile.first_name, "Renamed");
    assert_eq!(profile.username.as_deref(), Some("new_name"));
}

#[tokio::test]
async fn blocked_users_are_refused_and_admin_routes_need_an_admin() {
    let app = App::spawn().await;
    fixtures::user(app.db(), 20, 0).await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    let answer = app.get("/api/admin/stats", 20).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "forbidden");
    assert_eq!(
        app.get("/api/admin/stats", ADMIN_ID).await.status,
        StatusCode::OK
    );

    let answer = app
        .call(
            Method::POST,
            "/api/admin/users/20/block",
            Some(ADMIN_ID),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let answer = app.get("/api/me", 20).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "blocked");
}

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Init data signed by @telegram-apps/init-data-node (`tests/js/sign.mjs`), if node is here.
fn sign_with_node(token: &str, fields: serde_json::Value, auth_date: i64) -> Option<String> {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "node must run the cross-implementation check in CI (.ci/setup installs it)"
        );
        eprintln!("node is not installed: the cross-implementation check is skipped");
        return None;
    }
    assert!(
        js_dir().join("node_modules/@telegram-apps/init-data-node").is_dir(),
        "run `npm ci` in functions/api/tests/js (.ci/setup does) to install @telegram-apps/init-data-node"
    );
    let output = std::process::Command::new("node")
        .current_dir(js_dir())
        .arg("sign.mjs")
        .arg(token)
        .arg(fields.to_string())
        .arg(auth_date.to_string())
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

#[tokio::test]
async fn init_data_signed_by_telegram_apps_validates_and_tampered_does_not() {
    let now = chrono::Utc::now().timestamp();
    let fields = serde_json::json!({
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": {"id": 7_123_456_789_i64, "first_name": "Ann + Bob / é & co", "last_name": "O'Neil",
                 "username": "ann_b", "language_code": "en", "is_premium": true, "allows_write_to_pm": true},
        "chat_type": "sender",
        "chat_instance": "-3788475317572404878",
        "start_param": "nobody-has-this-code"
    });
    let Some(raw) = sign_with_node(BOT_TOKEN, fields, now) else {
        return;
    };
    // Our validator alone.
    let data = shared::auth::validate(&raw, BOT_TOKEN, Some(86_400), now).expect("valid");
    let user = data.user.unwrap();
    assert_eq!(user.id, 7_123_456_789);
    assert_eq!(user.first_name, "Ann + Bob / é & co");

    // Through the API.
    let app = App::spawn().await;
    let answer = me_with(&app, Some(&format!("tma {raw}"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let profile = answer.json::<Me>().profile;
    assert_eq!(profile.id, 7_123_456_789);
    assert_eq!(profile.last_name.as_deref(), Some("O'Neil"));

    // Tampered in a few ways: all refused.
    let tampered = [
        raw.replace("ann_b", "ann_c"),
        raw.replace("chat_type=sender", "chat_type=private"),
        raw.replace(
            &format!("auth_date={now}"),
            &format!("auth_date={}", now + 1),
        ),
        format!("{raw}&extra=1"),
    ];
    for t in tampered {
        assert_ne!(t, raw);
        let answer = me_with(&app, Some(&format!("tma {t}"))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{t}");
        assert_eq!(answer.code(), "invalid_init_data");
    }
    // Signed with another token by the same library: refused.
    let other = sign_with_node(
        "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8",
        serde_json::json!({"user": {"id": 1, "first_name": "X"}}),
        now,
    )
    .unwrap();
    assert_eq!(
        me_with(&app, Some(&format!("tma {other}"))).await.code(),
        "invalid_init_data"
    );
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let app = App::spawn_with_var("CORS_ORIGINS", Some("https://app.example.com")).await;
    let preflight = |origin: &'static str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/models")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let answer = app.send(preflight("https://app.example.com")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    let allowed = answer.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(answer
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        .is_none());

    let answer = app.send(preflight("https://evil.example.com")).await;
    assert!(answer
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    // A simple request from the allowed origin carries the header too (even a 401).
    let answer = app
        .send(
            Request::get("/api/me")
                .header(header::ORIGIN, "https://app.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn a_blocked_user_changes_nothing_and_the_mini_app_keeps_the_bot_blocked_mark() {
    let app = App::spawn().await;
    let referrer = fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), 20, 0).await;
    fixtures::user(app.db(), 21, 0).await;
    {
        let conn = app.db().conn().await.unwrap();
        users::set_blocked(&**conn, 20, true).await.unwrap();
        users::mark_bot_blocked(&**conn, 21).await.unwrap();
    }
    let signed = |id: i64| {
        let user = shared::auth::user_json(id, "Renamed", Some("renamed"));
        let fields = [
            ("user", user.as_str()),
            ("start_param", referrer.referral_code.as_str()),
        ];
        format!(
            "tma {}",
            shared::auth::sign(BOT_TOKEN, &fields, chrono::Utc::now().timestamp())
        )
    };

    let answer = me_with(&app, Some(&signed(20))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "blocked");
    let blocked = stored::user(app.db(), 20).await;
    assert_eq!(blocked.first_name, "User20", "not renamed");
    assert_eq!(blocked.referred_by, None, "not referred");

    // Opening the Mini App says nothing about whether the bot may write to someone.
    let answer = me_with(&app, Some(&signed(21))).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let seen = stored::user(app.db(), 21).await;
    assert_eq!(seen.first_name, "Renamed");
    assert!(seen.bot_blocked, "still marked as having blocked the bot");
}
