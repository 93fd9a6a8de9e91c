//! `Idempotency-Key`: a paid or state-changing request retried after a timeout (a flaky mobile
//! network, a double tap) is carried out once, and the retry gets the first answer again.
//!
//! A client sends `Idempotency-Key: <1-255 visible ASCII characters>` (a fresh UUID per user
//! action). The key is the caller's own ([`AuthUser`]; a request that fails auth never reaches the
//! key table) and holds for 24 hours ([`idempotency::KEEP_HOURS`]):
//!
//! - a new key: the request is carried out; a final answer (2xx, or a 4xx other than 408, 409, 429)
//!   is stored, any other (5xx, 408, 409, 429) gives the key back, so a retry is carried out afresh
//!   (our use cases charge nothing, or refund, when they fail);
//! - the same key with the same request (sha256 of method, path and body): the stored answer, same
//!   status and body bytes, with `Idempotent-Replayed: true`; nothing is carried out;
//! - the same key with another request: 422 `idempotency_key_reused`;
//! - while the first request runs: 409 `idempotency_key_in_progress` with `Retry-After: 1`;
//! - a first request that died mid-way (still `running` past [`LEASE_SECONDS`]): 409
//!   `idempotency_key_interrupted`; it may have been carried out, so it is never carried out again
//!   with that key (the client checks, then uses a new key);
//! - a header that is not 1-255 visible ASCII characters: 400 `invalid_idempotency_key`.
//!
//! # Opting a route in: one line
//!
//! Add `params(IdempotencyKey)` to the route's `#[utoipa::path(...)]` (next to its other params, if
//! any):
//!
//! ```ignore
//! #[utoipa::path(post, path = "/api/uploads", params(IdempotencyKey), ...)]
//! ```
//!
//! That one line is both the documentation and the behaviour: [`apply`] answers the requests of the
//! operations that declare the header in the routes' OpenAPI document through [`guard`] (one layer
//! over the API's routes, after routing), and [`document`] adds to each of them the 400/409/422
//! answers above and the `Idempotent-Replayed` header. A route that does not declare it ignores the
//! header.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use sha2::{Digest, Sha256};
use shared::db::DbError;
use shared::errors::Transient;
use shared::repo::idempotency::{self, Claimed, Held, KeyClaim, StoredAnswer};
use shared::telemetry::error_chain;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder};

use crate::auth::AuthUser;
use crate::error::{body_rejection, Error};
use crate::routing::ApiDocument;
use crate::State;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The header of a replayed answer (`true`).
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key.
pub const MAX_KEY_LEN: usize = 255;
/// How long a first request may run before its key, still `running`, is taken for interrupted.
/// Well past the API function's timeout (29 s, API Gateway's limit), so only a dead request lapses.
pub const LEASE_SECONDS: f64 = 90.0;

/// Why a request with an `Idempotency-Key` was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("the Idempotency-Key header must be 1-{MAX_KEY_LEN} visible ASCII characters: {0}")]
    InvalidKey(&'static str),
    #[error(
        "this Idempotency-Key was used for another request (another method, path or body); \
         use a new key for a new request"
    )]
    Reused,
    #[error("a request with this Idempotency-Key is still running; retry in a second")]
    InProgress,
    #[error(
        "the first request with this Idempotency-Key was interrupted and may have been carried \
         out: check (e.g. GET /api/generations, GET /api/models, GET /api/me) before trying again \
         with a new key"
    )]
    Interrupted,
    #[error("the idempotency key could not be claimed")]
    Db(#[from] DbError),
}

impl Transient for IdempotencyError {
    fn is_transient(&self) -> bool {
        match self {
            IdempotencyError::Db(e) => e.is_transient(),
            IdempotencyError::InvalidKey(_)
            | IdempotencyError::Reused
            | IdempotencyError::InProgress
            | IdempotencyError::Interrupted => false,
        }
    }
}

impl From<IdempotencyError> for Error {
    fn from(e: IdempotencyError) -> Self {
        let message = e.to_string();
        match e {
            IdempotencyError::InvalidKey(reason) => {
                Error::new(StatusCode::BAD_REQUEST, "invalid_idempotency_key", message)
                    .with_details(json!({"header": "Idempotency-Key", "reason": reason}))
            }
            IdempotencyError::Reused => Error::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                message,
            ),
            IdempotencyError::InProgress => Error {
                retry_after: Some(1),
                ..Error::new(StatusCode::CONFLICT, "idempotency_key_in_progress", message)
            },
            IdempotencyError::Interrupted => {
                Error::new(StatusCode::CONFLICT, "idempotency_key_interrupted", message)
            }
            IdempotencyError::Db(db) => db.into(),
        }
    }
}

/// The key of a request, if it has one: 1-255 visible ASCII characters, sent once.
pub fn key_of(headers: &HeaderMap) -> Result<Option<&str>, IdempotencyError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(IdempotencyError::InvalidKey("sent more than once"));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(IdempotencyError::InvalidKey("empty"));
    }
    if bytes.len() > MAX_KEY_LEN {
        return Err(IdempotencyError::InvalidKey("too long"));
    }
    if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(IdempotencyError::InvalidKey(
            "holds a space, a control or a non-ASCII character",
        ));
    }
    // Visible ASCII is valid text.
    value
        .to_str()
        .map(Some)
        .map_err(|_| IdempotencyError::InvalidKey("not ASCII"))
}

/// What a request is, for telling a retry from another request with the same key.
pub fn request_hash(method: &Method, path_and_query: &str, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b" ");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().into()
}

/// Whether an answer is final (stored and replayed) rather than one a retry may change (the key is
/// given back).
pub fn is_final(status: StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error()
            && !matches!(
                status,
                StatusCode::REQUEST_TIMEOUT | StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS
            ))
}

/// The `Idempotency-Key` header parameter of an operation that opts in: `params(IdempotencyKey)`.
pub struct IdempotencyKey;

impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![key_parameter()]
    }
}

const KEY_PARAMETER: &str = "Idempotency-Key";

fn key_parameter() -> Parameter {
    ParameterBuilder::new()
        .name(KEY_PARAMETER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: send a new random key (a UUID) per user action and the same key \
             when retrying it. Within 24 hours the same key and the same request (method, path, \
             body) are carried out once; a retry gets the first final answer again (any 2xx, or \
             a 4xx other than 408, 409 and 429: same status and body) with \
             `Idempotent-Replayed: true`. A 5xx, 408, 409 or 429 is not kept: a retry with the \
             key is carried out afresh. The key is the caller's own.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_KEY_LEN))
                .pattern(Some("^[\\x21-\\x7E]{1,255}$")),
        ))
        .build()
}

/// The operations of `openapi` (method, path) that declare the header.
fn opted_in(openapi: &utoipa::openapi::OpenApi) -> HashSet<(Method, String)> {
    let mut routes = HashSet::new();
    for (path, item) in &openapi.paths.paths {
        for (method, operation) in [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::PATCH, &item.patch),
        ] {
            if operation.as_ref().is_some_and(declares_key) {
                routes.insert((method, path.clone()));
            }
        }
    }
    routes
}

fn declares_key(operation: &Operation) -> bool {
    operation.parameters.as_ref().is_some_and(|params| {
        params
            .iter()
            .any(|p| p.parameter_in == ParameterIn::Header && p.name == KEY_PARAMETER)
    })
}

const INVALID_KEY: &str = "an `Idempotency-Key` that is not 1-255 visible ASCII characters \
                           (`invalid_idempotency_key`)";
const KEY_CONFLICT: &str = "the first request with this `Idempotency-Key` is still running \
    (`idempotency_key_in_progress`, with `Retry-After: 1`), or was interrupted and may have been \
    carried out: check before trying again with a new key (`idempotency_key_interrupted`)";
const KEY_REUSED: &str = "this `Idempotency-Key` was used for another request \
                          (`idempotency_key_reused`)";

/// Adds the key's answers to an opted-in operation: to its 400, 409 and 422 (made when missing),
/// and `Idempotent-Replayed` to its successes.
fn document_operation(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    for (status, text) in [
        ("400", INVALID_KEY),
        ("409", KEY_CONFLICT),
        ("422", KEY_REUSED),
    ] {
        let entry = responses.entry(status.to_owned()).or_insert_with(|| {
            ResponseBuilder::new()
                .description("")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        });
        if let RefOr::T(response) = entry {
            response.description = if response.description.is_empty() {
                capitalized(text)
            } else {
                format!("{}; or {text}", response.description)
            };
            if status == "409" {
                response.headers.entry("Retry-After".to_owned()).or_insert(
                    crate::responses::integer_header(
                        "Seconds to wait before retrying a request whose key is in progress",
                    ),
                );
            }
        }
    }
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Idempotent-Replayed".to_owned(),
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String))
                    .description(Some(
                        "`true` when this is the stored answer of the first request with the \
                         same `Idempotency-Key` (nothing was carried out again)",
                    ))
                    .build(),
            );
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The operations (method, path) that declare the header, read from the document on the first
/// request that carries a key.
type OptedIn =
    LazyLock<HashSet<(Method, String)>, Box<dyn FnOnce() -> HashSet<(Method, String)> + Send>>;

/// What [`guard`] needs: the state, and the operations that opted in.
#[derive(Clone)]
pub struct Idempotency {
    state: Arc<State>,
    routes: Arc<OptedIn>,
}

/// Documents the key's answers on each operation of `openapi` that declares `Idempotency-Key`.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            if declares_key(operation) {
                document_operation(operation);
            }
        }
    }
}

/// Puts the API's routes whose operations in `document` declare `Idempotency-Key` behind [`guard`].
pub fn apply(router: Router, document: Arc<ApiDocument>, state: Arc<State>) -> Router {
    let routes: OptedIn = LazyLock::new(Box::new(move || opted_in(document.get())));
    let idempotency = Idempotency {
        state,
        routes: Arc::new(routes),
    };
    router.layer(axum::middleware::from_fn_with_state(idempotency, guard))
}

/// The layer: requests to opted-in routes that carry a key are carried out at most once per key.
pub async fn guard(
    AxumState(idempotency): AxumState<Idempotency>,
    request: Request,
    next: Next,
) -> Response {
    // Without a key there is nothing to guard (and no need to read which routes take one).
    if !request.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    let opted_in = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| {
            idempotency
                .routes
                .contains(&(request.method().clone(), path.as_str().to_owned()))
        });
    if !opted_in {
        return next.run(request).await;
    }
    match once(&idempotency.state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn once(state: &Arc<State>, request: Request, next: Next) -> Result<Response, Error> {
    let key = match key_of(request.headers())? {
        Some(key) => key.to_owned(),
        None => return Ok(next.run(request).await),
    };
    let (mut parts, body) = request.into_parts();
    let caller = AuthUser::from_request_parts(&mut parts, state).await?;
    // The body, read as a handler would (the body limit holds).
    let mut read = Request::new(body);
    *read.extensions_mut() = parts.extensions.clone();
    let bytes = Bytes::from_request(read, state)
        .await
        .map_err(body_rejection)?;
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let hash = request_hash(&parts.method, path, &bytes);
    let claim = KeyClaim {
        user_id: caller.user.id,
        key: &key,
        request_hash: &hash,
    };
    let claimed = idempotency::claim(&**state.conn().await?, &claim, LEASE_SECONDS)
        .await
        .map_err(IdempotencyError::from)?;
    let held = match claimed {
        Claimed::New(held) => held,
        Claimed::Done(answer) => return Ok(replay(answer)),
        Claimed::OtherRequest => return Err(IdempotencyError::Reused.into()),
        Claimed::Running => return Err(IdempotencyError::InProgress.into()),
        Claimed::Interrupted => {
            tracing::warn!(
                user_id = caller.user.id,
                "a request's idempotency key was interrupted"
            );
            return Err(IdempotencyError::Interrupted.into());
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (head, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "an answer could not be read");
            release(state, &claim, held).await;
            return Err(Error::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the answer could not be read",
            ));
        }
    };
    if is_final(head.status) {
        let answer = StoredAnswer {
            status: head.status.as_u16(),
            content_type: head
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: body.to_vec(),
        };
        store(state, &claim, held, &answer).await;
    } else {
        release(state, &claim, held).await;
    }
    Ok(Response::from_parts(head, Body::from(body)))
}

/// Keeps a final answer. When it cannot be stored, the key stays `running` and lapses into
/// interrupted: a retry is never carried out again (the work was done), and the client is told to
/// check.
async fn store(state: &State, claim: &KeyClaim<'_>, held: Held, answer: &StoredAnswer) {
    let stored = match state.services.db().conn().await {
        Ok(conn) => idempotency::store(&**conn, claim, held, answer).await,
        Err(e) => Err(e),
    }
    .map_err(IdempotencyError::from);
    match stored {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            user_id = claim.user_id,
            "an idempotency key was no longer held when its answer was stored"
        ),
        Err(e) => tracing::warn!(error = %error_chain(&e), transient = e.is_transient(),
            user_id = claim.user_id, "an answer could not be stored for its idempotency key"),
    }
}

/// Gives the key back after an answer a retry may change. When that fails, the key lapses into
/// interrupted (the client is told to check and use a new key): never a second execution.
async fn release(state: &State, claim: &KeyClaim<'_>, held: Held) {
    let released = match state.services.db().conn().await {
        Ok(conn) => idempotency::release(&**conn, claim, held).await,
        Err(e) => Err(e),
    }
    .map_err(IdempotencyError::from);
    if let Err(e) = released {
        tracing::warn!(error = %error_chain(&e), transient = e.is_transient(),
            user_id = claim.user_id, "an idempotency key could not be released");
    }
}

/// The first request's answer again.
fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    if let Some(value) = answer
        .content_type
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}
