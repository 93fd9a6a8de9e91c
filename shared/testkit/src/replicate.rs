//! A fake Replicate API on a local port: records every call, answers like Replicate, and lets a test
//! decide what a training or prediction reports (and sign the webhook Replicate would send).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use shared::signature::WebhookSecret;

pub const ACCOUNT: &str = "dreamtest";
pub const TRAINER_VERSION: &str = "trainer-version-1";

#[derive(Debug, Clone)]
pub struct ReplicateCall {
    pub method: String,
    pub path: String,
    /// JSON bodies parsed; multipart bodies as `{"multipart_bytes": n}`.
    pub body: Value,
}

impl ReplicateCall {
    /// The call's body as `T`; a body of another shape fails the test, showing it.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| {
            panic!(
                "{} {} was not called as expected ({e}): {}",
                self.method, self.path, self.body
            )
        })
    }

    /// An input parameter of a training or prediction created (`input.<name>`).
    pub fn input(&self, name: &str) -> &Value {
        &self.body["input"][name]
    }

    /// The webhook a training or prediction was created with.
    pub fn webhook(&self) -> &str {
        self.body["webhook"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    calls: Vec<ReplicateCall>,
    models: HashSet<String>,
    /// What GET /trainings/{id} and /predictions/{id} answer.
    jobs: HashMap<String, Value>,
    /// Scripted answers for the next calls whose path starts with a prefix.
    scripted: Vec<(String, VecDeque<Script>)>,
    /// Paths (prefixes) that always answer a status, e.g. a job whose status never reads.
    always: Vec<(String, u16)>,
    /// Trainings and predictions created (or added by a test), oldest first: what the list
    /// endpoints answer, newest first.
    created_trainings: Vec<Value>,
    created_predictions: Vec<Value>,
    /// Replicate deleted its copies of the outputs (as it does within the hour).
    outputs_deleted: bool,
    /// Outputs deleted one by one (their paths).
    outputs_lost: HashSet<String>,
    /// The file CDN answers this status for now (a 500, say).
    outputs_failing: Option<u16>,
    /// The file CDN answers each output this late.
    outputs_delay: Option<std::time::Duration>,
    /// How many times an output was asked for.
    outputs_asked: usize,
}

/// How a scripted call goes wrong.
#[derive(Debug, Clone)]
enum Script {
    /// Answers `status` with `{"detail": ...}`; nothing happens.
    Fail(u16, Value),
    /// Does what was asked (a job is created), then answers `status` as if it failed.
    AcceptThen(u16),
    /// Does what was asked, then answers only after `delay` (past our client's timeout).
    AcceptThenHang(std::time::Duration),
    /// 429 with a `Retry-After` header; nothing happens.
    Throttle(u64),
}

pub struct FakeReplicate {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeReplicate {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Responder {
                state: state.clone(),
                base: server.uri(),
                next_id: Arc::new(AtomicU64::new(1)),
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The base URL to put in `REPLICATE_API_URL`.
    pub fn url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    pub fn calls(&self) -> Vec<ReplicateCall> {
        self.state.lock().expect("state").calls.clone()
    }

    /// Calls whose method is `method` and whose path starts with `/v1{prefix}`.
    pub fn calls_to(&self, method: &str, prefix: &str) -> Vec<ReplicateCall> {
        let prefix = format!("/v1{prefix}");
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(&prefix))
            .collect()
    }

    /// Makes the next call under `/v1{prefix}` answer `status` with `{"detail": ...}`.
    pub fn fail_next(&self, prefix: &str, status: u16, detail: &str) {
        self.script(prefix, Script::Fail(status, json!({"detail": detail})));
    }

    /// The next call under `/v1{prefix}` is carried out (a training or prediction is created and
    /// listed) and then answers `status`, as when Replicate fails after taking a job.
    pub fn accept_then_fail_next(&self, prefix: &str, status: u16) {
        self.script(prefix, Script::AcceptThen(status));
    }

    /// The next call under `/v1{prefix}` is carried out, and its answer comes only after `delay`
    /// (a connection that hangs past our timeout, or drops, after the job was taken).
    pub fn accept_then_hang_next(&self, prefix: &str, delay: std::time::Duration) {
        self.script(prefix, Script::AcceptThenHang(delay));
    }

    /// The next call under `/v1{prefix}` is throttled: 429 with `Retry-After: seconds`.
    pub fn throttle_next(&self, prefix: &str, retry_after_seconds: u64) {
        self.script(prefix, Script::Throttle(retry_after_seconds));
    }

    /// Every call under `/v1{prefix}` answers `status` from now on.
    pub fn fail_always(&self, prefix: &str, status: u16) {
        let mut state = self.state.lock().expect("state");
        state.always.push((format!("/v1{prefix}"), status));
    }

    /// Stops what [`FakeReplicate::fail_always`] started: Replicate is back.
    pub fn heal(&self) {
        self.state.lock().expect("state").always.clear();
    }

    fn script(&self, prefix: &str, script: Script) {
        let mut state = self.state.lock().expect("state");
        let prefix = format!("/v1{prefix}");
        match state.scripted.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, queue)) => queue.push_back(script),
            None => state.scripted.push((prefix, VecDeque::from([script]))),
        }
    }

    /// Adds a training to what `GET /v1/trainings` lists (as if created by a call we never saw
    /// answered): `{"id", "webhook", "input", ...}`.
    pub fn add_training(&self, training: Value) {
        let mut state = self.state.lock().expect("state");
        state.created_trainings.push(training);
    }

    /// Adds a prediction to what `GET /v1/predictions` lists, like [`FakeReplicate::add_training`].
    pub fn add_prediction(&self, prediction: Value) {
        let mut state = self.state.lock().expect("state");
        state.created_predictions.push(prediction);
    }

    /// The trainings created at the fake (or added), oldest first.
    pub fn trainings(&self) -> Vec<Value> {
        self.state.lock().expect("state").created_trainings.clone()
    }

    /// The predictions created at the fake, oldest first.
    pub fn predictions(&self) -> Vec<Value> {
        self.state
            .lock()
            .expect("state")
            .created_predictions
            .clone()
    }

    /// A finished prediction with `n` images, served by this fake (`GET /delivery/...`) until
    /// [`FakeReplicate::delete_outputs`].
    pub fn prediction_succeeded(&self, id: &str, n: usize) -> Value {
        let base = self.server.uri();
        let output: Vec<String> = (0..n)
            .map(|i| format!("{base}/delivery/pbxt/{id}/out-{i}.jpg"))
            .collect();
        json!({"id": id, "status": "succeeded", "output": output, "error": null})
    }

    /// Replicate's file CDN answers `status` for every output until [`FakeReplicate::heal_outputs`].
    pub fn fail_outputs(&self, status: u16) {
        self.state.lock().expect("state").outputs_failing = Some(status);
    }

    pub fn heal_outputs(&self) {
        self.state.lock().expect("state").outputs_failing = None;
    }

    /// Replicate's file CDN answers each output `delay` late (the request is seen at once: see
    /// [`FakeReplicate::outputs_asked`]).
    pub fn delay_outputs(&self, delay: std::time::Duration) {
        self.state.lock().expect("state").outputs_delay = Some(delay);
    }

    /// How many times an output was asked for.
    pub fn outputs_asked(&self) -> usize {
        self.state.lock().expect("state").outputs_asked
    }

    /// Replicate no longer has the `index`-th output of the prediction `id` (its URL answers 404).
    pub fn lose_output(&self, id: &str, index: usize) {
        let path = format!("/delivery/pbxt/{id}/out-{index}.jpg");
        self.state.lock().expect("state").outputs_lost.insert(path);
    }

    /// Replicate deletes its copies of every output (their URLs answer 404 from now on).
    pub fn delete_outputs(&self) {
        self.state.lock().expect("state").outputs_deleted = true;
    }

    /// Sets what Replicate reports for a training or prediction when asked (polling).
    pub fn set_job(&self, job: Value) {
        let id = job["id"].as_str().expect("a job id").to_owned();
        self.state.lock().expect("state").jobs.insert(id, job);
    }
}

/// A finished training as Replicate reports it.
pub fn training_succeeded(id: &str) -> Value {
    json!({
        "id": id, "status": "succeeded", "model": "ostris/flux-dev-lora-trainer",
        "output": {"version": format!("{ACCOUNT}/dream-photo-loras:{}", "a".repeat(64)),
                   "weights": format!("https://replicate.delivery/xezq/{id}/trained_model.tar")},
        "error": null, "logs": "done"
    })
}

/// A running job as its `logs` webhook reports it: its logs so far, ending in the tqdm line of
/// `step` of `total` (as the FLUX LoRA trainer and the FLUX models write it), `seconds_left` to go.
pub fn logs_report(id: &str, step: i32, total: i32, seconds_left: i32) -> Value {
    let percent = step * 100 / total;
    let bar = "█".repeat((percent / 10) as usize);
    let logs = format!(
        "Downloading weights\nCaptioning 12 images\n\
         flux_train_replicate:   0%|          | 0/{total} [00:00<?, ?it/s]\r\
         flux_train_replicate: {percent:>3}%|{bar:<10}| {step}/{total} [01:00<{:02}:{:02}, 1.45it/s]",
        seconds_left / 60,
        seconds_left % 60
    );
    json!({"id": id, "status": "processing", "output": null, "error": null, "logs": logs})
}

/// `job` as Replicate reports it once finished: with the seconds it ran (what Replicate bills).
pub fn with_run_time(mut job: Value, seconds: f64) -> Value {
    job["metrics"] = json!({"predict_time": seconds, "total_time": seconds + 1.5});
    job
}

pub fn job_failed(id: &str, error: &str) -> Value {
    json!({"id": id, "status": "failed", "output": null, "error": error})
}

pub fn job_with_status(id: &str, status: &str) -> Value {
    json!({"id": id, "status": status, "output": null, "error": null})
}

/// What the fake serves at an output URL: the start of a JPEG (what our checks read), and a tail
/// saying which image it is.
pub fn output_image(path: &str) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    bytes.extend_from_slice(path.as_bytes());
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// The headers and body of a webhook Replicate would post, signed with `secret` at `now`.
pub fn signed_webhook(
    secret: &str,
    webhook_id: &str,
    job: &Value,
    now: i64,
) -> (Vec<(String, String)>, String) {
    let body = job.to_string();
    let key = WebhookSecret::parse(secret).expect("a whsec_ secret");
    let signature = key.sign(webhook_id, now, body.as_bytes());
    (
        vec![
            ("webhook-id".into(), webhook_id.into()),
            ("webhook-timestamp".into(), now.to_string()),
            ("webhook-signature".into(), signature),
            ("content-type".into(), "application/json".into()),
        ],
        body,
    )
}

struct Responder {
    state: Arc<Mutex<State>>,
    base: String,
    next_id: Arc<AtomicU64>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let method = request.method.to_string();
        let path = request.url.path().to_owned();
        if path.starts_with("/delivery/") {
            // Replicate's file CDN, not its API: not recorded as a call.
            let mut state = self.state.lock().expect("state");
            state.outputs_asked += 1;
            if let Some(status) = state.outputs_failing {
                return ResponseTemplate::new(status);
            }
            if state.outputs_deleted || state.outputs_lost.contains(&path) || method != "GET" {
                return ResponseTemplate::new(404);
            }
            let image = ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(output_image(&path));
            return match state.outputs_delay {
                Some(delay) => image.set_delay(delay),
                None => image,
            };
        }
        let body = serde_json::from_slice::<Value>(&request.body)
            .unwrap_or_else(|_| json!({"multipart_bytes": request.body.len()}));
        let mut state = self.state.lock().expect("state");
        state.calls.push(ReplicateCall {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        if let Some((_, status)) = state
            .always
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
        {
            return ResponseTemplate::new(*status).set_body_json(json!({"detail": "scripted"}));
        }
        let script = state
            .scripted
            .iter_mut()
            .find(|(p, q)| path.starts_with(p.as_str()) && !q.is_empty())
            .and_then(|(_, queue)| queue.pop_front());
        let answer = match script {
            Some(Script::Fail(status, answer)) => {
                return ResponseTemplate::new(status).set_body_json(answer)
            }
            Some(Script::Throttle(seconds)) => {
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", seconds.to_string().as_str())
                    .set_body_json(json!({"detail": format!("Request was throttled. Your rate limit resets in ~{seconds}s.")}))
            }
            other => (self.answer(&mut state, request, &method, &path, body), other),
        };
        match answer {
            (_, Some(Script::AcceptThen(status))) => ResponseTemplate::new(status)
                .set_body_json(json!({"detail": "Internal server error"})),
            (template, Some(Script::AcceptThenHang(delay))) => template.set_delay(delay),
            (template, _) => template,
        }
    }
}

impl Responder {
    fn answer(
        &self,
        state: &mut State,
        request: &Request,
        method: &str,
        path: &str,
        body: Value,
    ) -> ResponseTemplate {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
        match (method, segments.as_slice()) {
            ("GET", ["account"]) => ok(json!({"type": "user", "username": ACCOUNT})),
            ("POST", ["files"]) => created(json!({
                "id": format!("file{id}"),
                "urls": {"get": format!("{}/v1/files/file{id}/download", self.base)},
                "content_type": "application/zip", "size": request.body.len()
            })),
            ("DELETE", ["files", _]) => ResponseTemplate::new(204),
            // Uploaded files are served to their owner only.
            ("GET", ["files", _, "download"]) => {
                let authorized = request
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer "));
                if authorized {
                    ResponseTemplate::new(200).set_body_bytes(crate::fake_jpeg())
                } else {
                    ResponseTemplate::new(401).set_body_json(json!({"detail": "Unauthenticated"}))
                }
            }
            ("GET", ["models", owner, name]) => {
                let full = format!("{owner}/{name}");
                if full == "ostris/flux-dev-lora-trainer" {
                    ok(
                        json!({"owner": owner, "name": name, "latest_version": {"id": TRAINER_VERSION}}),
                    )
                } else if state.models.contains(&full) {
                    ok(json!({"owner": owner, "name": name, "visibility": "private"}))
                } else {
                    ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."}))
                }
            }
            ("POST", ["models"]) => {
                let full = format!(
                    "{}/{}",
                    body["owner"].as_str().unwrap_or_default(),
                    body["name"].as_str().unwrap_or_default()
                );
                state.models.insert(full);
                created(body)
            }
            ("POST", ["models", _, _, "versions", _, "trainings"]) => {
                let job = json!({"id": format!("tr{id}"), "status": "starting", "input": body["input"],
                                 "webhook": body["webhook"], "output": null});
                state.created_trainings.push(job.clone());
                created(job)
            }
            ("POST", ["predictions"]) => {
                let job = json!({"id": format!("pr{id}"), "status": "starting", "input": body["input"],
                                 "webhook": body["webhook"], "output": null});
                state.created_predictions.push(job.clone());
                created(job)
            }
            // Newest first, one page.
            ("GET", ["trainings"]) => ok(
                json!({"results": state.created_trainings.iter().rev().collect::<Vec<_>>(), "next": null}),
            ),
            ("GET", ["predictions"]) => ok(
                json!({"results": state.created_predictions.iter().rev().collect::<Vec<_>>(), "next": null}),
            ),
            ("GET", ["trainings" | "predictions", job_id]) => match state.jobs.get(*job_id) {
                Some(job) => ok(job.clone()),
                None => ok(job_with_status(job_id, "processing")),
            },
            ("POST", ["trainings" | "predictions", _, "cancel"]) => ok(json!({})),
            ("DELETE", ["models", _, _, "versions", _]) => ResponseTemplate::new(202),
            _ => ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."})),
        }
    }
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn created(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(body)
}
