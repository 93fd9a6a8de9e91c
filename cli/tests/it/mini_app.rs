//! The Mini App's whole flow over HTTP, as a frontend developer builds it: presign 12 uploads, PUT
//! 12 photos of 3 MB each, train, the model becomes ready, generate, list the generations, and
//! download every image through the URL the API gives, after Replicate deleted its own copy: with
//! objects in a local directory (served by the API itself), in S3 (moto's), and on the
//! `dream-photo serve` binary as a developer runs it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::db::Db;
use shared::domain::status::ModelStatus;
use shared::storage::Storage;
use testkit::api::UploadSlots;
use testkit::moto::Moto;
use testkit::replicate::{output_image, training_succeeded};
use testkit::{fixtures, router, stored, FakeReplicate, FakeTelegram, TestEnv, PUBLIC_URL};
use tower::ServiceExt;

const USER: i64 = 4242;
const PHOTO_BYTES: usize = 3 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct ModelView {
    id: i64,
    status: String,
    preview_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GenerationView {
    id: i64,
    status: String,
    result_urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
}

/// A distinct photo of 3 MB (a JPEG's first bytes: all our checks read).
fn photo(n: u8) -> Vec<u8> {
    testkit::fake_jpeg_sized(PHOTO_BYTES, n)
}

/// Where the backend runs: in this process (as the Lambdas are wired), or as `dream-photo serve`.
enum Backend {
    InProcess {
        env: TestEnv,
        api: axum::Router,
        webhook: axum::Router,
        worker: Arc<training_worker::State>,
        jobs: tokio::sync::mpsc::UnboundedReceiver<shared::queue::TrainingJob>,
        _moto: Option<Moto>,
    },
    Serve {
        serve: crate::serve::Serve,
        telegram: FakeTelegram,
        replicate: FakeReplicate,
        db: Db,
    },
}

struct MiniApp {
    backend: Backend,
    /// What the backend keeps its objects in, to check what is left there.
    storage: Storage,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not the expected answer ({e}): {} {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as `T`, once the status is checked to be `status`.
    fn json_with<T: serde::de::DeserializeOwned>(&self, status: u16) -> T {
        assert_eq!(self.status, status, "{}", self.text());
        self.json()
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

impl MiniApp {
    async fn in_process(env: TestEnv, moto: Option<Moto>) -> Self {
        let (services, jobs) = env.services();
        Self {
            storage: services.storage().unwrap().clone(),
            backend: Backend::InProcess {
                api: api::router(api::State::new(services.clone())),
                webhook: replicate_webhook::router(replicate_webhook::State::new(services.clone())),
                worker: training_worker::State::new(services),
                jobs,
                env,
                _moto: moto,
            },
            http: reqwest::Client::new(),
        }
    }

    async fn serve() -> Self {
        let telegram = FakeTelegram::start().await;
        let replicate = FakeReplicate::start().await;
        let env = [
            ("REPLICATE_API_TOKEN", "r8_test_token".to_owned()),
            ("REPLICATE_API_URL", replicate.url()),
            (
                "REPLICATE_WEBHOOK_SECRET",
                testkit::REPLICATE_WEBHOOK_SECRET.to_owned(),
            ),
        ];
        let mut serve = crate::serve::Serve::start_with("mini-app", &telegram.url(), &env);
        let http = reqwest::Client::new();
        serve.wait_healthy(&http).await;
        let vars = |name: &str| match name {
            "DATABASE_URL" => Some(format!(
                "postgres://postgres@127.0.0.1:{}/dream_photo",
                serve.pg_port
            )),
            "STORAGE_DIR" => Some(serve.dir.0.join(".data/objects").display().to_string()),
            "STORAGE_PUBLIC_URL" => Some(serve.url("")),
            _ => None,
        };
        let config = shared::config::Config::from_lookup(vars).unwrap();
        Self {
            storage: Storage::from_config(&config.storage).unwrap().unwrap(),
            backend: Backend::Serve {
                db: Db::connect_lazy(&config.database).unwrap(),
                serve,
                telegram,
                replicate,
            },
            http,
        }
    }

    fn db(&self) -> &Db {
        match &self.backend {
            Backend::InProcess { env, .. } => env.db(),
            Backend::Serve { db, .. } => db,
        }
    }

    fn replicate(&self) -> &FakeReplicate {
        match &self.backend {
            Backend::InProcess { env, .. } => &env.replicate,
            Backend::Serve { replicate, .. } => replicate,
        }
    }

    fn telegram(&self) -> &FakeTelegram {
        match &self.backend {
            Backend::InProcess { env, .. } => &env.telegram,
            Backend::Serve { telegram, .. } => telegram,
        }
    }

    /// A request to `url` (or to a path of ours): in process, our API (and on one machine its
    /// objects) by the router and anything else (S3) over the network; `serve`, over the network.
    async fn fetch(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Answer {
        let url = match &self.backend {
            Backend::InProcess { api, .. } => {
                let ours = url
                    .strip_prefix(PUBLIC_URL)
                    .or(url.starts_with('/').then_some(url));
                if let Some(path) = ours {
                    let mut request = Request::builder().method(method).uri(path);
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                    let response = api
                        .clone()
                        .oneshot(request.body(Body::from(body)).unwrap())
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .unwrap()
                        .to_vec();
                    return Answer { status, body };
                }
                url.to_owned()
            }
            Backend::Serve { serve, .. } if url.starts_with('/') => serve.url(url),
            Backend::Serve { .. } => url.to_owned(),
        };
        let mut request = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        for (name, value) in headers {
            // reqwest sets the length from the body itself.
            if name != "content-length" {
                request = request.header(name, value);
            }
        }
        let response = request.body(body).send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut headers = vec![("authorization".to_owned(), tma(USER))];
        let body = match body {
            Some(body) => {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                body.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        self.fetch(method, path, &headers, body).await
    }

    /// The training job the API queued, delivered to the worker as SQS would (`serve` runs it
    /// itself: wait for the training to be created).
    async fn run_training_job(&mut self, model_id: i64) {
        match &mut self.backend {
            Backend::InProcess { worker, jobs, .. } => {
                let job = jobs.try_recv().expect("a training job was queued");
                let event = serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": serde_json::to_string(&job).unwrap()}]})).unwrap();
                let answer = training_worker::handle_batch(worker, event).await;
                assert!(answer.batch_item_failures.is_empty());
            }
            Backend::Serve { .. } => {
                let started = std::time::Instant::now();
                while stored::model(self.db(), model_id)
                    .await
                    .replicate_training_id
                    .is_none()
                {
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(60),
                        "serve's worker did not start the training"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn replicate_reports(&self, webhook_id: &str, job: &Value) {
        let (headers, body) = testkit::replicate::signed_webhook(
            testkit::REPLICATE_WEBHOOK_SECRET,
            webhook_id,
            job,
            chrono_now(),
        );
        let status = match &self.backend {
            Backend::InProcess { webhook, .. } => {
                router::send(webhook, router::post("/replicate/webhook", headers, body))
                    .await
                    .status
                    .as_u16()
            }
            Backend::Serve { .. } => {
                self.fetch("POST", "/replicate/webhook", &headers, body.into_bytes())
                    .await
                    .status
            }
        };
        assert_eq!(status, 200);
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tma(user_id: i64) -> String {
    let user = shared::auth::user_json(user_id, "Mia", Some("mia"));
    let fields = [
        ("user", user.as_str()),
        ("query_id", "AAHdF6IQAAAAAN0XohDhrOrc"),
    ];
    format!(
        "tma {}",
        shared::auth::sign(
            testkit::BOT_TOKEN,
            &fields,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
        )
    )
}

async fn the_whole_flow(mut app: MiniApp) {
    fixtures::user(app.db(), USER, 1000).await;
    let photos: Vec<Vec<u8>> = (1..=12).map(photo).collect();

    // 1. Twelve upload slots.
    let planned: Vec<Value> = photos
        .iter()
        .map(|p| json!({"content_type": "image/jpeg", "size": p.len()}))
        .collect();
    let slots: UploadSlots = app
        .call("POST", "/api/uploads", Some(json!({"photos": planned})))
        .await
        .json_with(201);
    assert_eq!(slots.uploads.len(), 12);

    // 2. Each photo PUT to its slot, with the headers it was signed with; a wrong size is refused
    //    on one machine (S3 refuses it by its signature, which moto does not check).
    for (slot, bytes) in slots.uploads.iter().zip(&photos) {
        assert_eq!(slot.method, "PUT");
        let headers: Vec<(String, String)> = slot.headers.clone().into_iter().collect();
        let put = app.fetch("PUT", &slot.url, &headers, bytes.clone()).await;
        assert_eq!(put.status, 200, "{}", put.text());
    }

    // 3. Train with the upload ids: paid, queued.
    let ids: Vec<&str> = slots.uploads.iter().map(|s| s.id.as_str()).collect();
    let model: ModelView = app
        .call(
            "POST",
            "/api/train",
            Some(json!({"name": "Mia", "upload_ids": ids})),
        )
        .await
        .json_with(202);
    assert_eq!(model.status, "queued");
    assert_eq!(stored::balance(app.db(), USER).await, 900);
    let taken_twice = app
        .call(
            "POST",
            "/api/train",
            Some(json!({"name": "Mia again", "upload_ids": ids})),
        )
        .await;
    assert_eq!(taken_twice.status, 422, "an upload trains one model");

    // 4. The worker zips the 12 photos from our bucket for Replicate; Replicate reports success.
    app.run_training_job(model.id).await;
    let zip = app.replicate().calls_to("POST", "/files").remove(0);
    let zipped = zip.body["multipart_bytes"].as_u64().unwrap() as usize;
    assert!(
        zipped > 12 * PHOTO_BYTES,
        "all 12 photos are in the zip ({zipped} bytes)"
    );
    let training_id = stored::model(app.db(), model.id)
        .await
        .replicate_training_id
        .unwrap();
    app.replicate_reports("msg_t", &training_succeeded(&training_id))
        .await;
    assert_eq!(
        stored::model(app.db(), model.id).await.status,
        ModelStatus::Ready
    );
    let kept = stored::photos(app.db(), model.id).await;
    assert_eq!(kept.len(), 12);
    // The photos were not kept for retraining: gone from the bucket with the training.
    let storage = &app.storage;
    for photo in &kept {
        let key = shared::storage::ObjectKey::parse(photo.storage_key.as_deref().unwrap()).unwrap();
        assert_eq!(storage.size(&key).await.unwrap(), None, "{key} deleted");
    }

    // 5. Generate two images; Replicate reports them; they are copied and sent to the chat.
    let generation: GenerationView = app
        .call(
            "POST",
            "/api/generations",
            Some(json!({"model_id": model.id, "prompt": "on a mountain", "count": 2})),
        )
        .await
        .json_with(202);
    let prediction_id = stored::generation(app.db(), generation.id)
        .await
        .replicate_prediction_id
        .unwrap();
    let done = app.replicate().prediction_succeeded(&prediction_id, 2);
    app.replicate_reports("msg_p", &done).await;
    assert_eq!(app.telegram().calls_of("sendMediaGroup").len(), 1);

    // 6. Replicate deletes its copies; our list still shows every image.
    app.replicate().delete_outputs();
    let page: Page<GenerationView> = app.call("GET", "/api/generations", None).await.json();
    let listed = &page.items[0];
    assert_eq!(
        (listed.id, listed.status.as_str()),
        (generation.id, "succeeded")
    );
    assert_eq!(listed.result_urls.len(), 2);
    let originals: Vec<String> = done["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    for (url, original) in listed.result_urls.iter().zip(&originals) {
        assert!(
            !url.contains("/delivery/"),
            "our copy, not Replicate's: {url}"
        );
        let gone = app.fetch("GET", original, &[], Vec::new()).await;
        assert_eq!(gone.status, 404, "Replicate's copy is gone");
        let image = app.fetch("GET", url, &[], Vec::new()).await;
        assert_eq!(image.status, 200, "{url}");
        let path = url::Url::parse(original).unwrap().path().to_owned();
        assert_eq!(image.body, output_image(&path), "the image Replicate made");
    }

    // The model's preview is our copy of its first image, too.
    let model: ModelView = app
        .call("GET", &format!("/api/models/{}", model.id), None)
        .await
        .json();
    let preview = app
        .fetch(
            "GET",
            model.preview_url.as_deref().unwrap(),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(preview.status, 200);
}

#[tokio::test]
async fn the_mini_app_flow_with_objects_on_this_machine() {
    let env = TestEnv::start().await;
    the_whole_flow(MiniApp::in_process(env, None).await).await;
}

#[tokio::test]
async fn the_mini_app_flow_with_objects_in_s3() {
    let moto = Moto::start();
    moto.create_bucket("dream-photo-test").await;
    let mut env = TestEnv::start().await;
    env.set("STORAGE_DIR", None);
    for (name, value) in moto.storage_vars("dream-photo-test") {
        env.set(name, Some(&value));
    }
    the_whole_flow(MiniApp::in_process(env, Some(moto)).await).await;
}

#[tokio::test]
async fn the_mini_app_flow_on_dream_photo_serve() {
    the_whole_flow(MiniApp::serve().await).await;
}
