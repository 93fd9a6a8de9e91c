//! `dream-photo serve` end to end, as a person runs it: the binary starts its own Postgres, serves
//! every route on one port, answers a Telegram /start in the webhook response, and stops cleanly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::cluster::free_port;
use testkit::updates::{self, TgUser};
use testkit::{FakeTelegram, BOT_TOKEN};

pub(crate) struct Serve {
    child: Child,
    pub port: u16,
    pub pg_port: u16,
    pub dir: TempDir,
}

pub(crate) struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Serve {
    /// A test that ends without stopping `serve` (it passed, or it failed half-way) stops it as
    /// Ctrl+C would, so neither it nor its Postgres outlives the test.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let started = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Serve {
    fn start(telegram_url: &str) -> Self {
        Self::start_with("hello", telegram_url, &[])
    }

    /// `serve` in a directory of its own (`name` tells tests of one process apart), with `env` added.
    pub(crate) fn start_with(name: &str, telegram_url: &str, env: &[(&str, String)]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("dream-photo-serve-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port().unwrap();
        let pg_port = free_port().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_dream-photo"))
            .args([
                "serve",
                "--port",
                &port.to_string(),
                "--pg-port",
                &pg_port.to_string(),
            ])
            .arg("--data-dir")
            .arg(dir.join("pg"))
            .current_dir(&dir)
            .env_remove("DATABASE_URL")
            .env("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
            .env(
                "TELEGRAM_WEBHOOK_SECRET",
                "serve-secret-0123456789abcdef0123456789",
            )
            .env("TELEGRAM_API_URL", telegram_url)
            .env("PUBLIC_URL", "https://dream.example.com")
            .env("RUST_LOG", "warn")
            // The fakes' photos are not images (as in the test kit's environment).
            .env("PHOTO_CHECK", "false")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dream-photo serve starts");
        Self {
            child,
            port,
            pg_port,
            dir: TempDir(dir),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) async fn wait_healthy(&mut self, http: &reqwest::Client) -> Value {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("serve exited early: {status}");
            }
            if let Ok(response) = http.get(self.url("/health")).send().await {
                if response.status().is_success() {
                    return response.json().await.unwrap();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "serve did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn interrupt_and_wait(mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not stop on Ctrl+C"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test]
async fn serve_runs_everything_on_one_port_and_answers_start() {
    let telegram = FakeTelegram::start().await;
    let mut serve = Serve::start(&telegram.url());
    let http = reqwest::Client::new();

    let health = serve.wait_healthy(&http).await;
    assert_eq!(health["database"]["status"], "ok");
    assert_eq!(
        http.get(serve.url("/docs")).send().await.unwrap().status(),
        200
    );
    let spec: Value = http
        .get(serve.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/health"].is_object());

    let ann = TgUser::new(4242, "Ann");
    let wrong = http
        .post(serve.url("/telegram/webhook"))
        .header("x-telegram-bot-api-secret-token", "nope")
        .json(&updates::text(1, &ann, "/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let response = http
        .post(serve.url("/telegram/webhook"))
        .header(
            "x-telegram-bot-api-secret-token",
            "serve-secret-0123456789abcdef0123456789",
        )
        .json(&updates::text(2, &ann, "/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The welcome rides in the response, for Telegram to send (no Bot API call of ours).
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["method"], "sendMessage", "{reply}");
    assert_eq!(reply["chat_id"], 4242);
    assert!(reply["text"].as_str().unwrap().contains("Dream Photo"));
    assert!(telegram.sent_to(4242).is_empty());

    // Unconfigured parts answer 503 and name the variable.
    let replicate = http
        .post(serve.url("/replicate/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(replicate.status(), 503);
    let body: Value = replicate.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("REPLICATE_WEBHOOK_SECRET"));

    let (client, connection) = tokio_postgres::connect(
        &format!(
            "postgres://postgres@127.0.0.1:{}/dream_photo",
            serve.pg_port
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT first_name FROM users WHERE id = 4242", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Ann");
    drop(client);

    let pg_port = serve.pg_port;
    let status = serve.interrupt_and_wait();
    assert!(status.success(), "serve exits cleanly on Ctrl+C: {status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", pg_port)).is_err(),
        "the Postgres it started is stopped"
    );
}
