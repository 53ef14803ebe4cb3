//! The simulated router's tables: rows with `*HEX` ids that only grow, the built-in
//! items of a fresh router, and the change feed that `listen`/`follow` read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;

use super::menus::Menu;
use routeros_proto::{Record, RouterVersion, Word};

/// Traffic and time counters of a user, session or host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Connected time.
    pub uptime: Duration,
    /// Bytes sent by the client (router's "in").
    pub bytes_in: u64,
    /// Bytes received by the client (router's "out").
    pub bytes_out: u64,
    /// Packets sent by the client.
    pub packets_in: u64,
    /// Packets received by the client.
    pub packets_out: u64,
}

impl Counters {
    /// Adds traffic; packets are estimated at 1 000 bytes each.
    pub(crate) fn add(&mut self, dt: Duration, bytes_in: u64, bytes_out: u64) {
        self.uptime += dt;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.packets_in += bytes_in.div_ceil(1000);
        self.packets_out += bytes_out.div_ceil(1000);
    }

    /// Writes the counters into a printed record.
    pub(crate) fn render(&self, r: &mut Record) {
        r.insert(
            "uptime".into(),
            routeros_proto::format_duration(self.uptime).into(),
        );
        r.insert("bytes-in".into(), self.bytes_in.to_string().into());
        r.insert("bytes-out".into(), self.bytes_out.to_string().into());
        r.insert("packets-in".into(), self.packets_in.to_string().into());
        r.insert("packets-out".into(), self.packets_out.to_string().into());
    }
}

/// One item of a table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    /// Numeric id; printed as `*HEX`.
    pub id: u32,
    /// Writable properties as the router prints them.
    pub fields: Record,
    /// Read-only counters.
    pub counters: Counters,
    /// Built-in item (`default=true`): the `default` profile, the `default-trial` user.
    pub builtin: bool,
    /// For an active session: the user's id; for a host: the active session's id.
    pub link: Option<u32>,
}

static EMPTY: Word = Word::EMPTY;

#[cfg(test)]
thread_local! {
    /// Property reads on this thread, so a test can count a command's work: a
    /// command that scans its table reads a property of every row.
    pub(crate) static ROW_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Row {
    /// A property value (its bytes as a client sent them), or the empty word.
    pub(crate) fn get(&self, key: &str) -> &Word {
        #[cfg(test)]
        ROW_READS.with(|n| n.set(n.get() + 1));
        self.fields.get(key).unwrap_or(&EMPTY)
    }

    /// A property value as text: what the router itself wrote (numbers, durations,
    /// flags) is always UTF-8; anything else reads as `""`.
    pub(crate) fn text(&self, key: &str) -> &str {
        self.get(key).text().unwrap_or("")
    }
}

/// `*1A` for 26.
pub(crate) fn format_id(id: u32) -> String {
    format!("*{id:X}")
}

/// `*1A` → 26; `None` if it is not an id.
pub(crate) fn parse_id(text: &str) -> Option<u32> {
    let hex = text.strip_prefix('*')?;
    if hex.is_empty() {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// A table: rows in creation order, ids never reused, and an index of `name` so a
/// look-up, a duplicate check or a `?name=` print costs the same with 10 rows or
/// 10,000 (the cost of a command must not grow with the table unless a benchmark
/// asks for it, see `--service-time`). Rows are read directly; a row is added,
/// renamed or removed only through the methods here, which keep the index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    next_id: u32,
    /// Rows by id (id order = creation order).
    pub rows: BTreeMap<u32, Row>,
    names: HashMap<Word, BTreeSet<u32>>,
}

impl Table {
    /// An empty table whose first added row gets `*first`.
    pub(crate) fn starting_at(first: u32) -> Table {
        Table {
            next_id: first,
            ..Table::default()
        }
    }

    fn index(&mut self, row: &Row) {
        if let Some(name) = row.fields.get("name") {
            self.names.entry(name.clone()).or_default().insert(row.id);
        }
    }

    fn unindex(&mut self, id: u32, name: Option<&Word>) {
        if let Some(name) = name {
            if let Some(ids) = self.names.get_mut(name) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.names.remove(name);
                }
            }
        }
    }

    /// Inserts a row under the next id and returns the id.
    pub(crate) fn insert(&mut self, mut row: Row) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        row.id = id;
        self.index(&row);
        self.rows.insert(id, row);
        id
    }

    /// Inserts a built-in row under a fixed id (below the first added one).
    pub(crate) fn insert_builtin(&mut self, id: u32, mut row: Row) {
        row.id = id;
        row.builtin = true;
        self.index(&row);
        self.rows.insert(id, row);
    }

    /// Removes a row.
    pub(crate) fn remove(&mut self, id: u32) -> Option<Row> {
        let row = self.rows.remove(&id)?;
        self.unindex(id, row.fields.get("name"));
        Some(row)
    }

    /// Sets (`Some`) or clears (`None`) one property of a row.
    pub(crate) fn set_field(&mut self, id: u32, key: &str, value: Option<Word>) {
        let Some(row) = self.rows.get_mut(&id) else {
            return;
        };
        let old = match value {
            Some(v) => row.fields.insert(key.to_string(), v),
            None => row.fields.remove(key),
        };
        if key == "name" {
            self.unindex(id, old.as_ref());
            if let Some(row) = self.rows.get(&id).cloned() {
                self.index(&row);
            }
        }
    }

    /// The ids of the rows whose `name` is `name` (its bytes, exactly), in id order.
    pub(crate) fn ids_named(&self, name: &[u8]) -> impl Iterator<Item = u32> + '_ {
        self.names.get(name).into_iter().flatten().copied()
    }

    /// The row whose `name` is `name` (its bytes, exactly).
    pub(crate) fn by_name(&self, name: impl AsRef<[u8]>) -> Option<&Row> {
        self.ids_named(name.as_ref())
            .next()
            .and_then(|id| self.rows.get(&id))
    }

    /// Resolves an `.id` value: `*HEX`, or a name (WIKI-NOTES: names work as ids in
    /// some menus).
    pub(crate) fn resolve(&self, key: &[u8]) -> Option<u32> {
        match std::str::from_utf8(key).ok().and_then(parse_id) {
            Some(id) => self.rows.contains_key(&id).then_some(id),
            None => self.by_name(key).map(|r| r.id),
        }
    }
}

/// What changed, for `listen` and `print =follow=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// The menu.
    pub menu: Menu,
    /// The row.
    pub id: u32,
    /// The row was removed (`=.dead=yes`).
    pub dead: bool,
}

/// The version being simulated, with the text `/system/resource` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimVersion {
    /// Parsed version.
    pub version: RouterVersion,
    /// As printed, e.g. `7.18 (stable)`.
    pub text: String,
}

impl SimVersion {
    /// Parses `6.42`, `7.18`, `7.18 (stable)`, `7.1beta4`.
    pub(crate) fn parse(text: &str) -> Option<SimVersion> {
        let version = RouterVersion::parse(text)?;
        let number = text.split_whitespace().next()?;
        let channel = if number.contains("beta") || number.contains("rc") {
            "testing"
        } else {
            "stable"
        };
        Some(SimVersion {
            version,
            text: format!("{number} ({channel})"),
        })
    }

    fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        let v = self.version;
        (v.major, v.minor, v.patch) >= (major, minor, patch)
    }

    /// Plain `/login =name= =password=` exists from 6.43.
    pub(crate) fn plain_login(&self) -> bool {
        self.at_least(6, 43, 0)
    }

    /// The challenge `=response=` is accepted up to 6.45.1 (WIKI-APIDIFF).
    pub(crate) fn challenge_accepted(&self) -> bool {
        !self.at_least(6, 45, 2)
    }

    /// `!empty` from 7.18.
    pub(crate) fn sends_empty(&self) -> bool {
        self.version.sends_empty()
    }

    /// REST from 7.1.
    pub(crate) fn has_rest(&self) -> bool {
        self.version.has_rest()
    }

    /// ISO dates (`2023-07-14`) from 7.10; `jul/14/2023` before (§7).
    pub(crate) fn iso_dates(&self) -> bool {
        self.at_least(7, 10, 0)
    }
}

/// Everything the simulated router keeps.
#[derive(Debug)]
pub(crate) struct State {
    /// Version being simulated.
    pub version: SimVersion,
    /// `/ip/hotspot/user`.
    pub users: Table,
    /// `/ip/hotspot/user/profile`.
    pub profiles: Table,
    /// `/ip/hotspot/active`.
    pub active: Table,
    /// `/ip/hotspot/host`.
    pub hosts: Table,
    /// `/ip/hotspot`.
    pub servers: Table,
    /// The tables of [`super::tool_menus`]: logging, scripts, scheduler, interfaces, …
    pub extra: HashMap<Menu, Table>,
    /// `/system/identity name`.
    pub identity: Word,
    /// When the router "booted".
    pub booted: Instant,
    /// Wall clock at boot, so the clock advances with `booted`.
    pub booted_wall: SystemTime,
    /// API/REST login.
    pub login_user: String,
    /// API/REST password.
    pub login_password: String,
    /// Next client address handed out (host part of 10.5.50.0/24 and up).
    pub next_client: u32,
    changes: broadcast::Sender<Change>,
}

/// Fields of the built-in `default` profile as a fresh v7 router prints them.
const DEFAULT_PROFILE: &[(&str, &str)] = &[
    ("name", "default"),
    ("idle-timeout", "none"),
    ("keepalive-timeout", "2m"),
    ("status-autorefresh", "1m"),
    ("shared-users", "1"),
    ("add-mac-cookie", "true"),
    ("mac-cookie-timeout", "3d"),
    ("open-status-page", "http-login"),
    ("transparent-proxy", "false"),
    ("advertise", "false"),
    ("insert-queue-before", "first"),
];

fn record(pairs: &[(&str, &str)]) -> Record {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Word::from(*v)))
        .collect()
}

impl State {
    /// A fresh router: profile `default`, user `default-trial`, server `hotspot1`.
    pub(crate) fn new(
        version: SimVersion,
        login_user: String,
        login_password: String,
        now: Instant,
    ) -> State {
        let mut profiles = Table::starting_at(1);
        profiles.insert_builtin(
            0,
            Row {
                fields: record(DEFAULT_PROFILE),
                ..Row::default()
            },
        );
        let mut users = Table::starting_at(1);
        users.insert_builtin(
            0,
            Row {
                fields: record(&[
                    ("name", "default-trial"),
                    ("profile", "default"),
                    ("disabled", "false"),
                    ("comment", "counters and limits for trial users"),
                ]),
                ..Row::default()
            },
        );
        let mut servers = Table::starting_at(1);
        servers.insert(Row {
            fields: record(&[
                ("name", "hotspot1"),
                ("interface", "bridge"),
                ("address-pool", "hs-pool-1"),
                ("profile", "hsprof1"),
                ("idle-timeout", "5m"),
                ("keepalive-timeout", "none"),
                ("login-timeout", "none"),
                ("addresses-per-mac", "unlimited"),
                ("disabled", "false"),
            ]),
            ..Row::default()
        });
        let (changes, _) = broadcast::channel(1024);
        State {
            version,
            users,
            profiles,
            active: Table::starting_at(1),
            hosts: Table::starting_at(1),
            servers,
            extra: super::tool_menus::fresh_tables().into_iter().collect(),
            identity: "MikroTik".into(),
            booted: now,
            booted_wall: SystemTime::now(),
            login_user,
            login_password,
            next_client: 254,
            changes,
        }
    }

    /// A restart: every session and host ends and uptime starts again. Without
    /// `keep_users` the users are those of a router reset, or of a backup taken before
    /// any were added: the built-in one only, and ids start over at `*1`.
    pub(crate) fn reboot(&mut self, now: Instant, keep_users: bool) {
        self.active = Table::starting_at(1);
        self.hosts = Table::starting_at(1);
        if !keep_users {
            let mut fresh = Table::starting_at(1);
            for row in self.users.rows.values().filter(|r| r.builtin) {
                fresh.insert_builtin(row.id, row.clone());
            }
            self.users = fresh;
        }
        self.booted = now;
        self.booted_wall = SystemTime::now();
    }

    /// The table behind a menu (singletons have none).
    pub(crate) fn table(&self, menu: Menu) -> Option<&Table> {
        match menu {
            Menu::User => Some(&self.users),
            Menu::Profile => Some(&self.profiles),
            Menu::Active => Some(&self.active),
            Menu::Host => Some(&self.hosts),
            Menu::Server => Some(&self.servers),
            other => self.extra.get(&other),
        }
    }

    /// The table behind a menu, for changes.
    pub(crate) fn table_mut(&mut self, menu: Menu) -> Option<&mut Table> {
        match menu {
            Menu::User => Some(&mut self.users),
            Menu::Profile => Some(&mut self.profiles),
            Menu::Active => Some(&mut self.active),
            Menu::Host => Some(&mut self.hosts),
            Menu::Server => Some(&mut self.servers),
            other => self.extra.get_mut(&other),
        }
    }

    /// Tells `listen`ers a row changed or went away.
    pub(crate) fn changed(&self, menu: Menu, id: u32, dead: bool) {
        // No receivers is fine: nobody is listening.
        let _ = self.changes.send(Change { menu, id, dead });
    }

    /// A feed of changes, for a `listen` or `follow`.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// The next client address, `10.5.50.x`.
    pub(crate) fn next_address(&mut self) -> String {
        let n = self.next_client;
        self.next_client += 1;
        format!("10.5.{}.{}", 50 + n / 254, 1 + n % 254)
    }

    /// Seconds since the Unix epoch, as the router's clock shows now.
    pub(crate) fn wall_clock(&self, now: Instant) -> u64 {
        let boot = self
            .booted_wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        boot + now.saturating_duration_since(self.booted).as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_star_uppercase_hex_and_parse_back() {
        assert_eq!(format_id(26), "*1A");
        assert_eq!(parse_id("*1A"), Some(26));
        assert_eq!(parse_id("*80000001"), Some(0x8000_0001));
        assert_eq!(parse_id("1A"), None);
        assert_eq!(parse_id("*"), None);
    }

    #[test]
    fn ids_only_grow_even_after_removal() {
        let mut t = Table::starting_at(1);
        let a = t.insert(Row::default());
        t.remove(a);
        let b = t.insert(Row::default());
        assert!(b > a);
    }

    #[test]
    fn versions_switch_login_dates_and_empty() {
        let v = SimVersion::parse("6.42").unwrap();
        assert!(!v.plain_login() && v.challenge_accepted() && !v.has_rest());
        let v = SimVersion::parse("6.49").unwrap();
        assert!(v.plain_login() && !v.challenge_accepted() && !v.iso_dates());
        assert_eq!(v.text, "6.49 (stable)");
        let v = SimVersion::parse("7.12").unwrap();
        assert!(v.has_rest() && v.iso_dates() && !v.sends_empty());
        assert!(SimVersion::parse("7.18").unwrap().sends_empty());
        assert!(SimVersion::parse("6.45.1").unwrap().challenge_accepted());
    }
}
