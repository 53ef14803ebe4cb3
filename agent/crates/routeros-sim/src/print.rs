//! `print`, `getall` and `listen`: query words, `.proplist`, `count-only`, and the
//! `follow`/`follow-only`/`listen` streams that go on reporting changes.

use std::time::Instant;

use super::menus::{project, Menu, Trap, PRINT_ARGS};
use super::outcome::{Outcome, StreamSpec};
use super::query::Query;
use super::records::{render_row, render_singleton};
use super::state::State;
use routeros_proto::Command;
use routeros_proto::{Record, Word};

fn proplist(cmd: &Command) -> Option<Vec<String>> {
    cmd.get(".proplist")
        .or_else(|| cmd.get("proplist"))
        .map(|p| {
            p.lossy()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
}

/// Renders every item of a menu that the query selects.
pub(crate) fn select(state: &State, menu: Menu, query: &Query, now: Instant) -> Vec<Record> {
    if menu.is_singleton() {
        let r = render_singleton(state, menu, now);
        return if query.matches(&r) {
            vec![r]
        } else {
            Vec::new()
        };
    }
    let Some(table) = state.table(menu) else {
        return Vec::new();
    };
    // `=.id=` alone: one row.
    if let Some(id) = query.only_equals(".id") {
        let row = id
            .text()
            .and_then(|t| table.resolve(t.as_bytes()))
            .and_then(|id| table.rows.get(&id));
        return row
            .map(|row| render_row(state, menu, row))
            .filter(|r| query.matches(r))
            .into_iter()
            .collect();
    }
    // `?name=x` alone: the index finds the rows (names compare as bytes either way).
    if let Some(name) = query.only_equals("name") {
        return table
            .ids_named(name.as_bytes())
            .filter_map(|id| table.rows.get(&id))
            .map(|row| render_row(state, menu, row))
            .filter(|r| query.matches(r))
            .collect();
    }
    table
        .rows
        .values()
        .map(|row| render_row(state, menu, row))
        .filter(|r| query.matches(r))
        .collect()
}

pub(super) fn print(
    state: &mut State,
    menu: Menu,
    cmd: &Command,
    now: Instant,
    listen: bool,
) -> Outcome {
    for (k, _) in &cmd.attrs {
        if !(k.starts_with('.') || PRINT_ARGS.contains(&k.as_str())) {
            return Outcome::trap(Trap::unknown_parameter(k));
        }
    }
    let mut query = match Query::parse(&cmd.queries) {
        Ok(q) => q,
        Err(e) => return Outcome::trap(Trap::new(e)),
    };
    if let Some(id) = cmd.get(".id") {
        let mut words = vec![Word::from([&b".id="[..], id.as_bytes()].concat())];
        words.extend(cmd.queries.iter().cloned());
        query = Query::parse(&words).unwrap_or(query);
    }
    let proplist = proplist(cmd);
    let follow = cmd.get("follow").is_some();
    let follow_only = cmd.get("follow-only").is_some();
    if listen || follow || follow_only {
        let items = if follow {
            select(state, menu, &query, now)
                .into_iter()
                .map(|r| project(r, proplist.as_deref()))
                .collect()
        } else {
            Vec::new()
        };
        return Outcome::Stream {
            items,
            spec: StreamSpec {
                menu,
                query,
                proplist,
            },
        };
    }
    let found = select(state, menu, &query, now);
    if cmd.get("count-only").is_some() {
        return Outcome::Done {
            items: Vec::new(),
            ret: Some(found.len().to_string()),
            print: false,
        };
    }
    Outcome::Done {
        items: found
            .into_iter()
            .map(|r| project(r, proplist.as_deref()))
            .collect(),
        ret: None,
        print: true,
    }
}
