//! Carrying out one command on the simulated router's state: print (with queries,
//! `.proplist`, `count-only`, `follow`), add, set, remove, enable, disable,
//! reset-counters and hotspot `login`. Pure over [`State`]; the API and REST servers
//! turn the [`Outcome`] into sentences or JSON.

use std::time::Instant;

use super::clients;
use super::menus::{self, resolve_command, Menu, Trap};
use super::outcome::Outcome;
use super::print;
pub(crate) use super::print::select;
use super::state::{format_id, Row, State};
use super::tool_menus::{self, Naming};
use super::values::check_args;
use routeros_proto::{Command, Record, Word};

/// Runs a command (already past login) on the state.
pub(crate) fn execute(state: &mut State, cmd: &Command, now: Instant) -> Outcome {
    let (menu, command) = match resolve_command(&cmd.path) {
        Ok(found) => found,
        Err(traps) => return Outcome::Traps(traps),
    };
    match command {
        "print" | "getall" => print::print(state, menu, cmd, now, false),
        "listen" => print::print(state, menu, cmd, now, true),
        "add" => add(state, menu, cmd, now),
        "set" if menu.is_singleton() => set_singleton(state, menu, cmd),
        "set" => set(state, menu, cmd),
        "remove" => remove(state, menu, cmd),
        "enable" | "disable" => {
            let value = if command == "disable" { "yes" } else { "no" };
            let mut args: Vec<(String, Word)> = ids_arg(cmd).into_iter().collect();
            args.push(("disabled".into(), value.into()));
            let set_cmd = Command {
                path: cmd.path.clone(),
                attrs: args,
                queries: Vec::new(),
                tag: None,
            };
            set(state, menu, &set_cmd)
        }
        "reset-counters" => reset_counters(state, menu, cmd),
        "login" => hotspot_login(state, cmd, now),
        "info" | "warning" | "error" | "debug" => {
            let Some(message) = cmd.get("message") else {
                return Outcome::trap(Trap::new("missing value(s) of argument(s) message"));
            };
            tool_menus::log(state, now, &format!("script,{command}"), message.clone());
            Outcome::done()
        }
        "run" => run_script(state, menu, cmd, now),
        other => Outcome::Traps(menus::no_such_command(other)),
    }
}

pub(super) fn ids_arg(cmd: &Command) -> Option<(String, Word)> {
    cmd.get(".id")
        .or_else(|| cmd.get("numbers"))
        .map(|v| (".id".to_string(), v.clone()))
}

/// A user name must be unique per server; `all` overlaps every server. Names are
/// compared as bytes, as the router does: `Ren\xe8` is not `Ren\xe9`.
fn duplicate_user(state: &State, name: &Word, server: &Word, except: Option<u32>) -> bool {
    let users = &state.users;
    users.ids_named(name.as_bytes()).any(|id| {
        let Some(u) = users.rows.get(&id) else {
            return false;
        };
        Some(u.id) != except
            && (u.get("server") == server
                || *server == "all"
                || u.get("server") == "all"
                || u.get("server").is_empty())
    })
}

fn duplicate_name(state: &State, menu: Menu, name: &Word, except: Option<u32>) -> Option<Trap> {
    let table = state.table(menu)?;
    let clash = table
        .ids_named(name.as_bytes())
        .any(|id| Some(id) != except);
    clash.then(|| Trap::new("failure: already have such name"))
}

fn add(state: &mut State, menu: Menu, cmd: &Command, now: Instant) -> Outcome {
    let changes = match check_args(state, menu, &cmd.attrs) {
        Ok(c) => c,
        Err(t) => return Outcome::trap(t),
    };
    let mut fields = Record::new();
    match menu {
        Menu::User => {
            fields.insert("profile".into(), "default".into());
            fields.insert("disabled".into(), "false".into());
        }
        Menu::Profile => {
            for (k, v) in [
                ("shared-users", "1"),
                ("idle-timeout", "none"),
                ("keepalive-timeout", "2m"),
            ] {
                fields.insert(k.into(), v.into());
            }
        }
        Menu::Server => {
            fields.insert("disabled".into(), "false".into());
        }
        _ => {}
    }
    for (k, v) in changes {
        match v {
            Some(v) => fields.insert(k, v),
            None => fields.remove(&k),
        };
    }
    tool_menus::add_defaults(state, menu, &mut fields, now);
    let given = fields.get("name").cloned().filter(|n| !n.is_empty());
    let name = match (tool_menus::naming(menu), given) {
        (Naming::Unnamed, _) => None,
        (_, Some(name)) => Some(name),
        (Naming::Auto(prefix), None) => {
            let name = auto_name(state, menu, prefix);
            fields.insert("name".into(), name.clone());
            Some(name)
        }
        (Naming::Required, None) => {
            return Outcome::trap(Trap::new("missing value(s) of argument(s) name"));
        }
    };
    if let Some(t) = name.and_then(|name| add_clash(state, menu, &name, &fields)) {
        return Outcome::trap(t);
    }
    let Some(table) = state.table_mut(menu) else {
        return Outcome::Traps(menus::no_such_command("add"));
    };
    let id = table.insert(Row {
        fields,
        ..Row::default()
    });
    state.changed(menu, id, false);
    Outcome::Done {
        items: Vec::new(),
        ret: Some(format_id(id)),
        print: false,
    }
}

/// `<prefix>1`, `<prefix>2`, …: the first name no item of the menu has.
fn auto_name(state: &State, menu: Menu, prefix: &str) -> Word {
    let taken = |n: &Word| state.table(menu).is_some_and(|t| t.by_name(n).is_some());
    (1u32..)
        .map(|n| Word::from(format!("{prefix}{n}")))
        .find(|n| !taken(n))
        .unwrap_or_default()
}

/// The trap an `add` of `name` gets when the name is taken.
fn add_clash(state: &State, menu: Menu, name: &Word, fields: &Record) -> Option<Trap> {
    if menu == Menu::User {
        let all = Word::from("all");
        let server = fields.get("server").unwrap_or(&all);
        return duplicate_user(state, name, server, None)
            .then(|| Trap::new("failure: already have user with this name for this server"));
    }
    duplicate_name(state, menu, name, None)
}

/// Resolves `=.id=` / `=numbers=` (comma-separated ids or names) to row ids.
fn target_ids(state: &State, menu: Menu, cmd: &Command) -> Result<Vec<u32>, Trap> {
    let Some((_, list)) = ids_arg(cmd) else {
        return Err(Trap::new("missing value(s) of argument(s) numbers"));
    };
    let table = state.table(menu).ok_or_else(Trap::no_such_item)?;
    list.as_bytes()
        .split(|b| *b == b',')
        .map(|key| {
            table
                .resolve(key.trim_ascii())
                .ok_or_else(Trap::no_such_item)
        })
        .collect()
}

fn set(state: &mut State, menu: Menu, cmd: &Command) -> Outcome {
    let ids = match target_ids(state, menu, cmd) {
        Ok(ids) => ids,
        Err(t) => return Outcome::trap(t),
    };
    let changes = match check_args(state, menu, &cmd.attrs) {
        Ok(c) => c,
        Err(t) => return Outcome::trap(t),
    };
    for &id in &ids {
        let new_name = changes
            .iter()
            .find(|(k, _)| k == "name")
            .and_then(|(_, v)| v.clone());
        if let Some(name) = new_name {
            if menu == Menu::User {
                let mut server = state.users.rows[&id].get("server").clone();
                if server.is_empty() {
                    server = Word::from("all");
                }
                if duplicate_user(state, &name, &server, Some(id)) {
                    return Outcome::trap(Trap::new(
                        "failure: already have user with this name for this server",
                    ));
                }
            } else if let Some(t) = duplicate_name(state, menu, &name, Some(id)) {
                return Outcome::trap(t);
            }
        }
    }
    if let Some(table) = state.table_mut(menu) {
        for &id in &ids {
            for (k, v) in &changes {
                table.set_field(id, k, v.clone());
            }
        }
    }
    for id in ids {
        state.changed(menu, id, false);
    }
    Outcome::done()
}

fn set_singleton(state: &mut State, menu: Menu, cmd: &Command) -> Outcome {
    let changes = match check_args(state, menu, &cmd.attrs) {
        Ok(c) => c,
        Err(t) => return Outcome::trap(t),
    };
    for (k, v) in changes {
        if menu == Menu::Identity && k == "name" {
            state.identity = v.unwrap_or_default();
        }
    }
    Outcome::done()
}

fn remove(state: &mut State, menu: Menu, cmd: &Command) -> Outcome {
    let ids = match target_ids(state, menu, cmd) {
        Ok(ids) => ids,
        Err(t) => return Outcome::trap(t),
    };
    let builtin = state.table(menu).is_some_and(|t| {
        ids.iter()
            .any(|id| t.rows.get(id).is_some_and(|r| r.builtin))
    });
    if builtin {
        return Outcome::trap(Trap::new("failure: default item can not be removed"));
    }
    for id in ids {
        match menu {
            Menu::Active => {
                clients::logout(state, id);
            }
            Menu::User => {
                let sessions: Vec<u32> = state
                    .active
                    .rows
                    .values()
                    .filter(|a| a.link == Some(id))
                    .map(|a| a.id)
                    .collect();
                for s in sessions {
                    clients::logout(state, s);
                }
                state.users.remove(id);
                state.changed(menu, id, true);
            }
            _ => {
                if let Some(t) = state.table_mut(menu) {
                    t.remove(id);
                }
                state.changed(menu, id, true);
            }
        }
    }
    Outcome::done()
}

fn reset_counters(state: &mut State, menu: Menu, cmd: &Command) -> Outcome {
    let ids = match target_ids(state, menu, cmd) {
        Ok(ids) => ids,
        Err(t) => return Outcome::trap(t),
    };
    for id in ids {
        if let Some(u) = state.users.rows.get_mut(&id) {
            u.counters = Default::default();
        }
        state.changed(menu, id, false);
    }
    Outcome::done()
}

/// `/system/script run`: the simulator runs no scripts, but counts the run.
fn run_script(state: &mut State, menu: Menu, cmd: &Command, now: Instant) -> Outcome {
    let ids = match target_ids(state, menu, cmd) {
        Ok(ids) => ids,
        Err(t) => return Outcome::trap(t),
    };
    let (date, time) = tool_menus::date_and_time(state, now);
    if let Some(table) = state.table_mut(menu) {
        for id in &ids {
            if let Some(row) = table.rows.get_mut(id) {
                let runs = row.text("run-count").parse::<u64>().unwrap_or(0) + 1;
                row.fields
                    .insert("run-count".into(), runs.to_string().into());
                row.fields
                    .insert("last-started".into(), format!("{date} {time}").into());
            }
        }
    }
    Outcome::done()
}

fn hotspot_login(state: &mut State, cmd: &Command, now: Instant) -> Outcome {
    for (k, _) in &cmd.attrs {
        if !matches!(
            k.as_str(),
            "user" | "password" | "ip" | "mac-address" | "domain"
        ) && !k.starts_with('.')
        {
            return Outcome::trap(Trap::unknown_parameter(k));
        }
    }
    let user = cmd.get("user").map(Word::as_bytes).unwrap_or(b"");
    let password = cmd.get("password").map(Word::as_bytes).unwrap_or(b"");
    let mac = cmd.get_text("mac-address").unwrap_or("00:00:00:00:00:00");
    match clients::login(state, user, password, mac, cmd.get_text("ip"), "http-pap") {
        Ok(id) => {
            clients::logged_in(state, id, now);
            Outcome::done()
        }
        Err(e) => Outcome::trap(Trap::new(e.to_string())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::outcome::Item;
    use crate::state::SimVersion;

    /// A fresh router of this version, API user `admin` with no password.
    pub(crate) fn state_of(version: &str) -> State {
        State::new(
            SimVersion::parse(version).unwrap(),
            "admin".into(),
            String::new(),
            Instant::now(),
        )
    }

    fn state() -> State {
        state_of("7.18")
    }

    /// Runs one command given as words.
    pub(crate) fn run(s: &mut State, words: &[&str]) -> Outcome {
        let raw: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        execute(s, &Command::parse(&raw).unwrap(), Instant::now())
    }

    fn ret(o: &Outcome) -> String {
        match o {
            Outcome::Done { ret: Some(r), .. } => r.clone(),
            other => panic!("expected =ret=, got {other:?}"),
        }
    }

    fn trap_messages(o: &Outcome) -> Vec<String> {
        match o {
            Outcome::Traps(t) => t.iter().map(|t| t.message.clone()).collect(),
            other => panic!("expected traps, got {other:?}"),
        }
    }

    fn items(o: &Outcome) -> Vec<Item> {
        match o {
            Outcome::Done { items, .. } => items.clone(),
            other => panic!("expected items, got {other:?}"),
        }
    }

    #[test]
    fn add_returns_increasing_hex_ids() {
        let mut s = state();
        let a = ret(&run(
            &mut s,
            &["/ip/hotspot/user/add", "=name=a", "=password=a"],
        ));
        let b = ret(&run(
            &mut s,
            &["/ip/hotspot/user/add", "=name=b", "=password=b"],
        ));
        assert_eq!((a.as_str(), b.as_str()), ("*1", "*2"));
        for n in 3..=10 {
            run(&mut s, &["/ip/hotspot/user/add", &format!("=name=u{n}")]);
        }
        assert_eq!(
            ret(&run(&mut s, &["/ip/hotspot/user/add", "=name=u11"])),
            "*B"
        );
    }

    #[test]
    fn a_duplicate_user_traps_with_the_router_text() {
        let mut s = state();
        run(&mut s, &["/ip/hotspot/user/add", "=name=a"]);
        let o = run(&mut s, &["/ip/hotspot/user/add", "=name=a"]);
        assert_eq!(
            trap_messages(&o),
            ["failure: already have user with this name for this server"]
        );
    }

    #[test]
    fn set_and_remove_of_unknown_ids_say_no_such_item() {
        let mut s = state();
        let o = run(&mut s, &["/ip/hotspot/user/set", "=.id=*99", "=comment=x"]);
        assert_eq!(trap_messages(&o), ["no such item (4)"]);
        let o = run(&mut s, &["/ip/hotspot/user/remove", "=.id=*99"]);
        assert_eq!(trap_messages(&o), ["no such item (4)"]);
    }

    #[test]
    fn print_with_a_query_and_proplist_lists_matching_users() {
        let mut s = state();
        run(&mut s, &["/ip/hotspot/user/add", "=name=a", "=comment=x"]);
        run(&mut s, &["/ip/hotspot/user/add", "=name=b"]);
        let o = run(
            &mut s,
            &[
                "/ip/hotspot/user/print",
                "=.proplist=.id,name",
                "?comment=x",
            ],
        );
        assert_eq!(
            items(&o),
            vec![vec![
                (".id".into(), "*1".into()),
                ("name".into(), "a".into())
            ]]
        );
        let all = items(&run(&mut s, &["/ip/hotspot/user/print"]));
        assert_eq!(all.len(), 3, "default-trial is listed too");
        let o = run(&mut s, &["/ip/hotspot/user/print", "=count-only="]);
        assert_eq!(ret(&o), "3");
    }

    #[test]
    fn disable_enable_and_reset_counters_change_the_user() {
        let mut s = state();
        let id = ret(&run(
            &mut s,
            &["/ip/hotspot/user/add", "=name=a", "=password=p"],
        ));
        run(&mut s, &["/ip/hotspot/user/disable", &format!("=.id={id}")]);
        assert_eq!(s.users.by_name("a").unwrap().get("disabled"), "true");
        run(
            &mut s,
            &["/ip/hotspot/user/enable", &format!("=numbers={id}")],
        );
        assert_eq!(s.users.by_name("a").unwrap().get("disabled"), "false");
        clients::login(&mut s, b"a", b"p", "m", None, "http-chap").unwrap();
        clients::add_traffic(&mut s, b"a", 10, 20);
        run(
            &mut s,
            &["/ip/hotspot/user/reset-counters", &format!("=.id={id}")],
        );
        assert_eq!(s.users.by_name("a").unwrap().counters.bytes_out, 0);
    }

    #[test]
    fn removing_an_active_session_disconnects_the_client() {
        let mut s = state();
        run(&mut s, &["/ip/hotspot/user/add", "=name=a", "=password=p"]);
        assert!(matches!(
            run(
                &mut s,
                &[
                    "/ip/hotspot/active/login",
                    "=user=a",
                    "=password=p",
                    "=mac-address=02:00:00:00:00:09"
                ]
            ),
            Outcome::Done { .. }
        ));
        let active = items(&run(&mut s, &["/ip/hotspot/active/print"]));
        let id = active[0]
            .iter()
            .find(|(k, _)| k == ".id")
            .unwrap()
            .1
            .clone();
        run(
            &mut s,
            &["/ip/hotspot/active/remove", &format!("=.id={id}")],
        );
        assert!(s.active.rows.is_empty());
        let o = run(
            &mut s,
            &["/ip/hotspot/active/login", "=user=a", "=password=bad"],
        );
        assert_eq!(trap_messages(&o), ["invalid username or password"]);
    }

    #[test]
    fn built_in_items_cannot_be_removed_and_profiles_refuse_limits() {
        let mut s = state();
        let o = run(&mut s, &["/ip/hotspot/user/profile/remove", "=.id=default"]);
        assert_eq!(
            trap_messages(&o),
            ["failure: default item can not be removed"]
        );
        let o = run(
            &mut s,
            &[
                "/ip/hotspot/user/profile/add",
                "=name=p",
                "=limit-uptime=1h",
            ],
        );
        assert_eq!(trap_messages(&o), ["unknown parameter limit-uptime"]);
        let o = run(
            &mut s,
            &["/ip/hotspot/user/add", "=name=u", "=profile=gold"],
        );
        assert_eq!(
            trap_messages(&o),
            ["input does not match any value of profile"]
        );
    }

    #[test]
    fn singletons_print_one_item_and_identity_can_be_set() {
        let mut s = state();
        let r = items(&run(&mut s, &["/system/resource/print"]));
        assert_eq!(r.len(), 1);
        assert!(r[0].contains(&("version".into(), "7.18 (stable)".into())));
        assert!(r[0].contains(&("board-name".into(), "CHR".into())));
        run(&mut s, &["/system/identity/set", "=name=kiosk"]);
        let r = items(&run(&mut s, &["/system/identity/getall"]));
        assert_eq!(r[0], vec![("name".to_string(), Word::from("kiosk"))]);
    }

    #[test]
    fn the_clock_prints_the_date_format_of_the_version() {
        for (version, iso) in [
            ("6.49", false),
            ("7.8", false),
            ("7.10", true),
            ("7.18", true),
        ] {
            let mut s = State::new(
                SimVersion::parse(version).unwrap(),
                "admin".into(),
                String::new(),
                Instant::now(),
            );
            let clock = items(&run(&mut s, &["/system/clock/print"]));
            let date = &clock[0].iter().find(|(k, _)| k == "date").unwrap().1;
            // 2026-11-22 vs nov/22/2026
            assert_eq!(date.as_bytes()[4] == b'-', iso, "{version}: {date}");
            assert_eq!(date.as_bytes().contains(&b'/'), !iso, "{version}: {date}");
        }
    }

    /// Adds 500 users and looks each up by name; the shortest of three runs.
    fn five_hundred_adds_and_lookups(s: &mut State, round: &str) -> std::time::Duration {
        (0..3)
            .map(|r| {
                let start = Instant::now();
                for i in 0..500 {
                    let name = format!("=name={round}{r}-{i}");
                    run(s, &["/ip/hotspot/user/add", &name, "=password=p"]);
                    let query = format!("?name={round}{r}-{i}");
                    assert_eq!(items(&run(s, &["/ip/hotspot/user/print", &query])).len(), 1);
                }
                start.elapsed()
            })
            .min()
            .unwrap_or_default()
    }

    /// Row property reads made by 100 adds (one a clash) and 100 look-ups by name.
    fn reads_of_a_hundred_adds_and_lookups(s: &mut State, round: &str) -> u64 {
        use crate::state::ROW_READS;
        let before = ROW_READS.with(|n| n.get());
        for i in 0..100 {
            let name = format!("=name={round}-{i}");
            run(s, &["/ip/hotspot/user/add", &name, "=password=p"]);
            let query = format!("?name={round}-{i}");
            assert_eq!(items(&run(s, &["/ip/hotspot/user/print", &query])).len(), 1);
        }
        let clash = format!("=name={round}-0");
        assert!(matches!(
            run(s, &["/ip/hotspot/user/add", &clash]),
            Outcome::Traps(_)
        ));
        ROW_READS.with(|n| n.get()) - before
    }

    #[test]
    fn an_add_and_a_lookup_by_name_do_the_same_work_beside_5_000_users_as_beside_none() {
        let mut s = state();
        let fresh = reads_of_a_hundred_adds_and_lookups(&mut s, "a");
        for i in 0..5_000 {
            run(&mut s, &["/ip/hotspot/user/add", &format!("=name=fill{i}")]);
        }
        let full = reads_of_a_hundred_adds_and_lookups(&mut s, "b");
        // A duplicate check or a `?name=` that scanned the table would read a
        // property of each of the 5,000 rows per command: 1,000,000 reads here.
        assert_eq!(full, fresh, "work per command must not grow with the table");
    }

    #[test]
    fn an_add_and_a_lookup_by_name_cost_the_same_in_a_large_table() {
        let mut s = state();
        let small = five_hundred_adds_and_lookups(&mut s, "a");
        for i in 0..20_000 {
            run(&mut s, &["/ip/hotspot/user/add", &format!("=name=fill{i}")]);
        }
        let large = five_hundred_adds_and_lookups(&mut s, "b");
        // A scan of 20,000 rows per add and per look-up would make this 100x or more.
        assert!(
            large < small * 5 + std::time::Duration::from_millis(20),
            "500 adds and look-ups: {small:?} with ~1,500 users, {large:?} with ~21,500"
        );
    }
}
