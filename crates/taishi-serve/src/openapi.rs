//! The OpenAPI 3.1 document of the service, generated from the route table
//! (`crate::routes::table`): every route with its permission
//! (`x-permission`), its zh-CN summary (`x-summary-zh`), and the JSON
//! Schemas (2020-12, as OpenAPI 3.1 uses) of its query, body and answer,
//! which `schemars` derives from the Rust types the handlers use.

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value as J};

use crate::routes::{Access, Answer, Body, ErrorBody, Mount, Route, SchemaFn};

/// What `x-permission` says of a route anyone may call.
pub const PUBLIC: &str = "public";

/// The document of these routes.
pub fn document(routes: &[Route]) -> J {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = SchemaGenerator::new(settings.clone());
    // Query parameters are listed one by one, so their type is expanded
    // in place rather than referenced.
    let mut inline = {
        let mut s = settings;
        s.inline_subschemas = true;
        SchemaGenerator::new(s)
    };
    let error = g.subschema_for::<ErrorBody>();

    let mut paths: Map<String, J> = Map::new();
    for r in routes {
        let op = operation(r, &mut g, &mut inline);
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        if r.mount == Mount::Root {
            // Outside the API's base path.
            entry["servers"] = json!([{"url": "/"}]);
        }
        entry[r.method.as_str().to_ascii_lowercase()] = op;
    }
    let schemas = g.take_definitions(true);
    let mut tags: Vec<&str> = Vec::new();
    for r in routes {
        if !tags.contains(&r.tag) {
            tags.push(r.tag);
        }
    }
    let tags: Vec<J> = tags.iter().map(|t| json!({ "name": t })).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Taishi API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Security situational awareness: search, alerts, rules, intelligence, overview, ingest. Every operation names the permission it needs in `x-permission` (`public`: none). 态势感知平台接口；每个操作的 `x-permission` 给出所需权限。",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "tags": tags,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API token (tsk_…); ingest also takes it as the password of basic auth"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE,
                            "description": "Console session from POST /auth/login; unsafe methods also send the X-Taishi-CSRF header"},
            },
            "responses": {
                "Error": {"description": "What went wrong and what to do",
                          "content": {"application/json": {"schema": error}}},
            },
            "schemas": schemas,
        },
        "paths": paths,
    })
}

fn operation(r: &Route, g: &mut SchemaGenerator, inline: &mut SchemaGenerator) -> J {
    let error = || json!({"$ref": "#/components/responses/Error"});
    let content = |media: &str, schema: J| json!({ media: {"schema": schema} });
    let schema = |f: SchemaFn, g: &mut SchemaGenerator| J::from(f(g));
    let mut responses = Map::new();
    match r.answer {
        Answer::Json(f) => {
            responses.insert(
                "200".into(),
                json!({"description": "OK", "content": content("application/json", schema(f, g))}),
            );
        }
        Answer::Created(f) => {
            responses.insert(
                "201".into(),
                json!({"description": "Created", "content": content("application/json", schema(f, g))}),
            );
        }
        Answer::NoContent => {
            responses.insert("204".into(), json!({"description": "Done"}));
        }
        Answer::EventStream(f) => {
            responses.insert(
                "200".into(),
                json!({"description": "Server-sent events; each `data` is JSON of `x-event-data`",
                       "content": {"text/event-stream": {"schema": {"type": "string"}, "x-event-data": schema(f, g)}}}),
            );
        }
        Answer::Text(media) => {
            responses.insert(
                "200".into(),
                json!({"description": "OK", "content": content(media, json!({"type": "string"}))}),
            );
        }
    }
    responses.insert("400".into(), error());
    let mut op = json!({
        "operationId": operation_id(r),
        "tags": [r.tag],
        "summary": r.summary,
        "x-summary-zh": r.summary_zh,
    });
    match r.access {
        Access::Public => {
            op["security"] = json!([]);
            op["x-permission"] = json!(PUBLIC);
        }
        Access::Needs(p) => {
            responses.insert("401".into(), error());
            responses.insert("403".into(), error());
            op["x-permission"] = json!(p.name());
            op["description"] = json!(format!(
                "Needs the `{}` permission. 需要 `{}` 权限。",
                p.name(),
                p.name()
            ));
        }
    }
    if r.path.contains('{') {
        responses.insert("404".into(), error());
    }
    op["responses"] = J::Object(responses);

    let mut params: Vec<J> = r
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if let Some(q) = r.query {
        let s = J::from(q(inline));
        let required: Vec<&str> = s["required"]
            .as_array()
            .map(|a| a.iter().filter_map(J::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = s["properties"].as_object() {
            for (name, p) in props {
                let mut p = p.clone();
                let description = p.as_object_mut().and_then(|o| o.remove("description"));
                let mut param = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": p});
                if let Some(d) = description {
                    param["description"] = d;
                }
                params.push(param);
            }
        }
    }
    if !params.is_empty() {
        op["parameters"] = J::Array(params);
    }

    let raw = |media: &[&str]| -> Map<String, J> {
        media
            .iter()
            .map(|m| ((*m).to_string(), json!({"schema": {"type": "string"}})))
            .collect()
    };
    let body = match r.body {
        Body::None => None,
        Body::Json(f) => Some(content("application/json", schema(f, g))),
        Body::Raw(media) => Some(J::Object(raw(media))),
        Body::JsonOrRaw(f, media) => {
            let mut m = raw(media);
            m.insert("application/json".into(), json!({"schema": schema(f, g)}));
            Some(J::Object(m))
        }
    };
    if let Some(c) = body {
        op["requestBody"] = json!({"required": true, "content": c});
    }
    op
}

/// `GET /alerts/{id}/related` → `get_alerts_id_related`: unique per
/// method and path, and a valid identifier for generated clients.
fn operation_id(r: &Route) -> String {
    let mut id = r.method.as_str().to_ascii_lowercase();
    for part in r.path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(part.chars().filter(|c| !matches!(c, '{' | '}')).map(|c| {
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '_'
            }
        }));
    }
    if r.path == "/" {
        id.push_str("_root");
    }
    id
}
