//! A fake Telegram Bot API on a local port that records every call and answers like Telegram does.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "dream_photo_test_bot";
/// A token of the shape BotFather gives; the fake accepts any.
pub const BOT_TOKEN: &str = "7000000001:TEST-token_for-the-fake-api";

/// One Bot API call the fake received.
#[derive(Debug, Clone)]
pub struct SentCall {
    pub method: String,
    pub body: Value,
    /// The HTTP status the fake answered with (a scripted failure, or 200).
    pub status: u16,
    /// The request body as sent (a multipart upload's files are only here).
    pub raw: Vec<u8>,
}

impl SentCall {
    /// Telegram took it (a scripted failure did not).
    pub fn answered_ok(&self) -> bool {
        self.status == 200
    }

    pub fn chat_id(&self) -> Option<i64> {
        as_i64(&self.body["chat_id"])
    }
    pub fn text(&self) -> &str {
        self.body["text"]
            .as_str()
            .or(self.body["caption"].as_str())
            .unwrap_or_default()
    }

    /// The call's parameters as `T`; parameters of another shape fail the test, showing them.
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| {
            panic!(
                "{} was not called as expected ({e}): {}",
                self.method, self.body
            )
        })
    }

    /// The bytes of a file uploaded in the multipart field `name` (a `sendPhoto` of a picture we
    /// made), if there is one; a field that says `attach://<part>` is that part's.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        let part = self.part(name)?;
        match part.strip_prefix(b"attach://") {
            Some(attached) => self.part(std::str::from_utf8(attached).ok()?),
            None => Some(part),
        }
    }

    fn part(&self, name: &str) -> Option<Vec<u8>> {
        let raw = &self.raw;
        let first_line = raw.windows(2).position(|w| w == b"\r\n")?;
        let boundary = [b"\r\n", &raw[..first_line]].concat();
        let header = format!("name=\"{name}\"");
        let at = find(raw, header.as_bytes(), 0)?;
        let start = find(raw, b"\r\n\r\n", at)? + 4;
        let end = find(raw, &boundary, start)?;
        Some(raw[start..end].to_vec())
    }

    /// The inline keyboard's buttons, row by row, in one list (none without an inline keyboard).
    pub fn buttons(&self) -> Vec<Button> {
        serde_json::from_value::<Vec<Vec<Button>>>(
            self.body["reply_markup"]["inline_keyboard"].clone(),
        )
        .map(|rows| rows.into_iter().flatten().collect())
        .unwrap_or_default()
    }

    pub fn has_inline_keyboard(&self) -> bool {
        self.body["reply_markup"]["inline_keyboard"].is_array()
    }

    /// A `sendInvoice` or `createInvoiceLink`.
    pub fn invoice(&self) -> Invoice {
        self.parse()
    }

    /// An `answerPreCheckoutQuery`.
    pub fn pre_checkout_answer(&self) -> PreCheckoutAnswer {
        self.parse()
    }

    /// The photos of a `sendMediaGroup` (sent as JSON, or as a multipart field holding JSON).
    pub fn album(&self) -> Vec<InputMedia> {
        match &self.body["media"] {
            Value::String(media) => serde_json::from_str(media),
            media => serde_json::from_value(media.clone()),
        }
        .unwrap_or_else(|e| panic!("{} sent no album ({e}): {}", self.method, self.body))
    }
}

/// An inline keyboard button as sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Button {
    pub text: String,
    #[serde(default)]
    pub callback_data: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

impl Button {
    /// `(label, callback data)`.
    pub fn pressed(&self) -> (String, String) {
        (
            self.text.clone(),
            self.callback_data.clone().unwrap_or_default(),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub payload: String,
    pub currency: String,
    pub prices: Vec<LabeledPrice>,
    #[serde(default)]
    pub provider_token: Option<String>,
}

impl Invoice {
    /// The price of its one line.
    pub fn amount(&self) -> i64 {
        self.prices[0].amount
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LabeledPrice {
    pub amount: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PreCheckoutAnswer {
    pub ok: bool,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// A photo of an album.
#[derive(Debug, Clone, Deserialize)]
pub struct InputMedia {
    pub media: String,
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[derive(Default)]
struct State {
    calls: Vec<SentCall>,
    /// Scripted answers for the next calls of a method (e.g. a 429, a 403).
    scripted: HashMap<String, VecDeque<(u16, Option<Value>)>>,
    /// The bytes of files by file id (others are [`fake_jpeg`]).
    files: HashMap<String, Vec<u8>>,
}

/// Serves a file's download: its bytes when a test gave them, else [`fake_jpeg`].
struct Files(Arc<Mutex<State>>);

impl wiremock::Respond for Files {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        // `/file/bot<token>/photos/<file_id>.jpg`, as getFile answers.
        let file_id = request
            .url
            .path()
            .rsplit('/')
            .next()
            .and_then(|name| name.strip_suffix(".jpg"))
            .unwrap_or_default();
        let bytes = self.0.lock().expect("state").files.get(file_id).cloned();
        ResponseTemplate::new(200).set_body_bytes(bytes.unwrap_or_else(fake_jpeg))
    }
}

pub struct FakeTelegram {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("POST"))
            .and(path_regex(r"^/bot[^/]+/\w+$"))
            .respond_with(Responder {
                state: state.clone(),
                next_message_id: Arc::new(AtomicI64::new(100)),
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/file/bot[^/]+/.+$"))
            .respond_with(Files(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// Serves `bytes` as the file of the photo `updates::photo` (or `updates::document`) sends
    /// with `file_unique_id` (its file id is `file-<file_unique_id>`).
    pub fn serve_photo(&self, file_unique_id: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .expect("state")
            .files
            .insert(format!("file-{file_unique_id}"), bytes);
    }

    /// The base URL to put in `TELEGRAM_API_URL`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    pub fn calls(&self) -> Vec<SentCall> {
        self.state.lock().expect("state").calls.clone()
    }

    /// Calls of one method, e.g. `sendMessage`.
    pub fn calls_of(&self, method: &str) -> Vec<SentCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The last call of one method (the test fails when there is none).
    pub fn last_call(&self, method: &str) -> SentCall {
        self.calls_of(method)
            .pop()
            .unwrap_or_else(|| panic!("{method} was called"))
    }

    /// Messages (and photos, albums, edits) addressed to a chat, in order.
    pub fn sent_to(&self, chat_id: i64) -> Vec<SentCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.chat_id() == Some(chat_id))
            .collect()
    }

    /// The last message text sent to a chat.
    pub fn last_text_to(&self, chat_id: i64) -> Option<String> {
        self.sent_to(chat_id)
            .into_iter()
            .rev()
            .find(|c| c.method == "sendMessage" || c.method == "editMessageText")
            .map(|c| c.text().to_owned())
    }

    /// Makes the next call of `method` answer with this Bot API error.
    pub fn fail_next(
        &self,
        method: &str,
        error_code: u16,
        description: &str,
        retry_after: Option<u64>,
    ) {
        let mut body = json!({"ok": false, "error_code": error_code, "description": description});
        if let Some(secs) = retry_after {
            body["parameters"] = json!({"retry_after": secs});
        }
        self.script(method, error_code, Some(body));
    }

    /// Makes the next call of `method` fail like an unreachable API (a proxy's plain-text 502).
    pub fn outage_next(&self, method: &str) {
        self.script(method, 502, None);
    }

    /// The next call of `method` answers `status` with `answer` (a plain-text error without one).
    fn script(&self, method: &str, status: u16, answer: Option<Value>) {
        self.state
            .lock()
            .expect("state")
            .scripted
            .entry(method.to_owned())
            .or_default()
            .push_back((status, answer));
    }

    pub fn clear(&self) {
        self.state.lock().expect("state").calls.clear();
    }

    /// Forgets the failures still scripted for `method`: it answers normally again.
    pub fn clear_scripts(&self, method: &str) {
        self.state.lock().expect("state").scripted.remove(method);
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
    next_message_id: Arc<AtomicI64>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        // Bot API method names are case-insensitive; teloxide writes them as `SendMessage`.
        let mut method = request
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Some(first) = method.get_mut(0..1) {
            first.make_ascii_lowercase();
        }
        let body = parse_body(request);
        let scripted = {
            let mut state = self.state.lock().expect("state");
            let scripted = state
                .scripted
                .get_mut(&method)
                .and_then(VecDeque::pop_front);
            state.calls.push(SentCall {
                method: method.clone(),
                body: body.clone(),
                status: scripted.as_ref().map_or(200, |(status, _)| *status),
                raw: request.body.clone(),
            });
            scripted
        };
        match scripted {
            Some((status, Some(answer))) => {
                return ResponseTemplate::new(status).set_body_json(answer)
            }
            Some((status, None)) => {
                return ResponseTemplate::new(status).set_body_string("Bad Gateway")
            }
            None => {}
        }
        let result = self.result_for(&method, &body);
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": result}))
    }
}

impl Responder {
    fn message(&self, body: &Value, extra: Value) -> Value {
        let id = self.next_message_id.fetch_add(1, Ordering::SeqCst);
        let chat_id = as_i64(&body["chat_id"]).unwrap_or_default();
        let mut message = json!({
            "message_id": body["message_id"].as_i64().unwrap_or(id),
            "date": chrono::Utc::now().timestamp(),
            "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "Dream Photo", "username": BOT_USERNAME},
        });
        if let (Some(m), Some(e)) = (message.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        message
    }

    fn photo(&self, seed: i64) -> Value {
        json!([{"file_id": format!("tg-photo-{seed}"), "file_unique_id": format!("tgu-{seed}"),
                "width": 1024, "height": 1024, "file_size": 120000}])
    }

    fn result_for(&self, method: &str, body: &Value) -> Value {
        match method {
            "getMe" => {
                json!({"id": BOT_ID, "is_bot": true, "first_name": "Dream Photo", "username": BOT_USERNAME,
                              "can_join_groups": false, "can_read_all_group_messages": false,
                              "supports_inline_queries": false, "can_connect_to_business": false,
                              "has_main_web_app": false})
            }
            "sendMessage" | "editMessageText" => self.message(body, json!({"text": body["text"]})),
            "sendInvoice" => self.message(
                body,
                json!({"invoice": {"title": body["title"], "description": body["description"],
                                   "start_parameter": "", "currency": body["currency"],
                                   "total_amount": body["prices"][0]["amount"]}}),
            ),
            "sendPhoto" => {
                let seed = self.next_message_id.load(Ordering::SeqCst);
                self.message(body, json!({"photo": self.photo(seed)}))
            }
            "sendMediaGroup" => {
                let items = body["media"]
                    .as_array()
                    .cloned()
                    .or_else(|| {
                        body["media"]
                            .as_str()
                            .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
                    })
                    .unwrap_or_default();
                let group = format!("mg-{}", self.next_message_id.load(Ordering::SeqCst));
                Value::Array(
                    items
                        .iter()
                        .map(|_| {
                            let seed = self.next_message_id.load(Ordering::SeqCst);
                            self.message(
                                body,
                                json!({"photo": self.photo(seed), "media_group_id": group}),
                            )
                        })
                        .collect(),
                )
            }
            "getFile" => {
                let file_id = body["file_id"].as_str().unwrap_or_default();
                json!({"file_id": file_id, "file_unique_id": format!("u-{file_id}"), "file_size": 120000,
                       "file_path": format!("photos/{file_id}.jpg")})
            }
            "createInvoiceLink" => json!("https://t.me/$invoice-test"),
            "getWebhookInfo" => {
                json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})
            }
            "getUpdates" => json!([]),
            _ => json!(true),
        }
    }
}

/// Where `needle` first occurs in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

fn parse_body(request: &Request) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(&request.body) {
        return v;
    }
    // Form or multipart bodies: keep what we can read as text fields.
    let text = String::from_utf8_lossy(&request.body);
    let mut map = serde_json::Map::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        if let Some((name, rest)) = part.split_once('"') {
            let value = rest.split("\r\n\r\n").nth(1).unwrap_or_default();
            let value = value.split("\r\n--").next().unwrap_or_default();
            let parsed =
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
            map.insert(name.to_owned(), parsed);
        }
    }
    Value::Object(map)
}

/// A few bytes that start like a JPEG (the fakes never decode images).
pub fn fake_jpeg() -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    bytes.extend_from_slice(&[0u8; 64]);
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// [`fake_jpeg`] grown to `size` bytes of `fill`: distinct photos of a size the checks read.
pub fn fake_jpeg_sized(size: usize, fill: u8) -> Vec<u8> {
    let mut bytes = fake_jpeg();
    bytes.resize(size, fill);
    bytes
}
