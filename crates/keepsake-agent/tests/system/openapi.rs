//! The OpenAPI description stays true: it lists exactly the router's routes, and every route it
//! lists answers with what it documents.

use std::collections::BTreeSet;

use http::Method;
use http_body_util::BodyExt;
use keepsake_agent::api::ROUTES;
use serde_json::Value;

use crate::harness::{Agent, AgentOpts, open_tempdir};

/// Follows `$ref`s into `components/schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Checks that `value` has every property its schema requires, recursively through objects and
/// arrays. (Enough to catch a renamed or dropped field; not a full JSON Schema validator.)
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(doc, schema);
    if let Some(any) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
        if value.is_null() {
            return;
        }
        let non_null = any.iter().find(|s| resolve(doc, s).get("type") != Some(&Value::from("null")));
        if let Some(s) = non_null {
            conforms(doc, s, value, at);
        }
        return;
    }
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required {
            let key = key.as_str().unwrap();
            assert!(value.get(key).is_some(), "{at}: required field `{key}` missing in {value}");
        }
    }
    if let (Some(props), Some(obj)) = (schema.get("properties").and_then(Value::as_object), value.as_object()) {
        for (k, v) in obj {
            let s = props.get(k).unwrap_or_else(|| panic!("{at}: field `{k}` is not documented"));
            conforms(doc, s, v, &format!("{at}.{k}"));
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"));
        }
    }
}

#[tokio::test]
async fn openapi_lists_exactly_the_routes_of_the_router_and_each_answers_as_documented() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let client = agent.client();
    let doc = client.openapi().await.unwrap();
    assert_eq!(doc["openapi"], "3.0.3");

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let routed: BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.as_str().to_owned(), r.path.to_owned())).collect();
    assert_eq!(documented, routed);

    // A job to fill `{id}` with.
    let job = client.start_self_check().await.unwrap();
    crate::harness::wait_state(&client, job.id, 30, keepsake_api::JobState::Succeeded).await;

    for (method, path) in &documented {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(op["x-keepsake-permission"].is_string(), "{method} {path} declares no permission");
        let concrete = path
            .replace("{id}", &job.id.to_string())
            .replace("{name}", "smtp_password")
            .replace("{rule}", "auth.login_spike");
        let method: Method = method.parse().unwrap();
        // Mutating routes get `{}`; cancelling a finished job is a documented conflict.
        let body = (method != Method::GET).then(|| serde_json::json!({}));
        let resp = client.send(method.clone(), &concrete, body.as_ref()).await.unwrap();
        let status = resp.status();
        let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        let responses = op["responses"].as_object().unwrap();
        if ctype.starts_with("text/event-stream") {
            assert!(responses.values().any(|r| r["content"].get("text/event-stream").is_some()));
            drop(resp);
            continue;
        }
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_ne!(value["code"], "api.no_such_route", "{method} {path} is documented but not routed");
        let documented_response = responses.get(status.as_str()).or_else(|| responses.get("default"));
        let documented_response =
            documented_response.unwrap_or_else(|| panic!("{method} {path} answered undocumented {status}"));
        if status.is_success() {
            assert!(responses.contains_key(status.as_str()), "{method} {path}: success {status} not documented");
        }
        let schema = &documented_response["content"]["application/json"]["schema"];
        conforms(&doc, schema, &value, &format!("{method} {path}"));
    }

    // And the router has nothing the description does not list.
    let resp = client.send(Method::GET, "/api/v1/undocumented", None).await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client.send(Method::DELETE, "/api/v1/status", None).await.unwrap();
    assert_eq!(resp.status(), 405);
}
