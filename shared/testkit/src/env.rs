//! A whole test environment: a fresh database, the fake Bot API, the fake Replicate, and a
//! [`Config`] pointing at them.

use std::collections::HashMap;

use shared::config::Config;
use shared::db::Db;
use shared::queue::{TrainingJob, TrainingQueue};
use shared::services::Services;

use crate::{test_db, FakeReplicate, FakeTelegram, TestDb, BOT_TOKEN};

pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789abcdef";
/// A Standard Webhooks secret (24 random bytes, base64) for the fake Replicate's signatures.
pub const REPLICATE_WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const ADMIN_ID: i64 = 900_001;
pub const PUBLIC_URL: &str = "https://dream.example.com";

pub struct TestEnv {
    pub db: TestDb,
    pub telegram: FakeTelegram,
    pub replicate: FakeReplicate,
    pub vars: HashMap<String, String>,
    /// The test's object storage (`STORAGE_DIR`), removed with it.
    pub objects: ObjectsDir,
}

/// A directory of objects that is gone when the test is.
pub struct ObjectsDir(pub std::path::PathBuf);

impl ObjectsDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(std::env::temp_dir().join(format!("dream-photo-objects-{}-{n}", std::process::id())))
    }

    /// The files stored under `prefix` (`generations/1/`), relative to the storage root, sorted.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out);
        out.retain(|p| p.starts_with(prefix));
        out.sort();
        out
    }
}

impl Drop for ObjectsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestEnv {
    pub async fn start() -> Self {
        let db = test_db().await;
        let telegram = FakeTelegram::start().await;
        let replicate = FakeReplicate::start().await;
        let objects = ObjectsDir::new();
        let vars = [
            ("DATABASE_URL", db.url.clone()),
            ("DATABASE_POOL_SIZE", "1".to_owned()), // as on Lambda: catches code that needs two connections at once
            ("TELEGRAM_BOT_TOKEN", BOT_TOKEN.to_owned()),
            ("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("TELEGRAM_API_URL", telegram.url()),
            (
                "REPLICATE_WEBHOOK_SECRET",
                REPLICATE_WEBHOOK_SECRET.to_owned(),
            ),
            ("REPLICATE_API_TOKEN", "r8_test_token".to_owned()),
            ("REPLICATE_API_URL", replicate.url()),
            ("PUBLIC_URL", PUBLIC_URL.to_owned()),
            ("ADMIN_IDS", ADMIN_ID.to_string()),
            ("ADMIN_CHAT_ID", ADMIN_ID.to_string()),
            ("STORAGE_DIR", objects.0.to_string_lossy().into_owned()),
            // The fakes' photos are not images: the photo check's own tests turn it on.
            ("PHOTO_CHECK", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self {
            db,
            telegram,
            replicate,
            vars,
            objects,
        }
    }

    /// The test's database.
    pub fn db(&self) -> &Db {
        &self.db.db
    }

    /// Sets (or with `None`, removes) a variable before `config()`/`services()`. Photo URLs are
    /// fetched as in production (https, public addresses only) unless a test that serves photos
    /// from a local fake sets `PHOTO_FETCH_ALLOW_PRIVATE` to `true`.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.vars.insert(name.to_owned(), v.to_owned()),
            None => self.vars.remove(name),
        };
    }

    /// Posts nothing: the signed headers and body of a Replicate webhook for `job`.
    pub fn signed_replicate_webhook(
        &self,
        webhook_id: &str,
        job: &serde_json::Value,
    ) -> (Vec<(String, String)>, String) {
        crate::replicate::signed_webhook(
            REPLICATE_WEBHOOK_SECRET,
            webhook_id,
            job,
            chrono::Utc::now().timestamp(),
        )
    }

    pub fn config(&self) -> Config {
        Config::from_lookup(|k| self.vars.get(k).cloned()).expect("test configuration is valid")
    }

    /// Services with an in-process training queue, and its receiving end.
    pub fn services(&self) -> (Services, tokio::sync::mpsc::UnboundedReceiver<TrainingJob>) {
        let (queue, jobs) = TrainingQueue::in_process();
        (
            Services::new(self.config(), queue).expect("services build"),
            jobs,
        )
    }
}
