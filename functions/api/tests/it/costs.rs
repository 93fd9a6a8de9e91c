//! What the admins see of revenue against Replicate's costs: by period, by day, by user.

use crate::app::{fixtures, App, ADMIN_ID};
use crate::views::{Economics, Stats};
use axum::http::StatusCode;
use shared::repo::costs::{self, CostKind, JobCost, UsdRates};

const ANN: i64 = 101;

/// What Telegram pays for the small pack's 150 stars, at the default rate.
const SMALL_PACK_USD: f64 = 150.0 * 0.013;

async fn job_cost(app: &App, replicate_id: &str, user_id: i64, seconds: f64) {
    let cost = JobCost {
        replicate_id,
        user_id,
        kind: CostKind::Generation,
        model_id: None,
        generation_id: None,
        hardware: "gpu-l40s",
        seconds,
        usd_per_second: 0.01,
    };
    let rates = UsdRates::new(&app.env.config().costs.usd_rates);
    let conn = app.db().conn().await.unwrap();
    costs::record(&**conn, &cost, &rates).await.unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn is(e: &Economics, revenue: f64, cost: f64, jobs: i64) -> bool {
    close(e.revenue_usd, revenue)
        && close(e.cost_usd, cost)
        && close(e.margin_usd, revenue - cost)
        && e.jobs == jobs
}

#[tokio::test]
async fn admins_see_revenue_against_costs_by_period_day_and_user() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 0).await;
    fixtures::small_pack_paid(app.db(), ANN, "ch_1").await;
    job_cost(&app, "pr_1", ANN, 100.0).await;
    job_cost(&app, "pr_2", ADMIN_ID, 300.0).await;

    let stats: Stats = app.get("/api/admin/stats", ADMIN_ID).await.json();
    let days: Vec<Option<i32>> = stats.economics.iter().map(|e| e.days).collect();
    assert_eq!(days, vec![Some(1), Some(7), Some(30), None]);
    for period in &stats.economics {
        assert!(is(period, SMALL_PACK_USD, 4.0, 2), "{period:?}");
    }
    // Today loses money: $1.95 paid, $4 spent.
    assert!(stats.economics[0].margin_usd < 0.0);

    let daily = app.get("/api/admin/costs?days=7", ADMIN_ID).await;
    assert_eq!(daily.status, StatusCode::OK, "{daily:?}");
    let daily: Vec<Economics> = daily.json();
    assert_eq!(daily.len(), 7);
    assert!(is(&daily[6], SMALL_PACK_USD, 4.0, 2), "{:?}", daily[6]);
    assert_eq!(daily[6].day, Some(chrono::Utc::now().date_naive()));
    assert!(daily[..6].iter().all(|d| is(d, 0.0, 0.0, 0)));
    let month: Vec<Economics> = app.get("/api/admin/costs", ADMIN_ID).await.json();
    assert_eq!(month.len(), 30);

    let ann: Economics = app.get("/api/admin/users/101/costs", ADMIN_ID).await.json();
    assert!(is(&ann, SMALL_PACK_USD, 1.0, 1), "{ann:?}");
    let admin: Economics = app
        .get(&format!("/api/admin/users/{ADMIN_ID}/costs"), ADMIN_ID)
        .await
        .json();
    assert!(is(&admin, 0.0, 3.0, 1), "{admin:?}");
}

#[tokio::test]
async fn cost_reports_refuse_bad_input_and_other_users() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 0).await;
    for days in ["0", "366", "-1", "x"] {
        let answer = app
            .get(&format!("/api/admin/costs?days={days}"), ADMIN_ID)
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{days}");
        assert_eq!(answer.error().field(), "days", "{days}");
    }
    let missing = app.get("/api/admin/users/999/costs", ADMIN_ID).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/admin/costs", ANN).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/admin/users/101/costs", ANN).await.status,
        StatusCode::FORBIDDEN
    );
}
