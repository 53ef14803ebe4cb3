//! `hotspot-agent users list|disconnect|remove`: hotspot users joined with the
//! cache (voucher, plan, state, uptime, bytes used and left, time left, idle).

use clap::{Args, Subcommand};
use firmware_config::{ByteSize, Config, Duration, RouterConfig};

use crate::store::{now_ms, Level, Store};
use crate::vouchers::enforce::EndReason;
use crate::vouchers::monitor::{UserFilter, UserRow};
use crate::vouchers::plans::sale_id_from_comment;
use routeros::{HotspotApi, UserQuery};

use super::voucher::seller;

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List hotspot users with their voucher details.
    List(ListArgs),
    /// End every active session of a user (they can log in again).
    Disconnect {
        /// User name (voucher code).
        name: String,
    },
    /// Remove one of the agent's users from the router (and end its sessions).
    Remove {
        /// User name (voucher code).
        name: String,
    },
}

/// `users list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only users with an active session.
    #[arg(long)]
    pub active: bool,
    /// Only users whose session has been idle for 2 minutes or more.
    #[arg(long)]
    pub idle: bool,
    /// Only users of this profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// Only users whose name or plan contains this text.
    #[arg(long)]
    pub search: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

fn line(r: &UserRow) -> String {
    format!(
        "{:<14} {:<8} {:<10} {:<16} {:>9} {:>10} {:>10} {:>9} {:>9} {:>7}",
        r.name,
        r.plan.as_deref().unwrap_or("-"),
        r.profile,
        format!("{}{}", r.state, if r.disabled { ",disabled" } else { "" }),
        Duration::from_secs(r.uptime_s).to_string(),
        ByteSize(r.bytes_used).human(),
        opt(r.bytes_left, |b| ByteSize(b).human()),
        opt(r.time_left_s, |s| Duration::from_secs(s).to_string()),
        opt(r.valid_left_s, |s| Duration::from_secs(s.max(0) as u64)
            .to_string()),
        opt(r.idle_s, |s| Duration::from_secs(s).to_string()),
    )
}

/// Runs a `users` subcommand.
// Long on purpose: one match arm per `users` subcommand; each arm is the whole command.
pub async fn run<R: HotspotApi + Clone + 'static>(
    cmd: UsersCommand,
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<()> {
    let v = seller(router, store, config, chosen)?;
    match cmd {
        UsersCommand::List(a) => {
            let filter = UserFilter {
                active: a.active,
                idle: a.idle,
                profile: a.profile,
                search: a.search,
            };
            let rows = v.users(&filter).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<14} {:<8} {:<10} {:<16} {:>9} {:>10} {:>10} {:>9} {:>9} {:>7}",
                    "user",
                    "plan",
                    "profile",
                    "state",
                    "uptime",
                    "used",
                    "data left",
                    "time left",
                    "valid",
                    "idle"
                );
                for r in &rows {
                    println!("{}", line(r));
                }
                println!("{} users", rows.len());
            }
        }
        UsersCommand::Disconnect { name } => {
            let sessions = v.router().active(Some(&name)).await?;
            anyhow::ensure!(!sessions.is_empty(), "user {name:?} has no active session");
            for s in &sessions {
                v.router().disconnect(&s.id).await?;
            }
            v.store().record_event(
                Level::Info,
                "user_disconnected",
                Some(&name),
                "disconnected by the operator",
                now_ms(),
            )?;
            println!("disconnected {} session(s) of {name}", sessions.len());
        }
        UsersCommand::Remove { name } => {
            let q = UserQuery {
                name: Some(name.clone()),
                ..UserQuery::default()
            };
            let user = v
                .router()
                .users(&q)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    anyhow::anyhow!("there is no hotspot user {name:?} on the router")
                })?;
            let site = &v.settings().site_id;
            let Some(sale_id) = sale_id_from_comment(site, user.comment.as_deref()) else {
                anyhow::bail!(
                    "user {name:?} was not created by this agent (comment {:?}); the agent never removes other users: remove it on the router if you mean to",
                    user.comment.as_deref().unwrap_or("")
                );
            };
            for s in v.router().active(Some(&name)).await? {
                v.router().disconnect(&s.id).await?;
            }
            v.router().remove_user(&user.id).await?;
            if v.store().sale(sale_id).is_ok() {
                v.store()
                    .mark_ended(sale_id, EndReason::RemovedByOperator.as_str(), now_ms())?;
            }
            v.store().record_event(
                Level::Info,
                "user_removed",
                Some(&name),
                "removed by the operator",
                now_ms(),
            )?;
            println!("removed {name} (sale {sale_id})");
        }
    }
    Ok(())
}
