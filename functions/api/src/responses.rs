//! The error responses routes declare in the OpenAPI document, in reusable sets (each a JSON
//! [`web::ErrorBody`]).

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

fn error(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

pub(crate) fn integer_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Integer),
        )
        .description(Some(description))
        .build()
}

macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $description:literal),+ $(,)? }) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($status.to_string(), decorate($status, error($description)))),+])
            }
        }
    };
}

fn decorate(status: &str, response: ResponseBuilder) -> RefOr<Response> {
    let response = match status {
        "429" => response.header(
            "Retry-After",
            integer_header("Seconds until the rate limit's window ends"),
        ),
        "401" => response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                )
                .description(Some("`tma`"))
                .build(),
        ),
        _ => response,
    };
    response.build().into()
}

error_set!(
    /// What any authenticated route can answer.
    AuthErrors {
        "400" => "The request cannot be read: a path or query parameter that does not parse (`bad_request`), or a body that is not JSON (`malformed_json`)",
        "401" => "No init data (`missing_auth`), a bad signature or malformed init data (`invalid_init_data`), or init data older than allowed (`expired_init_data`)",
        "403" => "The account is blocked by an admin (`blocked`)",
        "500" => "An unexpected failure on our side (`internal`)",
        "503" => "A part is not configured (`not_configured`) or a dependency does not answer (`temporarily_unavailable`)",
    }
);

error_set!(
    /// Admin routes.
    AdminErrors {
        "400" => "The request cannot be read: a path or query parameter that does not parse (`bad_request`), or a body that is not JSON (`malformed_json`)",
        "401" => "No init data (`missing_auth`), a bad signature or malformed init data (`invalid_init_data`), or init data older than allowed (`expired_init_data`)",
        "403" => "Not an admin (`forbidden`), or the account is blocked (`blocked`)",
        "500" => "An unexpected failure on our side (`internal`)",
        "503" => "A part is not configured (`not_configured`) or a dependency does not answer (`temporarily_unavailable`)",
    }
);

error_set!(
    /// No such resource, or not the caller's (never told apart).
    NotFound { "404" => "No such resource, or it is not yours (`not_found`)" }
);

error_set!(
    /// Parameters or a body with rules.
    Invalid { "422" => "A field or parameter is missing, of the wrong type, or breaks a rule; `details.field` names it when known (`validation_failed`)" }
);

error_set!(
    /// A training request's body and photos.
    TrainInvalid { "422" => "A field is missing, of the wrong type, or breaks a rule; `details.field` names it when known (`validation_failed`); or fewer than 10 photos passed the photo check (`photos_rejected`): `details.photos` is each photo's `PhotoVerdict`, `details.good` how many passed; nothing is charged" }
);

error_set!(
    /// A JSON body.
    JsonBody {
        "413" => "The body is larger than 4.5 MB (`payload_too_large`)",
        "415" => "The body is not sent as JSON (`unsupported_media_type`)",
    }
);

error_set!(
    /// The balance does not cover the cost.
    Insufficient { "402" => "Not enough tokens; `details.available` and `details.required` (`insufficient_tokens`)" }
);

error_set!(
    /// State conflicts.
    Conflict { "409" => "The resource is in a state that does not allow this (`conflict`)" }
);

error_set!(
    /// Costly routes.
    RateLimited { "429" => "Too many requests; `details.retry_after` seconds, also in `Retry-After` (`rate_limited`)" }
);

error_set!(
    /// Routes that call Replicate or Telegram.
    Upstream { "502" => "Replicate or Telegram refused (`upstream_error`)" }
);

error_set!(
    /// A refund that was not started.
    RefundRefused {
        "404" => "No payment has this charge id (`not_found`)",
        "409" => "Already refunded (`already_refunded`), a refund is under way (`refund_in_progress`), not a Telegram Stars payment (`not_stars`), or the tokens it bought are spent: `details.balance` of `details.tokens` are left (`tokens_spent`)",
    }
);

error_set!(
    /// A free redo that is not due.
    FreeRedoRefused {
        "409" => "No free redo: the generation is not rated 1 or 2, not delivered, or was itself a free redo (`free_redo_not_offered`), or its free redo is already used (`free_redo_used`)",
    }
);
