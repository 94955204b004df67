//! The OpenAPI 3 description of the route table, built once on first use.
//!
//! Everything here comes from the rows of [`super::routes::ROUTES`]: paths, permissions, the query
//! parameters and request bodies each route parses (with the limits it enforces), the answer it
//! gives on success and the error shape on failure. `docs/openapi.json` is this document checked
//! in; the test below fails when the two differ, and
//! `KEEPSAKE_UPDATE_OPENAPI=1 cargo test -p keepsake-agent --lib api::openapi` rewrites it (then
//! `npm --prefix frontend run gen:api` regenerates the dashboard's types from it).

use std::sync::OnceLock;

use keepsake_api::OpenApiDocument;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::contract::ReplyDoc;
use super::routes::ROUTES;

pub fn document() -> &'static OpenApiDocument {
    static DOC: OnceLock<OpenApiDocument> = OnceLock::new();
    DOC.get_or_init(build)
}

/// The document as pretty JSON with a final newline: the form checked in as `docs/openapi.json`.
pub fn pretty() -> String {
    let mut s = serde_json::to_string_pretty(document()).expect("the document serializes");
    s.push('\n');
    s
}

fn build() -> OpenApiDocument {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let error = generator.subschema_for::<keepsake_api::ApiError>();
    let mut paths = Map::new();
    for r in ROUTES.iter() {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(r.operation_id));
        op.insert("summary".into(), json!(r.summary));
        op.insert("x-keepsake-permission".into(), json!(r.permission.name()));
        if r.mutating() {
            op.insert("x-keepsake-audited".into(), json!(true));
        }
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = match name {
                    // A row's number, except a restore point's id: opaque text (`kp-…`, `sanoid:…`).
                    "id" if !r.path.starts_with(keepsake_api::paths::RESTORE_POINTS) => {
                        json!({"type": "integer", "format": "int64"})
                    }
                    // Which secret.
                    "name" => {
                        let names: Vec<&str> = crate::auth::secrets::NAMES.iter().map(|(n, _)| *n).collect();
                        json!({"type": "string", "enum": names})
                    }
                    "rule" => {
                        let ids: Vec<&str> = crate::alerts::rules::RULES.iter().map(|r| r.id).collect();
                        json!({"type": "string", "enum": ids})
                    }
                    _ => json!({"type": "string", "maxLength": 200}),
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        params.extend((r.query)().into_iter().map(|q| {
            json!({"name": q.name, "in": "query", "required": q.required, "description": q.description,
                   "schema": q.schema})
        }));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(s) = (r.body)(&mut generator) {
            op.insert(
                "requestBody".into(),
                json!({"required": !r.body_optional,
                       "description": if r.body_optional { "May be left out: an empty body counts as `{}`." } else { "A JSON object." },
                       "content": {"application/json": {"schema": s}}}),
            );
        }
        let content = match (r.reply)(&mut generator) {
            ReplyDoc::Json(s) => json!({"application/json": {"schema": s}}),
            ReplyDoc::JsonOrCsv(s) => json!({
                "application/json": {"schema": s},
                "text/csv": {"schema": {"type": "string", "description": "The same entries as CSV (with `format=csv`)."}},
            }),
            ReplyDoc::EventStream(events) => {
                let names: Vec<&str> = events.iter().map(|(n, _)| *n).collect();
                let payloads: Map<String, Value> =
                    events.into_iter().map(|(n, s)| (n.to_owned(), s.to_value())).collect();
                json!({"text/event-stream": {
                    "schema": {"type": "string", "description": format!(
                        "Server-sent events named {}; each event's `data` is the JSON in `x-keepsake-events` for its name.",
                        names.join(", "))},
                    "x-keepsake-events": payloads,
                }})
            }
        };
        let mut responses = Map::new();
        responses.insert(r.status.as_u16().to_string(), json!({"description": r.summary, "content": content}));
        responses.insert(
            "default".into(),
            json!({"description": "An error: a stable `code`, what failed and why, and what to do.",
                   "content": {"application/json": {"schema": error.clone()}}}),
        );
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = Value::Object(op);
    }
    let schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    let mut info = Map::new();
    info.insert("title".into(), json!("Keepsake agent API"));
    info.insert("version".into(), json!(crate::VERSION));
    info.insert(
        "description".into(),
        json!(
            "The privileged agent's API, served on a Unix socket only. The web server proxies it under the same paths."
        ),
    );
    let mut components = Map::new();
    components.insert("schemas".into(), Value::Object(schemas));
    OpenApiDocument { openapi: "3.0.3".into(), info, paths, components }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The checked-in document is what the route table generates: a field added to or removed from
    /// a request type without regenerating fails here (and so in CI).
    #[test]
    fn the_checked_in_openapi_document_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let fresh = super::pretty();
        if std::env::var_os("KEEPSAKE_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &fresh).expect("write docs/openapi.json");
            return;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "docs/openapi.json is stale: run `KEEPSAKE_UPDATE_OPENAPI=1 cargo test -p keepsake-agent --lib api::openapi` \
             and `npm --prefix frontend run gen:api`, then commit both"
        );
    }

    #[test]
    fn every_route_documents_its_inputs_and_answers() {
        let doc = super::document();
        // A body with required fields is required; one whose fields are all optional may be left out.
        assert_eq!(doc.paths["/api/v1/auth/login"]["post"]["requestBody"]["required"], true);
        assert_eq!(doc.paths["/api/v1/host/self-check"]["post"]["requestBody"]["required"], false);
        for (path, ops) in &doc.paths {
            for (method, op) in ops.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("default"), "{method} {path}: no error answer");
                for (status, r) in responses {
                    let text = r.to_string();
                    assert!(
                        !text.contains(r#""schema":{"type":"object"}"#),
                        "{method} {path} {status}: an untyped object answer"
                    );
                }
                if method != "get" && method != "delete" {
                    assert!(op.get("requestBody").is_some(), "{method} {path}: no documented body");
                }
            }
        }
    }
}
