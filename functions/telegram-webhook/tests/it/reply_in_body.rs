//! Benchmark (ignored by default; `.ci/bench/run.sh` runs it): the same `/help` update handled
//! with its reply in the webhook response, and with the reply sent through the Bot API (what
//! long polling does), against a real Postgres and the local fake Bot API.

use std::time::{Duration, Instant};

use telegram_webhook::{process_polled_update, process_update};
use teloxide_core::types::Update;
use testkit::updates::{self, TgUser};
use testkit::TestEnv;

const UPDATES: i64 = 500;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    let mean = samples.iter().sum::<Duration>().as_secs_f64() * 1000.0 / samples.len() as f64;
    println!(
        "{name}: {} updates, mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms",
        samples.len(),
        at(0.5),
        at(0.99)
    );
}

#[tokio::test]
#[ignore = "a benchmark: cargo test -p telegram-webhook --test it reply_in_body -- --ignored --nocapture"]
async fn reply_in_the_response_versus_through_the_bot_api() {
    let env = TestEnv::start().await;
    let (queue, _jobs) = shared::queue::TrainingQueue::in_process();
    let services = shared::services::Services::new(env.config(), queue).unwrap();
    let state = telegram_webhook::State::new(services);
    let ann = TgUser::new(1001, "Ann");
    // Parsed from text as the webhook does (teloxide's Update reads differently from a `Value`).
    let update = |id: i64| -> Update {
        serde_json::from_str(&updates::text(id, &ann, "/help").to_string()).unwrap()
    };
    // Warm up: the user row, the pool's connection, the HTTP client's connection.
    process_polled_update(&state, update(1)).await.unwrap();

    let mut in_body = Vec::new();
    let mut sent = Vec::new();
    for i in 0..UPDATES {
        let started = Instant::now();
        let reply = process_update(&state, update(10 + 2 * i)).await.unwrap();
        in_body.push(started.elapsed());
        assert!(
            reply.is_some(),
            "/help ends with a reply for the response: {reply:?}"
        );

        let started = Instant::now();
        process_polled_update(&state, update(11 + 2 * i))
            .await
            .unwrap();
        sent.push(started.elapsed());
    }
    assert_eq!(env.telegram.sent_to(1001).len() as i64, UPDATES + 1);
    summary("reply in the webhook response", in_body);
    summary("reply through the Bot API", sent);
}
