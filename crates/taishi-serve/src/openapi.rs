//! The OpenAPI 3.1 document of `/api/v1`, built from one table of the
//! routes so that it cannot drift far from the router (a test checks that
//! every documented path answers something other than 404).

use serde_json::{json, Map, Value as J};

/// (method, path, tag, summary, body?, minimum role)
pub const ROUTES: &[(&str, &str, &str, &str, bool, &str)] = &[
    (
        "post",
        "/auth/login",
        "auth",
        "Sign in; sets the session cookie and returns the CSRF value",
        true,
        "none",
    ),
    ("post", "/auth/logout", "auth", "Sign out", false, "viewer"),
    (
        "get",
        "/auth/me",
        "auth",
        "The signed-in user",
        false,
        "viewer",
    ),
    (
        "post",
        "/auth/password",
        "auth",
        "Change one's own password",
        true,
        "viewer",
    ),
    ("get", "/users", "users", "List users", false, "admin"),
    ("post", "/users", "users", "Create a user", true, "admin"),
    (
        "patch",
        "/users/{username}",
        "users",
        "Change a user's role, password or disabled flag",
        true,
        "admin",
    ),
    (
        "delete",
        "/users/{username}",
        "users",
        "Delete a user",
        false,
        "admin",
    ),
    (
        "get",
        "/tokens",
        "users",
        "List API tokens (own; admins: all)",
        false,
        "viewer",
    ),
    (
        "post",
        "/tokens",
        "users",
        "Create an API token; the secret is shown once",
        true,
        "viewer",
    ),
    (
        "delete",
        "/tokens/{id}",
        "users",
        "Revoke an API token",
        false,
        "viewer",
    ),
    (
        "post",
        "/search",
        "search",
        "Run a query (KQL filter and pipe stages) over a time range",
        true,
        "viewer",
    ),
    (
        "get",
        "/fields",
        "search",
        "Fields of matching events with their top values",
        false,
        "viewer",
    ),
    (
        "get",
        "/alerts",
        "alerts",
        "List alerts with filters and sort",
        false,
        "viewer",
    ),
    (
        "get",
        "/alerts/groups",
        "alerts",
        "Alert counts grouped by rule, host or source",
        false,
        "viewer",
    ),
    (
        "get",
        "/alerts/{id}",
        "alerts",
        "One alert with its comments and rule",
        false,
        "viewer",
    ),
    (
        "get",
        "/alerts/{id}/related",
        "alerts",
        "Events before and after the alert's event",
        false,
        "viewer",
    ),
    (
        "post",
        "/alerts/{id}/ack",
        "alerts",
        "Acknowledge (takes an unassigned alert)",
        false,
        "analyst",
    ),
    (
        "post",
        "/alerts/{id}/assign",
        "alerts",
        "Assign to a user, or unassign with null",
        true,
        "analyst",
    ),
    (
        "post",
        "/alerts/{id}/close",
        "alerts",
        "Close as true or false positive",
        true,
        "analyst",
    ),
    (
        "post",
        "/alerts/{id}/reopen",
        "alerts",
        "Reopen",
        false,
        "analyst",
    ),
    (
        "post",
        "/alerts/{id}/comments",
        "alerts",
        "Comment",
        true,
        "analyst",
    ),
    (
        "get",
        "/rules",
        "rules",
        "List rules with health",
        false,
        "viewer",
    ),
    (
        "post",
        "/rules",
        "rules",
        "Upload rules (YAML text, or JSON {files:[{name,content}]})",
        true,
        "analyst",
    ),
    (
        "post",
        "/rules/validate",
        "rules",
        "Validate rule YAML",
        true,
        "viewer",
    ),
    (
        "post",
        "/rules/reload",
        "rules",
        "Re-read the configured rule paths",
        false,
        "analyst",
    ),
    (
        "get",
        "/rules/{id}",
        "rules",
        "One rule with its YAML and health",
        false,
        "viewer",
    ),
    (
        "delete",
        "/rules/{id}",
        "rules",
        "Delete an uploaded rule",
        false,
        "analyst",
    ),
    (
        "post",
        "/rules/{id}/enable",
        "rules",
        "Enable a rule",
        false,
        "analyst",
    ),
    (
        "post",
        "/rules/{id}/disable",
        "rules",
        "Disable a rule",
        false,
        "analyst",
    ),
    (
        "get",
        "/overview",
        "overview",
        "The situational picture over a time range",
        false,
        "viewer",
    ),
    (
        "get",
        "/stream",
        "overview",
        "Server-sent events: a tick every 2 s with rates and new alerts",
        false,
        "viewer",
    ),
    (
        "get",
        "/health",
        "overview",
        "Service health: store, listeners, rules, pipeline",
        false,
        "viewer",
    ),
    (
        "post",
        "/ingest",
        "ingest",
        "Ingest NDJSON (or ?format=syslog|cef|eve|…); answered once durable",
        true,
        "analyst",
    ),
    (
        "post",
        "/_bulk",
        "ingest",
        "Elasticsearch bulk API (Vector, Fluent Bit, Logstash, Beats)",
        true,
        "analyst",
    ),
    (
        "get",
        "/intel",
        "intel",
        "Indicator sources with counts, the matcher's size and the number of feeds",
        false,
        "viewer",
    ),
    (
        "get",
        "/intel/indicators",
        "intel",
        "Search indicators (?q=&type=&source=&limit=&offset=), each with hits and last hit",
        false,
        "viewer",
    ),
    (
        "post",
        "/intel/import",
        "intel",
        "Import a feed file as source ?name= (?format=stix|misp-event|feodo|urlhaus|threatfox|malwarebazaar|text|csv…); a retro-hunt follows",
        true,
        "analyst",
    ),
    (
        "get",
        "/intel/feeds",
        "intel",
        "Scheduled feeds with last pull, last success, counts, last error and next pull",
        false,
        "viewer",
    ),
    (
        "post",
        "/intel/feeds",
        "intel",
        "Add a scheduled feed {name, kind: url|misp-feed|taxii|misp-rest, url, format?, interval_secs, auth?}",
        true,
        "admin",
    ),
    (
        "delete",
        "/intel/feeds/{name}",
        "intel",
        "Remove a feed and its indicators",
        false,
        "admin",
    ),
    (
        "post",
        "/intel/feeds/{name}/pull",
        "intel",
        "Pull a feed now (502 with the feed's error when the pull fails); a retro-hunt follows",
        false,
        "analyst",
    ),
    (
        "get",
        "/intel/hits",
        "intel",
        "The intel alerts of one indicator (?indicator=&limit=&offset=), newest first",
        false,
        "viewer",
    ),
    (
        "get",
        "/intel/hits/top",
        "intel",
        "Indicators by number of hits (?limit=)",
        false,
        "viewer",
    ),
    (
        "get",
        "/openapi.json",
        "meta",
        "This document",
        false,
        "none",
    ),
];

pub fn document() -> J {
    let mut paths: Map<String, J> = Map::new();
    for (method, path, tag, summary, body, role) in ROUTES {
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "description": format!("Role: {role}."),
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
            },
        });
        if *body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        let params: Vec<J> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = J::Array(params);
        }
        if *role == "none" {
            op["security"] = json!([]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Taishi API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Security situational awareness: search, alerts, rules, overview, ingest. See API.md in the repository.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API token (tsk_…)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "taishi_session"},
            },
            "responses": {
                "Error": {"description": "What went wrong and what to do",
                          "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}},
            },
        },
        "paths": paths,
    })
}
