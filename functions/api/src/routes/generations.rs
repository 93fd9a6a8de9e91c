//! Generations: `GET /api/generations`, `GET /api/generations/{id}`, `POST /api/generations`,
//! rating one: `POST /api/generations/{id}/feedback`, and a second try of one: "more like this"
//! (`POST /api/generations/{id}/again`, paid) and the free redo a rating of 1 or 2 earns
//! (`POST /api/generations/{id}/redo`).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use serde::Deserialize;
use shared::db::Client;
use shared::repo::{feedback, generations, rate_limits};
use shared::usecases::generation::{self, Again, Checked, GenerationRequest};
use shared::usecases::ServiceError;
use utoipa::ToSchema;

use crate::auth::{AuthUser, Caller};
use crate::error::{check_text, ApiResult, Error, Json, Path, Query};
use crate::idempotency::IdempotencyKey;
use crate::pagination::{PageParams, Paginated};
use crate::responses::{
    AuthErrors, FreeRedoRefused, Insufficient, Invalid, JsonBody, NotFound, RateLimited, Upstream,
};
use crate::routing::{routes, ApiRouter};
use crate::views::generations::{AspectRatio, Generation, Rated};
use crate::views::images::Images;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_generations, create_generation))
        .routes(routes!(get_generation))
        .routes(routes!(rate_generation))
        .routes(routes!(generate_again))
        .routes(routes!(redo_generation))
}

/// The caller's generations, newest first.
#[utoipa::path(get, path = "/api/generations", tag = "generations", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of the caller's generations", body = Paginated<Generation>),
              AuthErrors, Invalid))]
async fn list_generations(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> ApiResult<JsonResponse<Paginated<Generation>>> {
    let page = params.page()?;
    let (_, rows) = caller
        .with(&state, async move |db, user_id| {
            generations::list_for_user(db, user_id, page).await
        })
        .await?;
    let images = Images::for_response(&state).await?;
    Ok(JsonResponse(Paginated::map_rows(
        rows,
        page,
        |g| g.id,
        |g| Generation::signed(g, &images),
    )))
}

/// One of the caller's generations (poll it until `succeeded`: `result_urls` hold the images).
#[utoipa::path(get, path = "/api/generations/{id}", tag = "generations", security(("tma" = [])),
    params(("id" = i64, Path, description = "The generation's id")),
    responses((status = 200, description = "The generation", body = Generation), AuthErrors, NotFound))]
async fn get_generation(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Generation>> {
    let (_, generation) = caller
        .with(&state, async move |db, user_id| {
            generations::get_owned(db, id, user_id).await
        })
        .await?;
    let generation = generation.ok_or_else(|| Error::not_found("generation"))?;
    let images = Images::for_response(&state).await?;
    Ok(JsonResponse(Generation::signed(generation, &images)))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewGeneration {
    /// A ready model of the caller's (or a system model).
    pub model_id: i64,
    /// What to make, 1-500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub prompt: String,
    /// An active style from `GET /api/styles`.
    #[serde(default)]
    pub style_id: Option<i64>,
    /// Images to make, 1-4; each costs the generation price.
    #[schema(minimum = 1, maximum = 4)]
    pub count: i32,
    /// The images' shape; 1:1 when absent.
    #[serde(default)]
    pub aspect_ratio: Option<AspectRatio>,
}

/// Generates photos with a model: the cost (`count` x the price per image) is debited and the job
/// starts at Replicate; 202 with the generation, then poll it. If Replicate refuses, the tokens are
/// returned and the answer is 502. When Replicate's answer is lost and it cannot be asked either,
/// the answer is still 202, with the generation `pending`: it is paid and settled within minutes
/// (it starts, or fails and is refunded). Rate limited per user (10 a minute by default; requests
/// refused for their input do not count).
#[utoipa::path(post, path = "/api/generations", tag = "generations", security(("tma" = [])),
    params(IdempotencyKey),
    request_body = NewGeneration,
    responses((status = 202, description = "The generation is paid for and started", body = Generation),
              AuthErrors, JsonBody, Invalid, Insufficient, NotFound, RateLimited, Upstream))]
async fn create_generation(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Json(body): Json<NewGeneration>,
) -> ApiResult<(StatusCode, JsonResponse<Generation>)> {
    // Input that breaks a rule is refused before it counts against the rate limit.
    let block_list = &state.services.config.product.block_list;
    shared::domain::rules::validate_prompt(&body.prompt, block_list)?;
    shared::domain::rules::validate_image_count(body.count)?;
    let request = GenerationRequest {
        user_id: caller.id(),
        model_id: body.model_id,
        style_id: body.style_id,
        prompt: &body.prompt,
        images: body.count,
        aspect_ratio: body.aspect_ratio.map(Into::into).unwrap_or_default(),
    };
    let generation = start_paid(&state, caller, Asked::New(request)).await?;
    tracing::info!(generation_id = generation.id, "generation started");
    Ok((StatusCode::ACCEPTED, JsonResponse(generation.into())))
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct SecondTry {
    /// The images' shape; the generation's own when absent.
    #[serde(default)]
    pub aspect_ratio: Option<AspectRatio>,
}

/// "More like this": one of the caller's generations again, with the same model, prompt, style
/// and count and a new seed, in `aspect_ratio` (else its own). Paid like `POST /api/generations`
/// (202, then poll it; refunded with 502 if Replicate refuses) and rate limited with it.
#[utoipa::path(post, path = "/api/generations/{id}/again", tag = "generations", security(("tma" = [])),
    params(("id" = i64, Path, description = "The generation to repeat"), IdempotencyKey),
    request_body = SecondTry,
    responses((status = 202, description = "The new generation is paid for and started", body = Generation),
              AuthErrors, JsonBody, Invalid, Insufficient, NotFound, RateLimited, Upstream))]
async fn generate_again(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<SecondTry>,
) -> ApiResult<(StatusCode, JsonResponse<Generation>)> {
    second_try(&state, caller, id, body, Again::MoreLikeThis).await
}

/// The free redo of one of the caller's generations that they rated 1 or 2 (see the `free_redo`
/// of `POST /api/generations/{id}/feedback`): like `.../again`, but its price is credited
/// (`free_redo` in the ledger) and debited in one transaction, so the balance does not move. One
/// per generation (`FREE_REDOS_PER_GENERATION`), however often it is asked for, concurrently too;
/// a redo that fails gives nothing back but the redo itself (it may be asked for again).
#[utoipa::path(post, path = "/api/generations/{id}/redo", tag = "generations", security(("tma" = [])),
    params(("id" = i64, Path, description = "The generation rated 1 or 2"), IdempotencyKey),
    request_body = SecondTry,
    responses((status = 202, description = "The free redo is started", body = Generation),
              AuthErrors, JsonBody, Invalid, NotFound, FreeRedoRefused, RateLimited, Upstream))]
async fn redo_generation(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<SecondTry>,
) -> ApiResult<(StatusCode, JsonResponse<Generation>)> {
    second_try(&state, caller, id, body, Again::FreeRedo).await
}

/// Checks and starts a second try of generation `id` as `create_generation` does a new one.
async fn second_try(
    state: &State,
    caller: Caller,
    id: i64,
    body: SecondTry,
    again: Again,
) -> ApiResult<(StatusCode, JsonResponse<Generation>)> {
    let asked = Asked::Again {
        source_id: id,
        aspect_ratio: body.aspect_ratio.map(Into::into),
        again,
    };
    let generation = start_paid(state, caller, asked).await?;
    tracing::info!(
        generation_id = generation.id,
        again_of = id,
        free_redo = generation.free_redo,
        "second try started"
    );
    Ok((StatusCode::ACCEPTED, JsonResponse(generation.into())))
}

/// What the caller asked to generate: a new generation, or a second try of one of theirs.
enum Asked<'a> {
    New(GenerationRequest<'a>),
    Again {
        source_id: i64,
        aspect_ratio: Option<shared::domain::rules::AspectRatio>,
        again: Again,
    },
}

impl Asked<'_> {
    async fn check(
        &self,
        state: &State,
        db: &Client,
        user_id: i64,
    ) -> Result<Checked, ServiceError> {
        match *self {
            Asked::New(ref request) => generation::check(&state.services, db, request).await,
            Asked::Again {
                source_id,
                aspect_ratio,
                again,
            } => {
                generation::check_again(
                    &state.services,
                    db,
                    user_id,
                    source_id,
                    aspect_ratio,
                    again,
                )
                .await
            }
        }
    }
}

/// Starts what the caller asked for once it is checked, under the generation rate limit. The
/// caller's row, the rate limit's count and the checks go out together: one round trip (the
/// checks are made again when the caller was new or renamed and written meanwhile).
async fn start_paid(
    state: &State,
    caller: Caller,
    asked: Asked<'_>,
) -> ApiResult<generations::Generation> {
    let user_id = caller.id();
    let replicate = state.services.replicate()?;
    let limit = &state.limits.generation;
    let conn = state.conn().await?;
    let (row, decision, checked) = tokio::join!(
        caller.look_up(&conn),
        rate_limits::hit(&**conn, user_id, limit),
        asked.check(state, &conn, user_id),
    );
    let (caller, stands) = caller.meet_as_found(&conn, row?).await?;
    let decision = decision?;
    let checked = if stands {
        checked
    } else {
        asked.check(state, &conn, user_id).await
    };
    drop(conn);
    crate::limits::allow(caller.user.id, limit, decision)?;
    Ok(generation::start(&state.services, replicate, checked?).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Rating {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i16,
    /// Optional words, up to 1000 characters.
    pub comment: Option<String>,
}

/// Rates one of the caller's generations (again, to change it), with an optional comment; says
/// whether a free redo of it may now be asked for.
#[utoipa::path(post, path = "/api/generations/{id}/feedback", tag = "generations", security(("tma" = [])),
    params(("id" = i64, Path, description = "The generation's id")),
    request_body = Rating,
    responses((status = 200, description = "Stored", body = Rated), AuthErrors, JsonBody, Invalid, NotFound))]
async fn rate_generation(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<Rating>,
) -> ApiResult<JsonResponse<Rated>> {
    if !(1..=5).contains(&body.rating) {
        return Err(Error::invalid("rating", "must be 1 to 5"));
    }
    if let Some(comment) = &body.comment {
        check_text("comment", comment)?;
        if comment.chars().count() > 1000 {
            return Err(Error::invalid("comment", "must be at most 1000 characters"));
        }
    }
    let user_id = caller.user.id;
    let rated = generation::rate(&state.services, user_id, id, body.rating).await?;
    if let Some(comment) = body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        feedback::comment(&**state.conn().await?, id, user_id, comment).await?;
    }
    Ok(JsonResponse(Rated {
        rating: body.rating,
        free_redo: rated.free_redo,
    }))
}
