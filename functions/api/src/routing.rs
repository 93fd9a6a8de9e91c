//! Routes that carry their OpenAPI operations, and the API's document written from them when it is
//! first needed.
//!
//! A handler is routed from its `#[utoipa::path]`: at a cold start only its path and methods are
//! read. Its operation and the schemas it refers to (most of what the start-up used to cost) are written
//! the first time the document is asked for: `/openapi.json`, or the first request that carries an
//! `Idempotency-Key` (the routes that take one are read from the document).

use std::sync::LazyLock;

use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use utoipa::__dev::{SchemaReferences, Tags};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Components, OpenApi, RefOr};

/// The schemas operations refer to, by name.
type Schemas = Vec<(String, RefOr<Schema>)>;

/// Writes one handler's operation into the document's paths, and the schemas it refers to.
type WriteOperation = fn(&mut Paths, &mut Schemas);

/// `#[utoipa::path]` handlers as [`ApiRouter::routes`] takes them: `routes!(list, create)`.
macro_rules! routes {
    ($($handler:ident),+ $(,)?) => {
        ::paste::paste! {
            $crate::routing::Routes::new()
                $(.handler::<[<__path_ $handler>], _, _>($handler))+
        }
    };
}
pub(crate) use routes;

/// Handlers with their paths and methods, made by [`routes!`].
pub struct Routes<S> {
    routes: Vec<(String, MethodRouter<S>, WriteOperation)>,
}

impl<S> Default for Routes<S> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The handler whose `#[utoipa::path]` is `P`.
    pub fn handler<P, H, T>(mut self, handler: H) -> Self
    where
        P: utoipa::Path + Tags<'static> + SchemaReferences,
        H: Handler<T, S>,
        T: 'static,
    {
        let method_router = P::methods()
            .iter()
            .fold(MethodRouter::new(), |router, method| {
                router.on(method_filter(method), handler.clone())
            });
        self.routes
            .push((P::path(), method_router, write_operation::<P>));
        self
    }
}

fn write_operation<P>(paths: &mut Paths, schemas: &mut Schemas)
where
    P: utoipa::Path + Tags<'static> + SchemaReferences,
{
    let mut operation = P::operation();
    let tags = P::tags();
    if !tags.is_empty() {
        operation
            .tags
            .get_or_insert_with(Vec::new)
            .extend(tags.iter().map(ToString::to_string));
    }
    P::schemas(schemas);
    paths.add_path_operation(P::path(), P::methods(), operation);
}

fn method_filter(method: &HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Trace => MethodFilter::TRACE,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Options => MethodFilter::OPTIONS,
    }
}

/// An axum router and what writes its routes' part of the OpenAPI document.
pub struct ApiRouter<S = ()> {
    router: Router<S>,
    operations: Vec<WriteOperation>,
}

impl<S: Clone + Send + Sync + 'static> Default for ApiRouter<S> {
    fn default() -> Self {
        Self {
            router: Router::new(),
            operations: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> ApiRouter<S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn routes(mut self, routes: Routes<S>) -> Self {
        for (path, method_router, write) in routes.routes {
            self.router = self.router.route(&path, method_router);
            self.operations.push(write);
        }
        self
    }

    pub fn merge(mut self, other: ApiRouter<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.operations.extend(other.operations);
        self
    }

    pub fn with_state<S2: Clone + Send + Sync + 'static>(self, state: S) -> ApiRouter<S2> {
        ApiRouter {
            router: self.router.with_state(state),
            operations: self.operations,
        }
    }

    /// The router, and the routes' operations written into `base` when the document is first used.
    pub fn split(
        self,
        base: impl FnOnce() -> OpenApi + Send + 'static,
        finish: impl FnOnce(&mut OpenApi) + Send + 'static,
    ) -> (Router<S>, ApiDocument) {
        let operations = self.operations;
        let document = ApiDocument::new(move || {
            let mut openapi = base();
            let mut schemas = Schemas::new();
            for write in operations {
                write(&mut openapi.paths, &mut schemas);
            }
            openapi
                .components
                .get_or_insert_with(Components::new)
                .schemas
                .extend(schemas);
            finish(&mut openapi);
            openapi
        });
        (self.router, document)
    }
}

/// The OpenAPI document, written the first time it is read.
pub struct ApiDocument(LazyLock<OpenApi, Box<dyn FnOnce() -> OpenApi + Send>>);

impl ApiDocument {
    pub fn new(write: impl FnOnce() -> OpenApi + Send + 'static) -> Self {
        Self(LazyLock::new(Box::new(write)))
    }

    pub fn get(&self) -> &OpenApi {
        &self.0
    }
}

impl std::fmt::Debug for ApiDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiDocument")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// A greeting.
    #[utoipa::path(get, path = "/hello/{name}", tag = "test",
        params(("name" = String, Path, description = "Who")),
        responses((status = 200, body = String)))]
    async fn hello(axum::extract::Path(name): axum::extract::Path<String>) -> String {
        format!("hello {name}")
    }

    /// A farewell at the same path.
    #[utoipa::path(delete, path = "/hello/{name}", tag = "test", responses((status = 204)))]
    async fn goodbye() -> StatusCode {
        StatusCode::NO_CONTENT
    }

    #[tokio::test]
    async fn routes_answer_before_the_document_is_written_and_it_is_written_once_when_read() {
        let written = Arc::new(AtomicUsize::new(0));
        let counter = written.clone();
        let (router, document) = ApiRouter::new().routes(routes!(hello, goodbye)).split(
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
                utoipa::openapi::OpenApiBuilder::new().build()
            },
            |_| {},
        );

        for (method, status) in [("GET", StatusCode::OK), ("DELETE", StatusCode::NO_CONTENT)] {
            let request = Request::builder()
                .method(method)
                .uri("/hello/ann")
                .body(Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), status);
        }
        assert_eq!(
            written.load(Ordering::SeqCst),
            0,
            "routing wrote the document"
        );

        let item = &document.get().paths.paths["/hello/{name}"];
        assert_eq!(
            item.get.as_ref().and_then(|o| o.tags.clone()),
            Some(vec!["test".to_owned()])
        );
        assert!(item.delete.is_some());
        document.get();
        assert_eq!(written.load(Ordering::SeqCst), 1);
    }
}
