//! The request contract of a route: what it parses, what it answers, and the handler between.
//!
//! A route row names its query type, its body type and its reply type; [`Route::new`] turns a
//! typed handler into the erased form the dispatcher calls. Before the handler runs, the query and
//! body are checked against the *same* JSON Schema the OpenAPI document publishes (compiled once per
//! route) and only then deserialized, so a request valid by the document is never refused as
//! malformed, and one that breaks a documented limit never reaches a handler.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use warp::Reply as _;
use warp::reply::Response;

use super::caller::Caller;
use super::error::ApiError;
use crate::Agent;
use crate::auth::Permission;

/// A route's handler after its types are erased: the dispatcher's view.
pub type Erased =
    Box<dyn Fn(Arc<Agent>, Cx, &str, &[u8]) -> BoxFuture<'static, Result<Response, ApiError>> + Send + Sync>;
/// Writes a schema into the OpenAPI generator (and returns it, usually as a `$ref`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One row of the route table.
pub struct Route {
    pub method: Method,
    /// Path with `{param}` segments, as in OpenAPI.
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub permission: Permission,
    /// The status of a successful answer.
    pub status: StatusCode,
    pub query: fn() -> Vec<QueryParam>,
    pub body: fn(&mut SchemaGenerator) -> Option<Schema>,
    /// Whether the body may be left out (every field optional).
    pub body_optional: bool,
    pub reply: fn(&mut SchemaGenerator) -> ReplyDoc,
    pub handler: Erased,
}

impl Route {
    /// A route whose handler takes query `Q` and body `B` and answers `R`.
    #[allow(clippy::too_many_arguments)]
    pub fn new<Q, B, R, F, Fut>(
        method: Method,
        path: &'static str,
        operation_id: &'static str,
        permission: Permission,
        status: u16,
        summary: &'static str,
        handler: F,
    ) -> Route
    where
        Q: Query,
        B: Body,
        R: Reply,
        F: Fn(Arc<Agent>, Cx, Q, B) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
    {
        let status = StatusCode::from_u16(status).expect("route status codes are valid");
        let check_query = Q::validator();
        let check_body = B::validator();
        let body_optional = B::empty_ok(check_body.as_ref());
        let handler: Erased = Box::new(move |agent, cx, raw_query, raw_body| {
            let input = Q::parse(raw_query, check_query.as_ref())
                .and_then(|q| B::parse(raw_body, check_body.as_ref()).map(|b| (q, b)));
            match input {
                Err(e) => Box::pin(async move { Err(e) }),
                Ok((q, b)) => {
                    let fut = handler(agent, cx, q, b);
                    Box::pin(async move { fut.await.map(|r| r.into_response(status)) })
                }
            }
        });
        Route {
            method,
            path,
            operation_id,
            summary,
            permission,
            status,
            query: Q::params,
            body: B::schema,
            body_optional,
            reply: R::document,
            handler,
        }
    }

    /// Anything but GET changes something, and is audited.
    pub fn mutating(&self) -> bool {
        is_mutating(&self.method)
    }
}

pub fn is_mutating(m: &Method) -> bool {
    m != Method::GET && m != Method::HEAD && m != Method::OPTIONS
}

/// What a handler knows of its request besides its typed input.
pub struct Cx {
    pub params: HashMap<String, String>,
    pub caller: Caller,
    pub note: Arc<Mutex<AuditNote>>,
}

impl Cx {
    /// A whole-number path parameter (documented as `integer`).
    pub fn id(&self, name: &str) -> Result<i64, ApiError> {
        let raw = self.param(name);
        raw.parse().map_err(|_| {
            ApiError::bad_request("request.bad_path", format!("`{raw}` is not a valid {name}: expected a whole number"))
        })
    }

    /// A path parameter as text (documented as `string`).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// Adds to this request's audit row.
    pub fn note(&self, f: impl FnOnce(&mut AuditNote)) {
        f(&mut self.note.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// What a handler may add to the audit row the dispatcher writes for its request.
#[derive(Debug, Default, Clone)]
pub struct AuditNote {
    /// Who acted when the caller was not yet signed in (the name tried at sign-in).
    pub actor: Option<String>,
    pub target: Option<String>,
    pub detail: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// A compiled JSON Schema for one input type.
pub type Validator = Arc<jsonschema::Validator>;

/// The standalone (draft 2020-12) schema of `T`, compiled for validation. The OpenAPI document
/// renders the same type through the same derive, so the two state the same limits.
fn compile<T: JsonSchema>() -> Validator {
    let schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>();
    let value = serde_json::to_value(&schema).expect("schemas serialize");
    Arc::new(jsonschema::validator_for(&value).expect("schemars emits valid JSON Schema"))
}

/// Checks `value` against `v`; a 400 that names each problem and where, never echoing the value
/// (a megabyte of junk must not come back in the answer or land in the audit log).
fn validate(v: &jsonschema::Validator, value: &serde_json::Value, what: &str) -> Result<(), ApiError> {
    let problems: Vec<String> = v
        .iter_errors(value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { what.to_owned() } else { format!("`{}`", at.trim_start_matches('/')) };
            format!("{at}: {}", describe(&e))
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request("request.invalid", format!("invalid {what}: {}", problems.join("; ")))
        .with_hint("See this route in /api/v1/openapi.json for the fields, types and limits it takes."))
}

fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match e.kind() {
        K::MaxLength { limit } => format!("longer than {limit} characters"),
        K::MinLength { limit } => format!("shorter than {limit} characters"),
        K::Maximum { limit } => format!("greater than {limit}"),
        K::Minimum { limit } => format!("less than {limit}"),
        K::MaxItems { limit } => format!("more than {limit} items"),
        K::MinItems { limit } => format!("fewer than {limit} items"),
        K::Required { property } => format!("missing required field {property}"),
        K::AdditionalProperties { unexpected } => format!("unknown field(s) {}", unexpected.join(", ")),
        K::Type { kind } => format!("wrong type, expected {kind:?}").to_lowercase(),
        K::Enum { options } => format!("not one of {options}"),
        K::Pattern { pattern } => format!("does not match {pattern}"),
        _ => {
            let mut s = e.to_string();
            if s.len() > 200 {
                let mut cut = 200;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push('…');
            }
            s
        }
    }
}

/// A request body a route accepts.
pub trait Body: Sized + Send + 'static {
    /// The schema the OpenAPI document shows; `None` for routes that take no body.
    fn schema(g: &mut SchemaGenerator) -> Option<Schema>;
    fn validator() -> Option<Validator>;
    fn parse(raw: &[u8], v: Option<&Validator>) -> Result<Self, ApiError>;
    /// Whether an empty body (read as `{}`) is valid, so the document can say the body is optional.
    fn empty_ok(v: Option<&Validator>) -> bool {
        v.is_some_and(|v| v.is_valid(&serde_json::json!({})))
    }
}

/// The body of a route that takes none: it must be empty.
pub struct NoBody;

impl Body for NoBody {
    fn schema(_: &mut SchemaGenerator) -> Option<Schema> {
        None
    }

    fn validator() -> Option<Validator> {
        None
    }

    fn parse(raw: &[u8], _: Option<&Validator>) -> Result<Self, ApiError> {
        if raw.iter().all(u8::is_ascii_whitespace) {
            Ok(NoBody)
        } else {
            Err(ApiError::bad_request("request.unexpected_body", "this route takes no request body"))
        }
    }
}

/// Every JSON body is an object of a documented type. An empty body counts as `{}`.
impl<T: DeserializeOwned + JsonSchema + Send + 'static> Body for T {
    fn schema(g: &mut SchemaGenerator) -> Option<Schema> {
        Some(g.subschema_for::<T>())
    }

    fn validator() -> Option<Validator> {
        Some(compile::<T>())
    }

    fn parse(raw: &[u8], v: Option<&Validator>) -> Result<Self, ApiError> {
        let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) { b"{}" } else { raw };
        let value: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
            ApiError::bad_request("request.bad_json", format!("the request body is not valid JSON: {e}"))
        })?;
        if let Some(v) = v {
            validate(v, &value, "request body")?;
        }
        serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request("request.invalid", format!("invalid request body: {e}")))
    }
}

/// A documented query parameter.
#[derive(Debug, Clone)]
pub struct QueryParam {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub schema: serde_json::Value,
}

/// A route's query string.
pub trait Query: Sized + Send + 'static {
    fn params() -> Vec<QueryParam>;
    fn validator() -> Option<Validator>;
    fn parse(raw: &str, v: Option<&Validator>) -> Result<Self, ApiError>;
}

/// The query of a route that takes none: any query string is refused.
pub struct NoQuery;

impl Query for NoQuery {
    fn params() -> Vec<QueryParam> {
        Vec::new()
    }

    fn validator() -> Option<Validator> {
        None
    }

    fn parse(raw: &str, _: Option<&Validator>) -> Result<Self, ApiError> {
        if raw.is_empty() {
            Ok(NoQuery)
        } else {
            Err(ApiError::bad_request("request.unexpected_query", "this route takes no query parameters"))
        }
    }
}

/// A typed query: a flat struct of optional fields. It is checked against its schema after
/// parsing (which is how ranges and enums are enforced), so it must also serialize.
impl<T: DeserializeOwned + Serialize + JsonSchema + Send + 'static> Query for T {
    fn params() -> Vec<QueryParam> {
        let mut settings = SchemaSettings::openapi3();
        settings.inline_subschemas = true;
        let root = settings.into_generator().into_root_schema_for::<T>();
        let required: Vec<String> =
            root.get("required").and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default();
        let Some(serde_json::Value::Object(props)) = root.get("properties") else { return Vec::new() };
        props
            .iter()
            .map(|(name, schema)| {
                let mut schema = schema.clone();
                let description = schema
                    .as_object_mut()
                    .and_then(|o| o.remove("description"))
                    .and_then(|d| d.as_str().map(str::to_owned))
                    .unwrap_or_default();
                QueryParam { required: required.contains(name), name: name.clone(), description, schema }
            })
            .collect()
    }

    fn validator() -> Option<Validator> {
        Some(compile::<T>())
    }

    fn parse(raw: &str, v: Option<&Validator>) -> Result<Self, ApiError> {
        let q: T = serde_urlencoded::from_str(raw)
            .map_err(|e| ApiError::bad_request("request.bad_query", format!("invalid query string: {e}")))?;
        if let Some(v) = v {
            let value = serde_json::to_value(&q).map_err(|e| ApiError::internal(format!("query: {e}")))?;
            validate(v, &value, "query string")?;
        }
        Ok(q)
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

/// How a reply is documented.
pub enum ReplyDoc {
    /// `application/json` with this schema.
    Json(Schema),
    /// `text/event-stream`: each named event's `data` is JSON of the paired schema.
    EventStream(Vec<(&'static str, Schema)>),
    /// `application/json` with this schema, or `text/csv` when the query asks for it.
    JsonOrCsv(Schema),
}

/// What a successful handler returns.
pub trait Reply: Send + 'static {
    fn document(g: &mut SchemaGenerator) -> ReplyDoc;
    fn into_response(self, status: StatusCode) -> Response;
}

/// Any documented wire type is answered as JSON.
impl<T: Serialize + JsonSchema + Send + 'static> Reply for T {
    fn document(g: &mut SchemaGenerator) -> ReplyDoc {
        ReplyDoc::Json(g.subschema_for::<T>())
    }

    fn into_response(self, status: StatusCode) -> Response {
        json(status, &self)
    }
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// A server-sent event stream of jobs: `job` events carry a Job, `log` events a LogLine.
pub struct JobEvents(pub Response);

impl Reply for JobEvents {
    fn document(g: &mut SchemaGenerator) -> ReplyDoc {
        ReplyDoc::EventStream(vec![
            (keepsake_api::event::JOB, g.subschema_for::<keepsake_api::Job>()),
            (keepsake_api::event::LOG, g.subschema_for::<keepsake_api::LogLine>()),
        ])
    }

    fn into_response(self, _: StatusCode) -> Response {
        self.0
    }
}

/// A server-sent event stream of a container's log: `line` events carry a ContainerLogLine.
pub struct ContainerLogEvents(pub Response);

impl Reply for ContainerLogEvents {
    fn document(g: &mut SchemaGenerator) -> ReplyDoc {
        ReplyDoc::EventStream(vec![(keepsake_api::event::LINE, g.subschema_for::<keepsake_api::ContainerLogLine>())])
    }

    fn into_response(self, _: StatusCode) -> Response {
        self.0
    }
}

/// A JSON answer that also sets (or clears) the session cookie.
pub struct WithCookie<T> {
    pub value: T,
    pub cookie: Option<HeaderValue>,
}

impl<T: Serialize + JsonSchema + Send + 'static> Reply for WithCookie<T> {
    fn document(g: &mut SchemaGenerator) -> ReplyDoc {
        ReplyDoc::Json(g.subschema_for::<T>())
    }

    fn into_response(self, status: StatusCode) -> Response {
        let mut resp = json(status, &self.value);
        if let Some(c) = self.cookie {
            resp.headers_mut().append(http::header::SET_COOKIE, c);
        }
        resp
    }
}

/// JSON by default, or a CSV download.
pub enum JsonOrCsv<T> {
    Json(T),
    Csv { filename: &'static str, text: String },
}

impl<T: Serialize + JsonSchema + Send + 'static> Reply for JsonOrCsv<T> {
    fn document(g: &mut SchemaGenerator) -> ReplyDoc {
        ReplyDoc::JsonOrCsv(g.subschema_for::<T>())
    }

    fn into_response(self, status: StatusCode) -> Response {
        match self {
            JsonOrCsv::Json(v) => json(status, &v),
            JsonOrCsv::Csv { filename, text } => {
                let mut r = warp::reply::with_status(text, status).into_response();
                let h = r.headers_mut();
                h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
                if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
                    h.insert(http::header::CONTENT_DISPOSITION, v);
                }
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Named {
        #[schemars(length(min = 1, max = 8))]
        name: String,
    }

    #[derive(Debug, serde::Deserialize, Serialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Paged {
        /// How many.
        #[schemars(range(min = 1, max = 50))]
        limit: Option<u32>,
    }

    fn body(raw: &str) -> Result<Named, ApiError> {
        <Named as Body>::parse(raw.as_bytes(), <Named as Body>::validator().as_ref())
    }

    #[test]
    fn bodies_are_checked_against_the_documented_schema() {
        assert_eq!(body(r#"{"name":"anna"}"#).unwrap().name, "anna");
        let long = body(r#"{"name":"abcdefghi"}"#).unwrap_err();
        assert_eq!(long.code, "request.invalid");
        assert!(long.message.contains("longer than 8"), "{}", long.message);
        assert!(body(r#"{"name":"a","extra":1}"#).unwrap_err().message.contains("unknown field"));
        assert_eq!(body("not json").unwrap_err().code, "request.bad_json");
    }

    #[test]
    fn a_json_array_is_not_an_object_body() {
        // serde accepts a sequence for a struct; the schema does not.
        let e = body(r#"["anna"]"#).unwrap_err();
        assert_eq!(e.code, "request.invalid", "{}", e.message);
        let e = NoBody::parse(b"[]", None).err().expect("a body where none is taken");
        assert_eq!(e.code, "request.unexpected_body");
    }

    #[test]
    fn a_megabyte_of_junk_is_not_echoed() {
        let junk = "x".repeat(1 << 20);
        let e = body(&format!(r#"{{"name":"{junk}"}}"#)).unwrap_err();
        assert!(e.message.len() < 500, "{} bytes", e.message.len());
    }

    #[test]
    fn queries_are_typed_documented_and_range_checked() {
        let v = <Paged as Query>::validator();
        assert_eq!(<Paged as Query>::parse("limit=5", v.as_ref()).unwrap().limit, Some(5));
        assert_eq!(<Paged as Query>::parse("", v.as_ref()).unwrap().limit, None);
        assert_eq!(<Paged as Query>::parse("limit=0", v.as_ref()).unwrap_err().code, "request.invalid");
        assert_eq!(<Paged as Query>::parse("limit=x", v.as_ref()).unwrap_err().code, "request.bad_query");
        assert_eq!(<Paged as Query>::parse("other=1", v.as_ref()).unwrap_err().code, "request.bad_query");
        let params = <Paged as Query>::params();
        assert_eq!(params.len(), 1);
        assert_eq!(params[0].name, "limit");
        assert_eq!(params[0].description, "How many.");
        assert_eq!(params[0].schema["maximum"], 50);
        assert!(NoQuery::parse("a=1", None).is_err());
    }

    /// The label patterns are written as byte ranges (portable JSON Schema); they must mean what
    /// the identity code checks: no character Rust calls a control character.
    #[test]
    fn the_label_patterns_refuse_exactly_the_control_characters() {
        let v = jsonschema::validator_for(
            &serde_json::json!({"type": "string", "pattern": keepsake_api::limits::NO_CONTROL_PATTERN}),
        )
        .unwrap();
        for c in (0u32..0x300).chain([0x2028, 0x200b, 0xfeff, 0x1f600]).filter_map(char::from_u32) {
            assert_eq!(v.is_valid(&serde_json::json!(format!("a{c}b"))), !c.is_control(), "U+{:04X}", c as u32);
        }
        let visible = jsonschema::validator_for(
            &serde_json::json!({"type": "string", "pattern": keepsake_api::limits::VISIBLE_PATTERN}),
        )
        .unwrap();
        for (text, ok) in [("Anna", true), (" x ", true), ("   ", false), ("", false), ("a\tb", false)] {
            assert_eq!(visible.is_valid(&serde_json::json!(text)), ok, "{text:?}");
        }
    }
}
