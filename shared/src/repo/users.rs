//! Users: registration from Telegram, profile, blocking, the bot conversation state.

use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::domain::lang::Lang;
use crate::domain::progress::Tracked;

use super::{
    boolean, changed_one, execute, fetch_opt, find, find_all, find_page, int8, jsonb, text,
    DbError, FromRow, GenericClient, Page,
};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
    /// The language they chose (`ru`, `en`), if they did.
    pub language: Option<String>,
    pub activated_at: DateTime<Utc>,
    pub tokens_left: i64,
    pub tokens_spent: i64,
    pub is_blocked: bool,
    pub bot_blocked: bool,
    pub referral_code: String,
    pub referred_by: Option<i64>,
    pub dialog: serde_json::Value,
}

const COLUMNS: &str = "id, username, first_name, last_name, language_code, language, activated_at, tokens_left, \
     tokens_spent, is_blocked, bot_blocked_at IS NOT NULL AS bot_blocked, referral_code, referred_by, dialog";

from_row!(User, table "users", columns COLUMNS, |row| {
    id, username, first_name, last_name, language_code, language, activated_at, tokens_left,
    tokens_spent, is_blocked, bot_blocked, referral_code, referred_by, dialog,
});

impl User {
    /// The language they are spoken to in: the one they chose, else their Telegram's.
    pub fn lang(&self) -> Lang {
        Lang::of(self.language.as_deref(), self.language_code.as_deref())
    }

    pub fn display_name(&self) -> String {
        match (&self.username, &self.last_name) {
            (Some(u), _) => format!("@{u}"),
            (None, Some(last)) => format!("{} {last}", self.first_name),
            (None, None) => self.first_name.clone(),
        }
    }
}

/// Who the user is, as Telegram (a message's `from`, or Mini App init data) tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramProfile {
    pub id: i64,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
}

/// Registers the user, or refreshes the names of a known one. Returns the user and whether they are new.
pub async fn register(
    db: &impl GenericClient,
    profile: &TelegramProfile,
) -> Result<(User, bool), DbError> {
    register_through(db, profile, true).await
}

/// [`register`] for a user seen outside the bot (the Mini App): that says nothing about whether the
/// bot may write to them, so a "blocked the bot" mark is kept.
pub async fn register_outside_the_bot(
    db: &impl GenericClient,
    profile: &TelegramProfile,
) -> Result<(User, bool), DbError> {
    register_through(db, profile, false).await
}

async fn register_through(
    db: &impl GenericClient,
    profile: &TelegramProfile,
    wrote_to_the_bot: bool,
) -> Result<(User, bool), DbError> {
    // A referral code collision is astronomically unlikely; retry once with a new code if it happens.
    for attempt in 0..2 {
        let code = new_referral_code();
        let result = db
            .query_typed_one(
                &format!(
                    "INSERT INTO users (id, username, first_name, last_name, language_code, referral_code)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (id) DO UPDATE SET
                        username = EXCLUDED.username, first_name = EXCLUDED.first_name,
                        last_name = EXCLUDED.last_name,
                        language_code = COALESCE(EXCLUDED.language_code, users.language_code),
                        bot_blocked_at = CASE WHEN $7 THEN NULL ELSE users.bot_blocked_at END,
                        updated_at = now()
                     RETURNING {COLUMNS}, (xmax = 0) AS created"
                ),
                &[
                    int8(&profile.id),
                    text(&profile.username),
                    text(&profile.first_name),
                    text(&profile.last_name),
                    text(&profile.language_code),
                    text(&code),
                    boolean(&wrote_to_the_bot),
                ],
            )
            .await;
        match result {
            Ok(row) => return Ok((User::from_row(&row), row.get("created"))),
            Err(e) if attempt == 0 && is_referral_code_collision(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns on its second attempt")
}

fn is_referral_code_collision(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().and_then(|d| d.constraint()) == Some("users_referral_code_key")
}

fn new_referral_code() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(10)
        .map(char::from)
        .collect()
}

/// Remembers the language the user chose. `None` when there is no such user.
pub async fn set_language(
    db: &impl GenericClient,
    id: i64,
    lang: Lang,
) -> Result<Option<User>, DbError> {
    let row = db
        .query_typed_opt(
            &format!(
                "UPDATE users SET language = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[int8(&id), text(&lang.code())],
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<User>, DbError> {
    find(db, "id = $1", &[int8(&id)]).await
}

/// The user a job's progress is shown to (its `job_progress` row's), read with no need to read that
/// row first.
pub async fn tracking(db: &impl GenericClient, job: Tracked) -> Result<Option<User>, DbError> {
    find(
        db,
        "id = (SELECT user_id FROM job_progress WHERE kind = $1 AND subject_id = $2)",
        &[text(&job.kind()), int8(&job.subject_id())],
    )
    .await
}

/// The owner of a generation, read with no need to read the generation first.
pub async fn generation_owner(
    db: &impl GenericClient,
    generation_id: i64,
) -> Result<Option<User>, DbError> {
    find(
        db,
        "id = (SELECT user_id FROM generations WHERE id = $1)",
        &[int8(&generation_id)],
    )
    .await
}

/// Locks the user's row until the transaction ends (serialises a user's dialogue steps).
pub async fn get_for_update(db: &impl GenericClient, id: i64) -> Result<Option<User>, DbError> {
    find(db, "id = $1 FOR UPDATE", &[int8(&id)]).await
}

pub async fn find_by_referral_code(
    db: &impl GenericClient,
    code: &str,
) -> Result<Option<User>, DbError> {
    find(db, "referral_code = $1", &[text(&code)]).await
}

/// Finds users by id, or by @username (case-insensitive, with or without the @).
pub async fn search(
    db: &impl GenericClient,
    query: &str,
    limit: i64,
) -> Result<Vec<User>, DbError> {
    let query = query.trim();
    let id: Option<i64> = query.parse().ok();
    let username = query.trim_start_matches('@').to_lowercase();
    find_all(
        db,
        "id = $1 OR lower(username) = $2 OR lower(username) LIKE $3
                 ORDER BY (id = $1 OR lower(username) = $2) DESC, id DESC LIMIT $4",
        &[
            int8(&id),
            text(&username),
            text(&format!("{}%", escape_like(&username))),
            int8(&limit),
        ],
    )
    .await
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub async fn list(db: &impl GenericClient, page: Page) -> Result<Vec<User>, DbError> {
    find_page(db, None, page).await
}

/// Blocks or unblocks a user (an admin action). Returns the user, or `None` if there is none.
pub async fn set_blocked(
    db: &impl GenericClient,
    id: i64,
    blocked: bool,
) -> Result<Option<User>, DbError> {
    let sql = format!(
        "UPDATE users SET is_blocked = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    fetch_opt(db, &sql, &[int8(&id), boolean(&blocked)]).await
}

/// The user blocked the bot (Telegram answered 403): stop sending them messages until they return.
pub async fn mark_bot_blocked(db: &impl GenericClient, id: i64) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE users SET bot_blocked_at = now() WHERE id = $1 AND bot_blocked_at IS NULL",
        &[int8(&id)],
    )
    .await
}

/// Moves the dialogue from `expected` to `next` only if it is still `expected`: of two deliveries
/// racing on one dialogue step (a retried update, a double press), one wins.
pub async fn replace_dialog(
    db: &impl GenericClient,
    id: i64,
    expected: &serde_json::Value,
    next: &serde_json::Value,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE users SET dialog = $3, updated_at = now() WHERE id = $1 AND dialog = $2",
        &[int8(&id), jsonb(expected), jsonb(next)],
    )
    .await
}

pub async fn set_dialog(
    db: &impl GenericClient,
    id: i64,
    dialog: &serde_json::Value,
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE users SET dialog = $2, updated_at = now() WHERE id = $1",
        &[int8(&id), jsonb(dialog)],
    )
    .await
}
