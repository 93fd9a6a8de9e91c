//! The gauges the scheduled housekeeping emits: the effect backlog and the training queue.

use shared::metrics;
use testkit::{fixtures, TestEnv};

#[tokio::test]
async fn housekeeping_measures_the_training_queue_and_the_effect_backlog() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let user = fixtures::user(env.db(), 1, 100).await;
    let model = fixtures::queued_model(env.db(), user.id, 10, 100).await;
    fixtures::queued_hours_ago(env.db(), model.id).await;

    let (report, captured) = metrics::capture(training_worker::housekeeping(&services)).await;
    report.expect("housekeeping");

    assert_eq!(captured.values("TrainingQueueDepth"), vec![1.0]);
    let age = captured.values("TrainingQueueAge");
    assert_eq!(age.len(), 1);
    assert!(age[0] >= 7.0 * 3600.0, "{age:?}");
    // Nothing is left due after the drain.
    assert_eq!(captured.values("EffectBacklog"), vec![0.0]);
    assert_eq!(captured.values("OldestDueEffectAge"), vec![0.0]);
}
