//! The owner's pages and their buttons. Each page shows what a command shows and
//! each button does what a command does, through the same functions: today's money
//! as `stats`, the cash box and "collected" as `cash show|collect`, health as
//! `status`, users and "disconnect" as `users list --active|disconnect`, and a batch
//! as `voucher batch --print`, one sheet on the kiosk's own printer.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Extension, Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::auth::{same, Session};
use super::html::{button_form, csrf_field, esc, page};
use super::{Page, Peer};
use crate::cli::{ops, status};
use crate::control::ControlError;
use crate::store::{now_ms, Level};
use crate::today::{local_text, system_zone};
use crate::vouchers::monitor::UserFilter;
use routeros::Word;

/// The most vouchers one press of "print" makes: a roll of 58 mm paper holds about
/// that many tickets.
pub const MAX_BATCH: usize = 50;

/// A page that could not be served, shown to the owner with what to do.
#[derive(Debug)]
pub(super) struct Fail {
    status: StatusCode,
    message: String,
}

impl Fail {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
        }
    }

    fn internal(e: impl std::fmt::Display) -> Fail {
        Fail::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let body = format!(
            "<p class=bad id=error>{}</p><p><a href=\"/\">Back to today's page</a></p>",
            esc(&self.message)
        );
        (
            self.status,
            Html(page("Something went wrong", None, None, &body)),
        )
            .into_response()
    }
}

type PageResult = Result<Response, Fail>;

/// Checks the form's CSRF token against the session's: 403 when it differs.
pub(super) fn check_csrf(session: &Session, form: &HashMap<String, String>) -> Result<(), Fail> {
    match form.get("csrf") {
        Some(t) if same(t, &session.csrf) => Ok(()),
        _ => Err(Fail::new(
            StatusCode::FORBIDDEN,
            "this form is stale or came from another site; open the page again and retry",
        )),
    }
}

fn html(title: &str, here: &str, session: &Session, body: &str) -> PageResult {
    Ok(Html(page(title, Some(here), Some(&session.csrf), body)).into_response())
}

// ---- login ------------------------------------------------------------------

fn login_page(message: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(m) = message {
        let _ = write!(body, "<p class=bad id=error>{}</p>", esc(m));
    }
    body.push_str(
        "<form method=post action=/login><p><label>PIN<br>\
         <input type=password name=pin inputmode=numeric autocomplete=current-password \
         autofocus required id=pin></label></p>\
         <p><button class=act id=login>Log in</button></p></form>",
    );
    page("Kiosk owner", None, None, &body)
}

pub(super) async fn login_form() -> Html<String> {
    Html(login_page(None))
}

pub(super) async fn login(
    State(p): State<Arc<Page>>,
    Extension(Peer(client)): Extension<Peer>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(wait) = p.auth.may_try(client, Instant::now()) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let text = format!("Too many wrong PINs. Try again in {minutes} minute(s).");
        return (StatusCode::TOO_MANY_REQUESTS, Html(login_page(Some(&text)))).into_response();
    }
    let pin = form.get("pin").cloned().unwrap_or_default();
    let hash = p.pin_hash.clone();
    let right = tokio::task::spawn_blocking(move || super::pin::verify_pin(&hash, &pin))
        .await
        .unwrap_or(false);
    if !right {
        p.auth.failed(client, Instant::now());
        tracing::warn!(%client, "owner page: wrong PIN");
        let _ = p.ctx.vouchers.store().record_event(
            Level::Warn,
            "owner_login_failed",
            Some(&client.to_string()),
            "wrong PIN on the owner page",
            now_ms(),
        );
        return (
            StatusCode::UNAUTHORIZED,
            Html(login_page(Some("Wrong PIN."))),
        )
            .into_response();
    }
    let token = p.auth.open(client, Instant::now());
    tracing::info!(%client, "owner page: logged in");
    (
        [(header::SET_COOKIE, p.auth.cookie(&token))],
        Redirect::to("/"),
    )
        .into_response()
}

pub(super) async fn logout(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Extension(token): Extension<super::Token>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult {
    check_csrf(&s, &form)?;
    p.auth.close(&token.0);
    Ok((
        [(header::SET_COOKIE, p.auth.clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response())
}

// ---- today: money and the cash box ------------------------------------------

pub(super) async fn today(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let cur = esc(&p.ctx.config.vouchers.currency);
    let st = p.ctx.vouchers.stats().await.map_err(Fail::internal)?;
    let (tz, _) = system_zone();
    let mut b = String::new();
    if let Some(id) = q.get("collected").and_then(|i| i.parse::<i64>().ok()) {
        let done = p
            .ctx
            .vouchers
            .store()
            .recent_cash_collections(5)
            .map_err(Fail::internal)?;
        if let Some(c) = done.iter().find(|c| c.id == id) {
            let _ = write!(
                b,
                "<p class=ok id=collected>Recorded: {} {cur} in {} coins taken out at {}.</p>",
                c.total,
                c.coins,
                esc(&local_text(c.at_ms, &tz))
            );
        }
    }
    if q.contains_key("empty") {
        b.push_str("<p class=ok id=collected>The box held no coin since the last collection: nothing recorded.</p>");
    }
    let t = &st.takings_today;
    let _ = write!(
        b,
        "<p><small>since {} {}</small></p><h2>Money in</h2>\
         <p class=big><span data-figure=coins_value>{}</span> {cur}</p>\
         <p>in <span data-figure=coins>{}</span> coins</p><h2>Vouchers made</h2><table>",
        esc(&local_text(st.day_start_ms, &tz)),
        esc(st.time_zone.as_deref().unwrap_or("UTC")),
        t.coins_value,
        t.coins
    );
    if t.per_channel.is_empty() {
        b.push_str("<tr><td>none today</td></tr>");
    }
    for c in &t.per_channel {
        let _ = write!(
            b,
            "<tr data-channel=\"{ch}\"><th>{ch}</th><td class=n data-figure=vouchers>{}</td>\
             <td class=n><span data-figure=value>{}</span> {cur}</td><td><small>{}</small></td></tr>",
            c.vouchers,
            c.value,
            esc(ops::channel_meaning(&c.channel)),
            ch = esc(&c.channel)
        );
    }
    b.push_str("</table>");
    let cash = &st.cash_box;
    let since = match &cash.since {
        Some(c) => format!("since {} (collected by {})", local_text(c.at_ms, &tz), c.by),
        None => "since the kiosk started (never collected)".into(),
    };
    let _ = write!(
        b,
        "<h2>Cash box</h2><p class=big><span data-figure=cash_total>{}</span> {cur}</p>\
         <p>in <span data-figure=cash_coins>{}</span> coins <small>{}</small></p><table>",
        cash.total,
        cash.coins,
        esc(&since)
    );
    for (value, n) in &cash.per_value {
        let _ = write!(b, "<tr><td class=n>{n} ×</td><td>{value} {cur}</td></tr>");
    }
    b.push_str("</table><p>Emptied the box? Count it against the figure above, then:</p>");
    b.push_str(&button_form(
        "/cash/collect",
        &s.csrf,
        &[],
        "Collected",
        "collect",
    ));
    html("Today", "Today", &s, &b)
}

pub(super) async fn collect(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult {
    check_csrf(&s, &form)?;
    let store = p.ctx.vouchers.store().clone();
    let done = tokio::task::spawn_blocking(move || store.collect_cash("owner-page", now_ms()))
        .await
        .map_err(Fail::internal)?
        .map_err(Fail::internal)?;
    Ok(match done {
        Some(c) => {
            tracing::info!(
                collection = c.id,
                total = c.total,
                "cash box collected on the owner page"
            );
            Redirect::to(&format!("/?collected={}", c.id)).into_response()
        }
        None => Redirect::to("/?empty=1").into_response(),
    })
}

// ---- health -------------------------------------------------------------------

pub(super) async fn health(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
) -> PageResult {
    let h = status::health_of(&p.ctx.vouchers, &p.ctx.config, &p.ctx.chosen)
        .await
        .map_err(Fail::internal)?;
    let (tz, _) = system_zone();
    let mut b = String::new();
    let router = if h.router_reachable {
        "<span class=ok data-figure=router>reachable</span>".to_string()
    } else {
        format!(
            "<span class=bad data-figure=router>UNREACHABLE</span> {}",
            esc(h.router_error.as_deref().unwrap_or("?"))
        )
    };
    let _ = write!(
        b,
        "<h2>Router {}</h2><p>{router}</p><table>",
        esc(&h.router_name)
    );
    let last_good = h
        .last_good_contact
        .as_ref()
        .map_or("never".to_string(), |s| status::status_line(s, &tz));
    let _ = write!(b, "<tr><th>last good</th><td>{}</td></tr>", esc(&last_good));
    if let Some(s) = h.last_attempt.as_ref().filter(|s| !s.ok) {
        let _ = write!(
            b,
            "<tr><th>last failed</th><td>{} {}</td></tr>",
            esc(&local_text(s.at_ms, &tz)),
            esc(s.message.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table><h2>Devices</h2><table>");
    for (role, device) in &h.kiosk_devices {
        let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(role), esc(device));
    }
    let _ = write!(
        b,
        "<tr><th>clock</th><td>{}, time zone {}</td></tr></table><h2>Pool</h2><table>",
        esc(h.clock.text()),
        esc(h.time_zone.as_deref().unwrap_or("UTC (none set)"))
    );
    for (plan, ready, target) in &h.stats.pool {
        let low = if status::pool_is_low(*ready, *target) {
            " <b class=bad>LOW</b>"
        } else {
            ""
        };
        let _ = write!(
            b,
            "<tr data-plan=\"{pl}\"><th>{pl}</th><td class=n><span data-figure=ready>{ready}</span> / {target}{low}</td></tr>",
            pl = esc(plan)
        );
    }
    let _ = write!(
        b,
        "</table><p>{} message(s) waiting for the central office, {} router action(s) pending</p>",
        h.stats.outbox_pending, h.stats.pending_actions
    );
    let _ = write!(
        b,
        "<h2>Alerts of the last 24 h (<span data-figure=alerts>{}</span>)</h2><table>",
        h.alerts.len()
    );
    for a in &h.alerts {
        let _ = write!(
            b,
            "<tr class=alert><td><small>{}</small></td><td>{} <b>{}</b> {}{}</td></tr>",
            esc(&local_text(a.at_ms, &tz)),
            esc(&a.level),
            esc(&a.kind),
            a.subject
                .as_deref()
                .map(|s| format!("{}: ", esc(s)))
                .unwrap_or_default(),
            esc(&a.message)
        );
    }
    b.push_str("</table>");
    html("Health", "Health", &s, &b)
}

// ---- users ------------------------------------------------------------------------

pub(super) async fn users(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let filter = UserFilter {
        active: true,
        ..UserFilter::default()
    };
    let rows = p
        .ctx
        .vouchers
        .users(&filter)
        .await
        .map_err(Fail::internal)?;
    let mut b = String::new();
    if let Some(n) = q.get("disconnected").and_then(|n| n.parse::<usize>().ok()) {
        let _ = write!(
            b,
            "<p class=ok id=disconnected>Disconnected {n} session(s).</p>"
        );
    }
    let _ = write!(
        b,
        "<p><span data-figure=active>{}</span> user(s) online</p><table>",
        rows.len()
    );
    for r in &rows {
        let name = r.name.lossy();
        let _ = write!(
            b,
            "<tr data-user=\"{n}\"><td><b>{n}</b><br><small>{} {} · {} · {}</small></td><td>{}</td></tr>",
            esc(r.plan.as_deref().unwrap_or(&r.profile)),
            esc(r.address.as_deref().unwrap_or("")),
            firmware_config::Duration::from_secs(r.uptime_s),
            firmware_config::ByteSize(r.bytes_used).human(),
            button_form(
                "/users/disconnect",
                &s.csrf,
                &[("user", &hex::encode(r.name.as_bytes()))],
                "Disconnect",
                &format!("disconnect-{name}")
            ),
            n = esc(&name)
        );
    }
    b.push_str("</table>");
    html("Users online", "Users", &s, &b)
}

pub(super) async fn disconnect(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult {
    check_csrf(&s, &form)?;
    let name = form
        .get("user")
        .and_then(|h| hex::decode(h).ok())
        .map(Word::new)
        .ok_or_else(|| {
            Fail::new(
                StatusCode::BAD_REQUEST,
                "no user named; open the users page again",
            )
        })?;
    let n = crate::cli::users::disconnect(
        &p.ctx.vouchers,
        &name,
        "disconnected by the owner (owner page)",
    )
    .await
    .map_err(|e| Fail::new(StatusCode::CONFLICT, e.to_string()))?;
    Ok(Redirect::to(&format!("/users?disconnected={n}")).into_response())
}

// ---- print a batch ----------------------------------------------------------------

pub(super) async fn batch_form(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let cur = esc(&p.ctx.config.vouchers.currency);
    let mut b = String::new();
    if let Some(n) = q.get("made").and_then(|n| n.parse::<usize>().ok()) {
        let _ = write!(
            b,
            "<p class=ok id=made>{n} voucher(s) made and printed on one sheet at the kiosk.</p>"
        );
        if let Some(left) = q.get("left").and_then(|n| n.parse::<usize>().ok()) {
            let _ = write!(b, "<p class=bad id=left>{left} more could not be made on the router; see <code>hotspot-agent voucher list</code>.</p>");
        }
    }
    if !p.ctx.control.has_printer() {
        b.push_str("<p class=bad>This kiosk has no printer configured ([kiosk.printer]); use <code>hotspot-agent voucher batch</code> on the box.</p>");
    }
    let _ = write!(
        b,
        "<form method=post action=/batch>{}<p><label>Plan<br><select name=plan id=plan>",
        csrf_field(&s.csrf)
    );
    for plan in &p.ctx.config.plans {
        let _ = write!(
            b,
            "<option value=\"{}\">{} ({} {cur})</option>",
            esc(&plan.id),
            esc(&plan.name),
            plan.price
        );
    }
    let _ = write!(
        b,
        "</select></label></p><p><label>How many (1 to {MAX_BATCH})<br>\
         <input type=number name=count min=1 max={MAX_BATCH} value=5 id=count></label></p>\
         <p><button class=act id=print>Make and print</button></p></form>\
         <p><small>Vouchers made here are counted as a batch, not as money, until they are sold.</small></p>"
    );
    html("Print a batch", "Print a batch", &s, &b)
}

pub(super) async fn batch(
    State(p): State<Arc<Page>>,
    Extension(s): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult {
    check_csrf(&s, &form)?;
    let plan = form.get("plan").cloned().unwrap_or_default();
    let v = &p.ctx.vouchers;
    v.plan(&plan)
        .map_err(|e| Fail::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let count = form
        .get("count")
        .and_then(|c| c.trim().parse::<u32>().ok())
        .filter(|c| (1..=MAX_BATCH as u32).contains(c))
        .ok_or_else(|| {
            Fail::new(
                StatusCode::BAD_REQUEST,
                format!("how many: write a number from 1 to {MAX_BATCH}"),
            )
        })?;
    // The one way to the printer that `voucher batch --print` takes too.
    let printed = p.ctx.control.print_batch(&plan, count).await.map_err(|e| {
        let status = match e {
            ControlError::NoPrinter | ControlError::Busy(_) => StatusCode::CONFLICT,
            ControlError::Printer { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Fail::new(status, e.to_string())
    })?;
    let made = printed.printed;
    let _ = v.store().record_event(
        Level::Info,
        "owner_batch",
        Some(&plan),
        &format!("{made} voucher(s) made on the owner page and printed at the kiosk"),
        now_ms(),
    );
    let left = (count as usize).saturating_sub(made);
    Ok(Redirect::to(&if left > 0 {
        format!("/batch?made={made}&left={left}")
    } else {
        format!("/batch?made={made}")
    })
    .into_response())
}
