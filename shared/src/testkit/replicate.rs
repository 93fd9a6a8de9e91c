//! A fake Replicate API on a local port: records every call, answers like Replicate, and lets a test
//! decide what a training or prediction reports (and sign the webhook Replicate would send).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::signature::WebhookSecret;

pub const ACCOUNT: &str = "dreamtest";
pub const TRAINER_VERSION: &str = "trainer-version-1";

#[derive(Debug, Clone)]
pub struct ReplicateCall {
    pub method: String,
    pub path: String,
    /// JSON bodies parsed; multipart bodies as `{"multipart_bytes": n}`.
    pub body: Value,
}

#[derive(Default)]
struct State {
    calls: Vec<ReplicateCall>,
    models: HashSet<String>,
    /// What GET /trainings/{id} and /predictions/{id} answer.
    jobs: HashMap<String, Value>,
    /// Scripted answers for the next calls whose path starts with a prefix.
    scripted: Vec<(String, VecDeque<(u16, Value)>)>,
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
        let mut state = self.state.lock().expect("state");
        let prefix = format!("/v1{prefix}");
        let answer = (status, json!({"detail": detail}));
        match state.scripted.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, queue)) => queue.push_back(answer),
            None => state.scripted.push((prefix, VecDeque::from([answer]))),
        }
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

pub fn job_failed(id: &str, error: &str) -> Value {
    json!({"id": id, "status": "failed", "output": null, "error": error})
}

pub fn job_with_status(id: &str, status: &str) -> Value {
    json!({"id": id, "status": status, "output": null, "error": null})
}

/// A finished prediction with `n` images.
pub fn prediction_succeeded(id: &str, n: usize) -> Value {
    let output: Vec<String> = (0..n)
        .map(|i| format!("https://replicate.delivery/pbxt/{id}/out-{i}.jpg"))
        .collect();
    json!({"id": id, "status": "succeeded", "output": output, "error": null})
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
        let body = serde_json::from_slice::<Value>(&request.body)
            .unwrap_or_else(|_| json!({"multipart_bytes": request.body.len()}));
        let mut state = self.state.lock().expect("state");
        state.calls.push(ReplicateCall {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        if let Some((_, queue)) = state
            .scripted
            .iter_mut()
            .find(|(p, q)| path.starts_with(p.as_str()) && !q.is_empty())
        {
            let (status, answer) = queue.pop_front().expect("not empty");
            return ResponseTemplate::new(status).set_body_json(answer);
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
        match (method.as_str(), segments.as_slice()) {
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
                    ResponseTemplate::new(200).set_body_bytes(super::fake_jpeg())
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
            ("POST", ["models", _, _, "versions", _, "trainings"]) => created(
                json!({"id": format!("tr{id}"), "status": "starting", "input": body["input"], "output": null}),
            ),
            ("POST", ["predictions"]) => created(
                json!({"id": format!("pr{id}"), "status": "starting", "input": body["input"], "output": null}),
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
