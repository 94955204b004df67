//! The OpenAPI 3 description of the route table, built once on first use.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::routes::{Answer, ROUTES};

pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let error = generator.subschema_for::<keepsake_api::ApiError>();
    let mut paths = Map::new();
    for r in ROUTES.iter() {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(r.operation_id));
        op.insert("summary".into(), json!(r.summary));
        op.insert("x-keepsake-permission".into(), json!(r.permission.name()));
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = if name == "id" {
                    json!({"type": "integer", "format": "int64"})
                } else {
                    json!({"type": "string"})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        params.extend(r.query.iter().map(|q| {
            json!({"name": q.name, "in": "query", "required": false, "description": q.description,
                   "schema": {"type": if q.integer { "integer" } else { "string" }}})
        }));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(body) = r.body {
            let s = body(&mut generator);
            op.insert("requestBody".into(), json!({"required": false, "content": {"application/json": {"schema": s}}}));
        }
        let mut responses = Map::new();
        match r.answer {
            Answer::Json(status, schema) => {
                let s = schema(&mut generator);
                responses.insert(
                    status.to_string(),
                    json!({"description": r.summary, "content": {"application/json": {"schema": s}}}),
                );
            }
            Answer::EventStream => {
                responses.insert(
                    "200".into(),
                    json!({"description": "Server-sent events: `event: job` carries a Job, `event: log` a LogLine.",
                           "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
                );
            }
        }
        responses.insert(
            "default".into(),
            json!({"description": "An error: what failed, why, and what to do.",
                   "content": {"application/json": {"schema": error.clone()}}}),
        );
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = Value::Object(op);
    }
    let schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Keepsake agent API",
            "version": crate::VERSION,
            "description": "The privileged agent's API, served on a Unix socket only. The web server proxies it under the same paths."
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
