//! Who is calling: `Authorization: tma <initData>`, the Telegram Mini App's init data, validated
//! with the bot's token ([`shared::auth`]). The user is registered on first sight (and joins through
//! a referral code given as `start_param`), and their names are refreshed when Telegram's differ.
//!
//! - no `tma` credentials: 401 `missing_auth`
//! - a bad signature or malformed data: 401 `invalid_init_data`
//! - older than `INIT_DATA_MAX_AGE_SECONDS`: 401 `expired_init_data`
//! - a user blocked by an admin: 403 `blocked`; [`AdminUser`] for someone who is no admin: 403

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::json;
use shared::auth::{self, InitDataError};
use shared::db::Client;
use shared::repo::users::{self, TelegramProfile, User};
use shared::usecases::users::FROM_THE_MINI_APP;
use shared::usecases::{self, admin::Role};

use crate::error::{ApiResult, Error};
use crate::State;

/// The caller, registered, not blocked.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    /// Registered by this request.
    pub created: bool,
}

/// The caller, who is an owner (ADMIN_IDS) or an admin an owner added.
#[derive(Debug, Clone)]
pub struct AdminUser {
    pub user: User,
    pub role: Role,
}

fn unauthorized(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(StatusCode::UNAUTHORIZED, code, message)
}

impl From<InitDataError> for Error {
    fn from(e: InitDataError) -> Self {
        match e {
            InitDataError::Missing => unauthorized(
                "missing_auth",
                "send the Mini App's init data as Authorization: tma <initData>",
            ),
            InitDataError::Expired {
                age_seconds,
                max_age_seconds,
            } => unauthorized("expired_init_data", e.to_string()).with_details(
                json!({"age_seconds": age_seconds, "max_age_seconds": max_age_seconds}),
            ),
            InitDataError::BadSignature => unauthorized("invalid_init_data", e.to_string())
                .with_details(json!({"reason": "bad_signature"})),
            InitDataError::Malformed(_) => unauthorized("invalid_init_data", e.to_string())
                .with_details(json!({"reason": "malformed"})),
        }
    }
}

/// The raw init data of `Authorization: tma <initData>` (the scheme is case-insensitive).
pub fn init_data_of(parts: &Parts) -> Result<&str, InitDataError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(InitDataError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| InitDataError::Malformed("the Authorization header is not text".into()))?
        .trim();
    let (scheme, data) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("tma") {
        return Err(InitDataError::Missing);
    }
    let data = data.trim();
    if data.is_empty() {
        return Err(InitDataError::Missing);
    }
    Ok(data)
}

/// The caller as their init data says, checked but not yet looked up: for a route that reads, so that
/// the caller's row and the route's answer come in one round trip ([`Caller::with`]).
#[derive(Debug, Clone)]
pub struct Caller {
    profile: TelegramProfile,
    start_param: Option<String>,
    /// Looked up already (by the idempotency layer, for the key it keeps).
    met: Option<AuthUser>,
}

impl FromRequestParts<Arc<State>> for Caller {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        let services = &state.services;
        let token =
            services
                .config
                .telegram
                .bot_token
                .as_ref()
                .ok_or(shared::services::Unavailable {
                    what: "Mini App sign-in",
                    var: "TELEGRAM_BOT_TOKEN",
                })?;
        let raw = init_data_of(parts)?;
        let init = auth::validate(
            raw,
            token.expose(),
            Some(services.config.init_data_max_age_seconds),
            chrono::Utc::now().timestamp(),
        )?;
        let Some(web_user) = init.user else {
            return Err(unauthorized(
                "invalid_init_data",
                "the init data names no user (open the Mini App from a chat with the bot)",
            )
            .with_details(json!({"reason": "no_user"})));
        };
        let profile = web_user.profile();
        let has_nul = |text: Option<&str>| text.is_some_and(|t| t.contains('\0'));
        if has_nul(Some(&profile.first_name))
            || has_nul(profile.username.as_deref())
            || has_nul(profile.last_name.as_deref())
            || has_nul(profile.language_code.as_deref())
        {
            return Err(
                unauthorized("invalid_init_data", "the user's names hold NUL characters")
                    .with_details(json!({"reason": "malformed"})),
            );
        }
        tracing::Span::current().record("user_id", profile.id);
        Ok(Caller {
            profile,
            start_param: init.start_param.filter(|c| !c.contains('\0')),
            met: parts.extensions.get::<AuthUser>().cloned(),
        })
    }
}

impl Caller {
    /// The caller, registered and not blocked, with `read` of their data: the caller's row and the
    /// read are sent together on one connection (tokio-postgres pipelines them), so a known caller
    /// costs one round trip. A new or renamed caller is written first and read for again.
    pub async fn with<T, E>(
        self,
        state: &State,
        read: impl AsyncFn(&Client, i64) -> Result<T, E>,
    ) -> ApiResult<(AuthUser, T)>
    where
        Error: From<E>,
    {
        let conn = state.conn().await?;
        let id = self.id();
        let (row, answer) = tokio::join!(self.look_up(&conn), read(&conn, id));
        let (caller, stands) = self.meet_as_found(&conn, row?).await?;
        let answer = if stands {
            answer?
        } else {
            read(&conn, id).await?
        };
        Ok((caller, answer))
    }

    /// The caller's id, as their init data says.
    pub fn id(&self) -> i64 {
        self.profile.id
    }

    /// The caller's row, for [`Caller::meet_as_found`]: join it with the route's own statements on the
    /// same connection, so they share one round trip. (Nothing is read when the caller was met
    /// already.)
    pub async fn look_up(&self, db: &Client) -> Result<Option<User>, shared::db::DbError> {
        match self.met {
            Some(_) => Ok(None),
            None => users::get(db, self.profile.id).await,
        }
    }

    /// The caller, registered and not blocked, from the row [`Caller::look_up`] found; with whether
    /// what was read beside it stands (false: the caller was new or renamed and written now, so
    /// reads of theirs are to be made again).
    pub async fn meet_as_found(
        self,
        db: &Client,
        row: Option<User>,
    ) -> ApiResult<(AuthUser, bool)> {
        if let Some(met) = self.met.clone() {
            return Ok((met, true));
        }
        let current = row
            .as_ref()
            .is_some_and(|u| usecases::users::is_current(u, &self.profile, FROM_THE_MINI_APP));
        Ok((self.meet(db, row).await?, current))
    }

    /// Registers the caller or refreshes their names as `known` shows them (a blocked account changes
    /// nothing, not even its names), and joins them through the referral code they came with.
    async fn meet(self, db: &Client, known: Option<User>) -> ApiResult<AuthUser> {
        if known.as_ref().is_some_and(|u| u.is_blocked) {
            return Err(blocked());
        }
        let (mut user, created) =
            usecases::users::meet(db, &self.profile, FROM_THE_MINI_APP, known).await?;
        // (The service decides whether the user is new enough to be referred, with no query
        // for one who is not.)
        if let Some(code) = self.start_param.as_deref() {
            if let Some(referrer) = usecases::referrals::join(db, &user, created, code).await? {
                tracing::info!(
                    user_id = user.id,
                    referrer,
                    "joined through a referral code"
                );
                user.referred_by = Some(referrer);
            }
        }
        if user.is_blocked {
            return Err(blocked());
        }
        Ok(AuthUser { user, created })
    }
}

fn blocked() -> Error {
    Error::new(StatusCode::FORBIDDEN, "blocked", "this account is blocked")
}

impl FromRequestParts<Arc<State>> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(known) = parts.extensions.get::<AuthUser>() {
            return Ok(known.clone());
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        let conn = state.conn().await?;
        let known = users::get(&**conn, caller.profile.id).await?;
        let auth = caller.meet(&conn, known).await?;
        drop(conn);
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

impl FromRequestParts<Arc<State>> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        let AuthUser { user, .. } = AuthUser::from_request_parts(parts, state).await?;
        let db = state.services.db();
        let role = usecases::admin::role(&state.services, &**db.conn().await?, user.id).await?;
        match role {
            Some(role) => Ok(AdminUser { user, role }),
            None => Err(Error::forbidden("only admins may use this route")),
        }
    }
}
