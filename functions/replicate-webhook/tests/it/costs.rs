//! What a finished job cost us: recorded once from Replicate's run time at its hardware's price,
//! with the day's margin as a metric.

use shared::metrics;
use shared::repo::costs::{self, UsdRates};
use testkit::fixtures;
use testkit::replicate::{job_failed, training_succeeded, with_run_time};

use crate::app::App;

/// Replicate's default prices: the trainer on an H100, the generations on the model's L40S.
const H100: f64 = 0.001525;
const L40S: f64 = 0.000975;
/// What Telegram pays for a star by default, and the small pack's price in stars.
const STAR: f64 = 0.013;
const SMALL_PACK_STARS: f64 = 150.0;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn a_finished_job_s_cost_is_recorded_once_with_the_day_s_margin() {
    let app = App::spawn().await;
    let db = app.env.db();
    let (user, model) = fixtures::user_with_ready_model(db, 1, 300).await;
    fixtures::small_pack_paid(db, user.id, "charge-1").await;
    fixtures::generation_in_flight(db, user.id, model.id, "pr_1", 4, 20).await;
    let revenue = SMALL_PACK_STARS * STAR;

    let succeeded = with_run_time(app.env.replicate.prediction_succeeded("pr_1", 4), 10.0);
    let first = app.deliver_measured("msg_1", &succeeded).await;
    let cost = 10.0 * L40S;
    assert_eq!(first.values("JobCostUsd").len(), 1, "{:?}", first.lines());
    assert!(close(first.values("JobCostUsd")[0], cost));
    assert!(close(first.values("DayMarginUsd")[0], revenue - cost));
    // Delivered again, under the same id or another: nothing more is counted.
    for webhook_id in ["msg_1", "msg_2"] {
        let again = app.deliver_measured(webhook_id, &succeeded).await;
        assert!(again.values("JobCostUsd").is_empty(), "{:?}", again.lines());
    }

    // A training runs on the trainer's hardware; a failed job costs its run time too.
    let trained = fixtures::training_model(db, user.id, "tr_1", 100).await;
    let training = app
        .deliver_measured("msg_3", &with_run_time(training_succeeded("tr_1"), 1200.0))
        .await;
    let training_cost = 1200.0 * H100;
    assert!(close(training.values("JobCostUsd")[0], training_cost));
    fixtures::generation_in_flight(db, user.id, model.id, "pr_2", 1, 5).await;
    let failed = with_run_time(job_failed("pr_2", "CUDA out of memory"), 4.0);
    let failure = app.deliver_measured("msg_4", &failed).await;
    let failure_cost = 4.0 * L40S;
    let total = cost + training_cost + failure_cost;
    assert!(close(failure.values("DayMarginUsd")[0], revenue - total));

    let rates = UsdRates::new(&app.env.config().costs.usd_rates);
    let conn = db.conn().await.unwrap();
    let mine = costs::for_user(&**conn, user.id, &rates).await.unwrap();
    assert_eq!(mine.jobs, 3);
    assert!(close(mine.cost_usd, total));
    assert!(close(mine.revenue_usd, revenue));
    assert!(close(mine.margin_usd(), revenue - total));
    let periods = costs::periods(&**conn, &rates).await.unwrap();
    let days: Vec<Option<i32>> = periods.iter().map(|p| p.days).collect();
    assert_eq!(days, vec![Some(1), Some(7), Some(30), None]);
    assert!(periods.iter().all(|p| p.economics == mine));
    let daily = costs::daily(&**conn, 3, &rates).await.unwrap();
    assert_eq!(daily.len(), 3);
    assert_eq!(daily[2].economics, mine, "today is the last");
    assert_eq!(daily[0].economics.jobs, 0);
    let stored: (String, f64, f64) = {
        let row = conn
            .query_one(
                "SELECT hardware, seconds, usd_per_second FROM job_costs WHERE replicate_id = 'tr_1'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(stored, ("gpu-h100".to_owned(), 1200.0, H100));
    assert_eq!(trained.user_id, user.id);
}

#[tokio::test]
async fn a_day_whose_jobs_cost_more_than_its_payments_reports_a_negative_margin() {
    let app = App::spawn().await;
    let (user, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    fixtures::generation_in_flight(app.env.db(), user.id, model.id, "pr_1", 2, 10).await;
    let succeeded = with_run_time(app.env.replicate.prediction_succeeded("pr_1", 2), 8.0);
    let measured = app.deliver_measured("msg_1", &succeeded).await;
    let margin = measured.values("DayMarginUsd");
    assert_eq!(margin.len(), 1, "{:?}", measured.lines());
    assert!(close(margin[0], -8.0 * L40S), "{margin:?}");
}

#[tokio::test]
async fn a_report_without_a_run_time_or_not_finished_records_no_cost() {
    let app = App::spawn().await;
    let (user, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    fixtures::generation_in_flight(app.env.db(), user.id, model.id, "pr_1", 2, 10).await;
    let running = with_run_time(
        testkit::replicate::job_with_status("pr_1", "processing"),
        3.0,
    );
    let measured = app.deliver_measured("msg_1", &running).await;
    assert!(measured.values("JobCostUsd").is_empty());
    let succeeded = app.env.replicate.prediction_succeeded("pr_1", 2);
    let measured = app.deliver_measured("msg_2", &succeeded).await;
    assert!(measured.values("JobCostUsd").is_empty());
    assert_eq!(testkit::stored::job_costs(app.env.db()).await, 0);
}

/// The database fails on the cost record, or on the generation's change that commits with it:
/// Replicate delivers again, and the cost counts once and the album is delivered once.
#[tokio::test]
async fn a_database_failure_around_the_cost_record_is_retried_by_redelivery_and_counts_once() {
    let app = App::spawn().await;
    let db = app.env.db();
    let (user, model) = fixtures::user_with_ready_model(db, 1, 100).await;
    let generation = fixtures::generation_in_flight(db, user.id, model.id, "pr_1", 2, 10).await;
    // The first insert of a cost fails, as a dropped connection would.
    fixtures::meanwhile(
        db,
        "fail_first_cost",
        "BEFORE INSERT ON job_costs",
        "IF nextval('fail_first_cost_count') = 1 THEN
             RAISE EXCEPTION 'injected failure' USING ERRCODE = '08006';
         END IF;
         RETURN NEW;",
    )
    .await;
    // And the first change of the generation after it, once the cost is in.
    fixtures::fail_first_update(
        db,
        "generations",
        "NEW.result_urls IS DISTINCT FROM OLD.result_urls",
    )
    .await;
    let succeeded = with_run_time(app.env.replicate.prediction_succeeded("pr_1", 2), 8.0);

    let mut counted = 0;
    for _ in 0..2 {
        let (status, measured) = metrics::capture(app.deliver("msg_1", &succeeded)).await;
        assert!(status.is_server_error());
        counted += measured.values("JobCostUsd").len();
    }
    let measured = app.deliver_measured("msg_1", &succeeded).await;
    counted += measured.values("JobCostUsd").len();
    assert_eq!(counted, 1, "the cost counted once");
    let stored = testkit::stored::generation(db, generation.id).await;
    assert_eq!(
        stored.status,
        shared::domain::status::GenerationStatus::Succeeded
    );
    assert_eq!(testkit::stored::job_costs(db).await, 1);
    assert_eq!(app.env.telegram.calls_of("sendMediaGroup").len(), 1);
}
