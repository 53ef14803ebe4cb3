//! REST semantics over the simulated router (routeros-reference.md §6): URL → menu,
//! verb → command (GET print, PUT add, PATCH set, DELETE remove, POST any command),
//! JSON bodies with every value a string, and RouterOS's error bodies. Pure: the
//! HTTP server hands in a parsed request and writes out the [`RestReply`].

use std::time::Instant;

use serde_json::{json, Map, Value};

use super::commands::{execute, select};
use super::menus::{no_such_command, project, resolve_menu, Menu, Trap};
use super::outcome::{Item, Outcome};
use super::query::Query;
use super::records::render_row;
use super::state::{format_id, parse_id, State};
use routeros_proto::{Command, Record, Word};

/// Status and JSON body of a REST reply (`body` `None` = no body, e.g. 204).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RestReply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Option<Value>,
}

impl RestReply {
    fn ok(status: u16, body: Value) -> RestReply {
        RestReply {
            status,
            body: Some(body),
        }
    }

    /// `{"error":code,"message":reason[,"detail":…]}` (DOC-REST; LAB723).
    pub(crate) fn error(status: u16, detail: Option<&str>) -> RestReply {
        let mut body = json!({"error": status, "message": reason_phrase(status)});
        if let Some(d) = detail {
            body["detail"] = Value::String(d.to_string());
        }
        RestReply {
            status,
            body: Some(body),
        }
    }
}

/// The reason phrase of the statuses the simulator uses.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        406 => "Not Acceptable",
        501 => "Not Implemented",
        _ => "Error",
    }
}

/// What a streaming command (`listen`, `follow`) gets once the REST session limit passes.
pub(crate) const SESSION_CLOSED: &str = "Session closed";

/// A request's result: a reply now, or a stream that the server cuts after 60 s.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RestOutcome {
    /// Reply now.
    Reply(RestReply),
    /// A streaming command: reply `400 Session closed` after the limit.
    Stream,
}

/// JSON is UTF-8: a value whose bytes are not shows U+FFFD for them (what RouterOS
/// does here is not documented; the binary API keeps the bytes).
fn object(item: Item) -> Value {
    Value::Object(
        item.into_iter()
            .map(|(k, v)| (k, Value::String(v.lossy().into_owned())))
            .collect::<Map<_, _>>(),
    )
}

fn record_object(r: Record) -> Value {
    object(r.into_iter().collect())
}

/// A JSON input value as the string RouterOS would read (numbers in decimal).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn trap_reply(traps: &[Trap]) -> RestReply {
    RestReply::error(400, traps.first().map(|t| t.message.as_str()))
}

/// Decodes `%XX` escapes (ids arrive as `%2A1` from some clients); the bytes are kept.
pub(crate) fn percent_decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// [`percent_decode_bytes`] as text, for path segments (menu names are ASCII).
pub(crate) fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// Handles one authenticated request. `target` is the request target (`/rest/…?…`).
pub(crate) fn handle(
    state: &mut State,
    method: &str,
    target: &str,
    body: &[u8],
    now: Instant,
) -> RestOutcome {
    let reply = |r: RestReply| RestOutcome::Reply(r);
    let (path, query_string) = target.split_once('?').unwrap_or((target, ""));
    let Some(rest) = path.strip_prefix("/rest") else {
        return reply(RestReply::error(404, None));
    };
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let json_body: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return reply(RestReply::error(
                    400,
                    Some(&format!("JSON parse error: {e}")),
                ))
            }
        }
    };
    let args: Vec<(String, String)> = match &json_body {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => return reply(RestReply::error(400, Some("expected a JSON object"))),
    };
    // Whole path a menu → the collection; else the last segment is an item or a command.
    if let Ok(menu) = resolve_menu(&parts) {
        return reply(match method {
            "GET" => get_collection(state, menu, query_string, now),
            "PUT" if !menu.is_singleton() => put(state, menu, args, now),
            "PATCH" if menu.is_singleton() => run(state, menu, "set", args, Vec::new(), now),
            "POST" => RestReply::error(400, Some("no such command prefix")),
            _ => RestReply::error(
                406,
                Some(&format!(
                    "no such command or directory ({})",
                    verb_command(method)
                )),
            ),
        });
    }
    let Some((last, menu_parts)) = parts.split_last() else {
        return reply(RestReply::error(400, Some("no such command prefix")));
    };
    let menu = match resolve_menu(menu_parts) {
        Ok(m) => m,
        Err(seg) => {
            return reply(trap_reply(&no_such_command(if seg.is_empty() {
                last
            } else {
                &seg
            })))
        }
    };
    match method {
        "POST" => post(state, menu, last, json_body, args, now),
        "GET" | "PATCH" | "DELETE" => reply(item(state, menu, method, last, args, now)),
        _ => reply(RestReply::error(501, None)),
    }
}

fn verb_command(method: &str) -> &'static str {
    match method {
        "PUT" => "add",
        "PATCH" => "set",
        "DELETE" => "remove",
        _ => "print",
    }
}

fn get_collection(state: &State, menu: Menu, query_string: &str, now: Instant) -> RestReply {
    let mut words = Vec::new();
    let mut proplist: Option<Vec<String>> = None;
    for pair in query_string.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode_bytes(v));
        if k == ".proplist" {
            let v = String::from_utf8_lossy(&v);
            proplist = Some(v.split(',').map(str::to_string).collect());
        } else {
            words.push(Word::from([k.as_bytes(), b"=", &v].concat()));
        }
    }
    let query = match Query::parse(&words) {
        Ok(q) => q,
        Err(e) => return RestReply::error(400, Some(&e)),
    };
    // DOC-REST's own example (`GET /rest/ip/address?.proplist=address,disabled`)
    // answers with those two properties and no `.id`; POST `print` does the same.
    let mut found: Vec<Value> = select(state, menu, &query, now)
        .into_iter()
        .map(|r| object(project(r, proplist.as_deref())))
        .collect();
    if menu.is_singleton() {
        // LAB723: singletons are bare objects.
        return RestReply::ok(200, found.pop().unwrap_or_else(|| json!({})));
    }
    RestReply::ok(200, Value::Array(found))
}

fn command(menu: Menu, verb: &str, attrs: Vec<(String, String)>, queries: Vec<String>) -> Command {
    Command {
        path: format!("{}/{verb}", menu.path()),
        attrs: attrs.into_iter().map(|(k, v)| (k, Word::from(v))).collect(),
        queries: queries.into_iter().map(Word::from).collect(),
        tag: None,
    }
}

fn run(
    state: &mut State,
    menu: Menu,
    verb: &str,
    args: Vec<(String, String)>,
    queries: Vec<String>,
    now: Instant,
) -> RestReply {
    match execute(state, &command(menu, verb, args, queries), now) {
        Outcome::Traps(t) => trap_reply(&t),
        Outcome::Done { items, ret, print } => {
            if let Some(ret) = ret.filter(|_| items.is_empty()) {
                RestReply::ok(200, json!({ "ret": ret }))
            } else if items.is_empty() && !print {
                RestReply::ok(200, json!([]))
            } else {
                RestReply::ok(200, Value::Array(items.into_iter().map(object).collect()))
            }
        }
        Outcome::Stream { .. } => RestReply::error(400, Some(SESSION_CLOSED)),
    }
}

fn put(state: &mut State, menu: Menu, args: Vec<(String, String)>, now: Instant) -> RestReply {
    if !menu.commands().contains(&"add") {
        return RestReply::error(406, Some("no such command or directory (add)"));
    }
    match execute(state, &command(menu, "add", args, Vec::new()), now) {
        Outcome::Traps(t) => trap_reply(&t),
        Outcome::Done { ret: Some(ret), .. } => {
            let created = parse_id(&ret)
                .and_then(|id| state.table(menu)?.rows.get(&id))
                .map(|row| record_object(render_row(state, menu, row)));
            RestReply::ok(201, created.unwrap_or_else(|| json!({ "ret": ret })))
        }
        _ => RestReply::ok(201, json!({})),
    }
}

fn item(
    state: &mut State,
    menu: Menu,
    method: &str,
    key: &str,
    args: Vec<(String, String)>,
    now: Instant,
) -> RestReply {
    let Some(id) = state.table(menu).and_then(|t| t.resolve(key.as_bytes())) else {
        if menu.is_singleton() {
            return RestReply::error(400, Some("no such command prefix"));
        }
        return RestReply::error(404, None);
    };
    let verb = verb_command(method);
    if method != "GET" && !menu.commands().contains(&verb) {
        return RestReply::error(406, Some(&format!("no such command or directory ({verb})")));
    }
    let mut attrs = vec![(".id".to_string(), format_id(id))];
    match method {
        "GET" => {}
        "PATCH" => {
            attrs.extend(args);
            if let Outcome::Traps(t) = execute(state, &command(menu, "set", attrs, Vec::new()), now)
            {
                return trap_reply(&t);
            }
        }
        _ => {
            return match execute(state, &command(menu, "remove", attrs, Vec::new()), now) {
                Outcome::Traps(t) => trap_reply(&t),
                _ => RestReply {
                    status: 204,
                    body: None,
                },
            };
        }
    }
    match state.table(menu).and_then(|t| t.rows.get(&id)) {
        Some(row) => RestReply::ok(200, record_object(render_row(state, menu, row))),
        None => RestReply::error(404, None),
    }
}

fn post(
    state: &mut State,
    menu: Menu,
    verb: &str,
    body: Value,
    args: Vec<(String, String)>,
    now: Instant,
) -> RestOutcome {
    let mut attrs = Vec::new();
    let mut queries = Vec::new();
    for (k, v) in args {
        match k.as_str() {
            ".query" => {
                if let Some(words) = body.get(".query").and_then(Value::as_array) {
                    queries.extend(words.iter().map(text));
                }
            }
            _ => attrs.push((k, v)),
        }
    }
    let streaming = verb == "listen"
        || attrs
            .iter()
            .any(|(k, _)| k == "follow" || k == "follow-only");
    if streaming {
        return RestOutcome::Stream;
    }
    RestOutcome::Reply(run(state, menu, verb, attrs, queries, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SimVersion;

    fn state() -> State {
        State::new(
            SimVersion::parse("7.18").unwrap(),
            "admin".into(),
            String::new(),
            Instant::now(),
        )
    }

    fn call(s: &mut State, method: &str, target: &str, body: &str) -> RestReply {
        match handle(s, method, target, body.as_bytes(), Instant::now()) {
            RestOutcome::Reply(r) => r,
            RestOutcome::Stream => panic!("unexpected stream"),
        }
    }

    #[test]
    fn put_creates_a_user_and_values_come_back_as_strings() {
        let mut s = state();
        let r = call(
            &mut s,
            "PUT",
            "/rest/ip/hotspot/user",
            r#"{"name":"v1","password":"p","limit-bytes-total":1000}"#,
        );
        assert_eq!(r.status, 201);
        let b = r.body.unwrap();
        assert_eq!(b[".id"], "*1");
        assert_eq!(b["limit-bytes-total"], "1000");
        assert_eq!(b["disabled"], "false");
    }

    #[test]
    fn a_duplicate_put_is_a_400_with_the_router_text() {
        let mut s = state();
        call(&mut s, "PUT", "/rest/ip/hotspot/user", r#"{"name":"v1"}"#);
        let r = call(&mut s, "PUT", "/rest/ip/hotspot/user", r#"{"name":"v1"}"#);
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body.unwrap(),
            json!({"error":400,"message":"Bad Request","detail":"failure: already have user with this name for this server"})
        );
    }

    #[test]
    fn get_filters_patch_sets_and_delete_removes() {
        let mut s = state();
        call(
            &mut s,
            "PUT",
            "/rest/ip/hotspot/user",
            r#"{"name":"a","comment":"x"}"#,
        );
        call(&mut s, "PUT", "/rest/ip/hotspot/user", r#"{"name":"b"}"#);
        let r = call(
            &mut s,
            "GET",
            "/rest/ip/hotspot/user?comment=x&.proplist=name",
            "",
        );
        assert_eq!(r.body.unwrap(), json!([{"name":"a"}]));
        let r = call(
            &mut s,
            "PATCH",
            "/rest/ip/hotspot/user/%2A2",
            r#"{"disabled":"yes"}"#,
        );
        assert_eq!(r.body.unwrap()["disabled"], "true");
        assert_eq!(
            call(&mut s, "DELETE", "/rest/ip/hotspot/user/*2", "").status,
            204
        );
        let r = call(&mut s, "DELETE", "/rest/ip/hotspot/user/*2", "");
        assert_eq!(
            (r.status, r.body.unwrap()),
            (404, json!({"error":404,"message":"Not Found"}))
        );
        assert_eq!(
            call(&mut s, "GET", "/rest/ip/hotspot/user/*99", "").status,
            404
        );
    }

    #[test]
    fn post_print_takes_query_and_proplist() {
        let mut s = state();
        call(
            &mut s,
            "PUT",
            "/rest/ip/hotspot/user",
            r#"{"name":"a","profile":"default"}"#,
        );
        call(&mut s, "PUT", "/rest/ip/hotspot/user", r#"{"name":"b"}"#);
        let r = call(
            &mut s,
            "POST",
            "/rest/ip/hotspot/user/print",
            r##"{".proplist":["name"],".query":["name=a","name=b","#|"]}"##,
        );
        assert_eq!(r.body.unwrap(), json!([{"name":"a"},{"name":"b"}]));
        // GET with the same `.proplist` agrees: the listed properties, `.id` only if listed.
        let get = call(&mut s, "GET", "/rest/ip/hotspot/user?.proplist=name", "");
        let post = call(
            &mut s,
            "POST",
            "/rest/ip/hotspot/user/print",
            r#"{".proplist":"name"}"#,
        );
        assert_eq!(get.body, post.body);
        let get = call(
            &mut s,
            "GET",
            "/rest/ip/hotspot/user?.proplist=.id,name",
            "",
        );
        assert_eq!(get.body.unwrap()[1], json!({".id":"*1","name":"a"}));
        let r = call(
            &mut s,
            "POST",
            "/rest/ip/hotspot/user/add",
            r#"{"name":"c"}"#,
        );
        assert_eq!(r.body.unwrap(), json!({"ret":"*3"}));
    }

    #[test]
    fn singletons_unknown_paths_and_missing_verbs() {
        let mut s = state();
        let r = call(&mut s, "GET", "/rest/system/resource", "");
        assert_eq!(r.body.unwrap()["version"], "7.18 (stable)");
        let r = call(&mut s, "GET", "/rest/nonexistent", "");
        assert_eq!(
            r.body.unwrap()["detail"],
            "no such command or directory (nonexistent)"
        );
        let r = call(&mut s, "PUT", "/rest/ip/hotspot/active", "{}");
        assert_eq!(r.status, 406);
        let r = call(
            &mut s,
            "PUT",
            "/rest/ip/hotspot/user/profile",
            r#"{"name":"p","limit-uptime":"1h"}"#,
        );
        assert_eq!(r.body.unwrap()["detail"], "unknown parameter limit-uptime");
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("%2A1"), "*1");
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
