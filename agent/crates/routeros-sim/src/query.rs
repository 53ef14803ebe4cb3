//! `print` query words (`?name=x`, `?-name`, `?<name=x`, `?#|!`) evaluated against
//! a record with the stack semantics of DOC-API "Queries" (routeros-reference.md §3).
//! Pure: the query is parsed once per command, then tested per item.

use routeros_proto::{Record, Word};

/// One parsed query word. Values keep their bytes: `?name=Ren\xe0` finds only
/// the user whose name is exactly those bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// `?name`: the item has a value for `name`.
    Has(String),
    /// `?-name`: the item has no value for `name`.
    Lacks(String),
    /// `?name=x` / `?=name=x`.
    Eq(String, Word),
    /// `?<name=x`.
    Less(String, Word),
    /// `?>name=x`.
    Greater(String, Word),
    /// `?#ops`: stack operations.
    Ops(String),
}

/// A parsed query: the words of one `print`, in order (order is significant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    words: Vec<Test>,
}

fn split_kv(body: &[u8]) -> (String, Word) {
    match body.iter().position(|b| *b == b'=') {
        Some(at) => (
            String::from_utf8_lossy(&body[..at]).into_owned(),
            Word::from(&body[at + 1..]),
        ),
        None => (String::from_utf8_lossy(body).into_owned(), Word::default()),
    }
}

impl Query {
    /// Parses query words given without their leading `?`. Every form is accepted;
    /// errors surface only as stack operations that are not understood.
    pub(crate) fn parse(words: &[Word]) -> Result<Query, String> {
        let mut out = Vec::with_capacity(words.len());
        for w in words {
            let b = w.as_bytes();
            let word = if let Some(ops) = b.strip_prefix(b"#") {
                if let Some(bad) = ops
                    .iter()
                    .find(|c| !(c.is_ascii_digit() || b"!&|.".contains(*c)))
                {
                    return Err(format!(
                        "unknown query operation {:?} in ?{w}",
                        char::from(*bad)
                    ));
                }
                Test::Ops(String::from_utf8_lossy(ops).into_owned())
            } else if let Some(name) = b.strip_prefix(b"-") {
                Test::Lacks(String::from_utf8_lossy(name).into_owned())
            } else if let Some(body) = b.strip_prefix(b"<") {
                let (k, v) = split_kv(body);
                Test::Less(k, v)
            } else if let Some(body) = b.strip_prefix(b">") {
                let (k, v) = split_kv(body);
                Test::Greater(k, v)
            } else if let Some(body) = b.strip_prefix(b"=") {
                let (k, v) = split_kv(body);
                Test::Eq(k, v)
            } else if b.contains(&b'=') {
                let (k, v) = split_kv(b);
                Test::Eq(k, v)
            } else {
                Test::Has(w.lossy().into_owned())
            };
            out.push(word);
        }
        Ok(Query { words: out })
    }

    /// The value when the whole query is one `?key=value` test (what a look-up by
    /// name sends), so the caller may use an index; `None` otherwise.
    pub(crate) fn only_equals(&self, key: &str) -> Option<&Word> {
        match self.words.as_slice() {
            [Test::Eq(k, v)] if k == key => Some(v),
            _ => None,
        }
    }

    /// Whether `item` is returned: the stack starts as "an infinite amount of true"
    /// and the item is returned unless the final stack holds a `false`.
    pub(crate) fn matches(&self, item: &Record) -> bool {
        if self.words.is_empty() {
            return true;
        }
        // `stack` holds the explicit entries, top last; below them lie endless trues.
        let mut stack: Vec<bool> = Vec::with_capacity(self.words.len());
        for word in &self.words {
            match word {
                Test::Has(k) => stack.push(item.contains_key(k)),
                Test::Lacks(k) => stack.push(!item.contains_key(k)),
                Test::Eq(k, v) => {
                    let value = item.get(k).map(Word::as_bytes).unwrap_or(b"");
                    stack.push(values_equal(k, value, v.as_bytes()));
                }
                Test::Less(k, v) => stack.push(
                    item.get(k)
                        .is_some_and(|x| compare(k, x.as_bytes(), v.as_bytes()).is_lt()),
                ),
                Test::Greater(k, v) => stack.push(
                    item.get(k)
                        .is_some_and(|x| compare(k, x.as_bytes(), v.as_bytes()).is_gt()),
                ),
                Test::Ops(ops) => run_ops(ops, &mut stack),
            }
        }
        stack.iter().all(|b| *b)
    }
}

fn pop(stack: &mut Vec<bool>) -> bool {
    stack.pop().unwrap_or(true)
}

fn at(stack: &[bool], index: usize) -> bool {
    if index < stack.len() {
        stack[stack.len() - 1 - index]
    } else {
        true
    }
}

/// `?#` operations, left to right (DOC-API): a digit run is a stack index (top = 0);
/// an index followed by another character pushes a copy of that entry; an index at
/// the end of the word replaces the whole stack with that entry; `!` negates the top;
/// `&` and `|` pop two and push the result; `.` after an index does nothing, after
/// anything else it pushes a copy of the top.
fn run_ops(ops: &str, stack: &mut Vec<bool>) {
    let bytes = ops.as_bytes();
    let mut i = 0;
    let mut after_index = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let index: usize = ops[start..i].parse().unwrap_or(usize::MAX);
            let value = at(stack, index);
            if i == bytes.len() {
                stack.clear();
                stack.push(value);
            } else {
                stack.push(value);
            }
            after_index = true;
            continue;
        }
        match c {
            b'!' => {
                let v = pop(stack);
                stack.push(!v);
            }
            b'&' => {
                let (a, b) = (pop(stack), pop(stack));
                stack.push(a && b);
            }
            b'|' => {
                let (a, b) = (pop(stack), pop(stack));
                stack.push(a || b);
            }
            b'.' if !after_index => {
                let top = at(stack, 0);
                stack.push(top);
            }
            _ => {}
        }
        after_index = false;
        i += 1;
    }
}

/// Properties holding durations: compared as times, so `?uptime=0s` and
/// `?uptime=00:00:00` find the same users (MIKHMON uses both, §3).
pub(crate) fn is_time_field(key: &str) -> bool {
    matches!(
        key,
        "uptime" | "limit-uptime" | "idle-time" | "session-time-left" | "mac-cookie-timeout"
    ) || key.ends_with("-timeout")
}

/// Properties holding booleans: `yes`/`no` and `true`/`false` are the same value.
pub(crate) fn is_bool_field(key: &str) -> bool {
    matches!(
        key,
        "disabled"
            | "dynamic"
            | "default"
            | "authorized"
            | "bypassed"
            | "blocked"
            | "radius"
            | "invalid"
            | "HTTPS"
            | "add-mac-cookie"
            | "transparent-proxy"
            | "advertise"
            | "dst-active"
            | "time-zone-autodetect"
    )
}

fn as_bool(v: &str) -> Option<bool> {
    match v {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

fn as_time(v: &str) -> Option<std::time::Duration> {
    routeros_proto::read_duration(v).ok()
}

fn values_equal(key: &str, have: &[u8], want: &[u8]) -> bool {
    if have == want {
        return true;
    }
    let (Ok(have), Ok(want)) = (std::str::from_utf8(have), std::str::from_utf8(want)) else {
        return false;
    };
    if is_bool_field(key) {
        if let (Some(a), Some(b)) = (as_bool(have), as_bool(want)) {
            return a == b;
        }
    }
    if is_time_field(key) {
        if let (Some(a), Some(b)) = (as_time(have), as_time(want)) {
            return a == b;
        }
    }
    false
}

/// `?<`/`?>` comparison. Whether RouterOS compares numerically or lexically is not
/// documented (§9); we compare integers as numbers, durations as times, else as text.
fn compare(key: &str, have: &[u8], want: &[u8]) -> std::cmp::Ordering {
    let (Ok(have), Ok(want)) = (std::str::from_utf8(have), std::str::from_utf8(want)) else {
        return have.cmp(want);
    };
    if let (Ok(a), Ok(b)) = (have.parse::<i128>(), want.parse::<i128>()) {
        return a.cmp(&b);
    }
    if is_time_field(key) {
        if let (Some(a), Some(b)) = (as_time(have), as_time(want)) {
            return a.cmp(&b);
        }
    }
    have.cmp(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, &str)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Word::from(*v)))
            .collect()
    }

    fn q(words: &[&str]) -> Query {
        Query::parse(&words.iter().map(|w| Word::from(*w)).collect::<Vec<_>>()).unwrap()
    }

    fn interfaces() -> Vec<Record> {
        vec![
            rec(&[("name", "ether1"), ("type", "ether"), ("disabled", "false")]),
            rec(&[
                ("name", "vlan9"),
                ("type", "vlan"),
                ("disabled", "false"),
                ("comment", "uplink"),
            ]),
            rec(&[("name", "br0"), ("type", "bridge"), ("disabled", "true")]),
            rec(&[
                ("name", "ether2"),
                ("type", "ether"),
                ("disabled", "true"),
                ("slave", "true"),
            ]),
            rec(&[("name", "wg0"), ("type", "wg"), ("disabled", "false")]),
        ]
    }

    fn names(query: &Query) -> Vec<String> {
        interfaces()
            .into_iter()
            .filter(|r| query.matches(r))
            .map(|r| r["name"].to_string())
            .collect()
    }

    #[test]
    fn an_empty_query_returns_every_item() {
        assert_eq!(names(&q(&[])).len(), 5);
    }

    #[test]
    fn ether_or_vlan_is_the_doc_example() {
        // DOC-API: ?type=ether ?type=vlan ?#|
        assert_eq!(
            names(&q(&["type=ether", "type=vlan", "#|"])),
            ["ether1", "vlan9", "ether2"]
        );
    }

    #[test]
    fn consecutive_tests_without_operators_mean_and() {
        assert_eq!(names(&q(&["type=ether", "disabled=false"])), ["ether1"]);
    }

    #[test]
    fn non_empty_comment_is_greater_than_nothing() {
        // DOC-API: ?>comment=
        assert_eq!(names(&q(&[">comment="])), ["vlan9"]);
    }

    #[test]
    fn has_and_lacks_test_presence() {
        assert_eq!(names(&q(&["comment"])), ["vlan9"]);
        assert_eq!(names(&q(&["-slave"])).len(), 4);
    }

    #[test]
    fn equals_with_a_leading_equals_sign_is_the_same_test() {
        assert_eq!(names(&q(&["=name=br0"])), ["br0"]);
        assert_eq!(names(&q(&["name=br0"])), ["br0"]);
    }

    #[test]
    fn the_lrdocs_composite_query_selects_enabled_non_slave_bridges_ethers_and_vlans() {
        // LRDOCS: ?-slave ?=disabled=no ?=type=bridge ?=type=ether ?=type=vlan ?#| ?#| ?#& ?#&
        let query = q(&[
            "-slave",
            "=disabled=no",
            "=type=bridge",
            "=type=ether",
            "=type=vlan",
            "#|",
            "#|",
            "#&",
            "#&",
        ]);
        assert_eq!(names(&query), ["ether1", "vlan9"]);
    }

    #[test]
    fn not_equal_is_equal_then_negate() {
        // LR-QUERY: k != v → ?=k=v ?#!
        assert_eq!(names(&q(&["=type=ether", "#!"])), ["vlan9", "br0", "wg0"]);
    }

    #[test]
    fn in_is_equals_joined_by_or() {
        // LR-QUERY: type.In(ether, wg, bridge) → three equals and two ORs
        let query = q(&["=type=ether", "=type=wg", "=type=bridge", "#|", "#|"]);
        assert_eq!(names(&query), ["ether1", "br0", "ether2", "wg0"]);
    }

    #[test]
    fn an_index_at_the_end_replaces_the_stack() {
        // Stack after the three tests (top first): [wg?, disabled=true?, type=ether?].
        // `?#2` keeps only "type=ether"; `?#0` keeps only the top.
        assert_eq!(
            names(&q(&["type=ether", "disabled=true", "type=wg", "#2"])),
            ["ether1", "ether2"]
        );
        assert_eq!(
            names(&q(&["type=ether", "disabled=true", "type=wg", "#0"])),
            ["wg0"]
        );
    }

    #[test]
    fn an_index_before_an_operator_pushes_a_copy() {
        // Stack [type=ether, disabled=true]; `1!` pushes a copy of type=ether then
        // negates it: ether AND disabled AND NOT ether is always false.
        assert!(names(&q(&["type=ether", "disabled=true", "#1!"])).is_empty());
        // `0.` pushes a copy of the top; `.` after an index does nothing; result = AND.
        assert_eq!(
            names(&q(&["type=ether", "disabled=true", "#0."])),
            ["ether2"]
        );
    }

    #[test]
    fn a_dot_after_an_operator_pushes_a_copy_of_the_top() {
        // `!.` negates the top and copies it: the copy changes nothing about the AND.
        assert_eq!(
            names(&q(&["disabled=true", "#!."])),
            ["ether1", "vlan9", "wg0"]
        );
    }

    #[test]
    fn operations_on_an_empty_stack_use_the_endless_trues() {
        assert_eq!(names(&q(&["#!"])).len(), 0);
        assert_eq!(names(&q(&["#&"])).len(), 5);
    }

    #[test]
    fn booleans_and_times_compare_by_meaning() {
        let user = rec(&[("disabled", "false"), ("uptime", "0s"), ("name", "1d")]);
        assert!(q(&["disabled=no"]).matches(&user));
        assert!(q(&["uptime=00:00:00"]).matches(&user));
        assert!(
            !q(&["name=24h"]).matches(&user),
            "names are text, not times"
        );
    }

    #[test]
    fn less_and_greater_compare_numbers_as_numbers() {
        let r = rec(&[("mtu", "1500"), ("uptime", "2m")]);
        assert!(q(&[">mtu=900"]).matches(&r));
        assert!(!q(&["<mtu=900"]).matches(&r));
        assert!(q(&[">uptime=1m30s"]).matches(&r));
        assert!(
            !q(&[">missing=0"]).matches(&r),
            "a missing property is neither less nor greater"
        );
    }

    #[test]
    fn unknown_operations_are_refused() {
        assert!(Query::parse(&[Word::from("#x")]).is_err());
    }
}
