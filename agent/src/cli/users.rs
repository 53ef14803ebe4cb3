//! `hotspot-agent users list|disconnect|remove`: hotspot users joined with the
//! cache (voucher, plan, state, uptime, bytes used and left, time left, idle).

use clap::{Args, Subcommand};
use firmware_config::{ByteSize, Config, Duration, RouterConfig};

use crate::store::{now_ms, Level, Store};
use crate::vouchers::enforce::EndReason;
use crate::vouchers::monitor::{UserFilter, UserRow};
use crate::vouchers::plans::sale_id_from_comment;
use crate::vouchers::Vouchers;
use routeros::{HotspotApi, UserQuery, Word};

use super::voucher::seller;

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List hotspot users with their voucher details.
    List(ListArgs),
    /// End every active session of a user (they can log in again).
    Disconnect {
        /// User name (voucher code), byte for byte; `\xNN` stands for one byte
        /// (`'Ren\xe9'` for a name WinBox wrote in a PC's code page), `\\` for `\`.
        #[arg(value_parser = clap::value_parser!(std::ffi::OsString))]
        name: std::ffi::OsString,
    },
    /// Remove one of the agent's users from the router (and end its sessions).
    Remove {
        /// User name (voucher code), written as for `disconnect`.
        #[arg(value_parser = clap::value_parser!(std::ffi::OsString))]
        name: std::ffi::OsString,
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

/// The bytes of a user name from the command line: the argument's own bytes, with
/// `\xNN` read as one byte and `\\` as a backslash, so a name whose bytes are not
/// UTF-8 can be typed in a UTF-8 terminal.
pub fn name_arg(arg: &std::ffi::OsStr) -> Word {
    use std::os::unix::ffi::OsStrExt;
    let raw = arg.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match raw[i..] {
            [b'\\', b'\\', ..] => {
                out.push(b'\\');
                i += 2;
            }
            [b'\\', b'x', h, l, ..] if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 4;
            }
            _ => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    Word::new(out)
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

/// Ends every session of `name` on the router and records it as an event saying
/// `why`; returns how many sessions there were. `users disconnect` and the owner's
/// page both come here.
pub async fn disconnect<R: HotspotApi + Clone + 'static>(
    v: &Vouchers<R>,
    name: &Word,
    why: &str,
) -> anyhow::Result<usize> {
    let sessions = v.router().active(Some(name)).await?;
    anyhow::ensure!(!sessions.is_empty(), "user {name:?} has no active session");
    for s in &sessions {
        v.router().disconnect(&s.id).await?;
    }
    v.store().record_event(
        Level::Info,
        "user_disconnected",
        Some(&name.to_string()),
        why,
        now_ms(),
    )?;
    Ok(sessions.len())
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
            let name = name_arg(&name);
            let n = disconnect(&v, &name, "disconnected by the operator").await?;
            println!("disconnected {n} session(s) of {name}");
        }
        UsersCommand::Remove { name } => {
            let name = name_arg(&name);
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
            let Some(sale_id) = sale_id_from_comment(site, user.comment_text()) else {
                anyhow::bail!(
                    "user {name:?} was not created by this agent (comment {:?}); the agent never removes other users: remove it on the router if you mean to",
                    user.comment_text().unwrap_or("")
                );
            };
            // The sale ends first, so reconcile never brings the user back, not even
            // when the removal's reply is lost; enforcement ends a session that a
            // failed removal leaves.
            if v.store().sale(sale_id).is_ok() {
                v.store()
                    .mark_ended(sale_id, EndReason::RemovedByOperator.as_str(), now_ms())?;
            }
            for s in v.router().active(Some(&name)).await? {
                v.router().disconnect(&s.id).await?;
            }
            v.router().remove_user(&user.id).await?;
            v.store().record_event(
                Level::Info,
                "user_removed",
                Some(&name.to_string()),
                "removed by the operator",
                now_ms(),
            )?;
            println!("removed {name} (sale {sale_id})");
        }
    }
    Ok(())
}

#[cfg(all(test, feature = "sim"))]
pub(crate) mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use routeros::{Router, RouterSettings};
    use routeros_sim::{SimHandle, SimOptions, SimRouter};

    use super::*;
    use crate::store::Store;

    #[test]
    fn a_name_argument_keeps_its_bytes_and_reads_backslash_x_as_one_byte() {
        assert_eq!(
            name_arg(&OsString::from_vec(b"Ren\xe9".to_vec())).as_bytes(),
            b"Ren\xe9"
        );
        assert_eq!(name_arg(&OsString::from("Ren\\xe9")).as_bytes(), b"Ren\xe9");
        assert_eq!(name_arg(&OsString::from("a\\\\xe9")).as_bytes(), b"a\\xe9");
        assert_eq!(
            name_arg(&OsString::from("René")).as_bytes(),
            "René".as_bytes()
        );
        assert_eq!(name_arg(&OsString::from("x\\xZZ")).as_bytes(), b"x\\xZZ");
    }

    /// A simulated 7.18, a real client logged in to it over the binary API, a store,
    /// and the vouchers tests' configuration (site `t1`, profiles `kiosk` and `slow`).
    pub(crate) async fn fixture() -> (SimHandle, Router, Store, Config) {
        let sim = SimRouter::start(SimOptions {
            tick: None,
            ..SimOptions::version("7.18")
        })
        .await
        .unwrap();
        let base = RouterConfig {
            transport: firmware_config::Transport::Api,
            ..RouterConfig::default()
        };
        let cfg = crate::simulated::router_config(&sim, &base);
        let router = Router::connect(RouterSettings::from_config(&cfg, 0).unwrap())
            .await
            .unwrap();
        let config = Config::parse(crate::vouchers::tests::CONFIG, "t.toml").unwrap();
        (sim, router, Store::open_in_memory().unwrap(), config)
    }

    /// A user as WinBox on a Windows-1252 PC makes it: the name's last byte is 0xE9.
    pub(crate) fn add_raw_user(sim: &SimHandle, name: &[u8], comment: &str) {
        let cmd = routeros_proto::Command::new("/ip/hotspot/user/add")
            .attr("name", Word::new(name.to_vec()))
            .attr("password", "pw")
            .attr("comment", comment);
        let replies = sim.execute(&cmd);
        assert!(replies[0].get("ret").is_some(), "{:?}", replies[0]);
    }

    #[tokio::test]
    async fn disconnect_and_remove_find_a_user_whose_name_is_not_utf8() {
        let (sim, router, store, config) = fixture().await;
        let chosen = config.routers.first().cloned().unwrap_or_default();
        let users = |cmd| run(cmd, router.clone(), store.clone(), &config, &chosen);
        add_raw_user(&sim, b"Ren\xe9", "made in WinBox");
        add_raw_user(&sim, b"Ren\xe8", "made in WinBox");
        sim.login_client(b"Ren\xe9", "pw", "02:00:00:00:00:E9")
            .unwrap();
        sim.login_client(b"Ren\xe8", "pw", "02:00:00:00:00:E8")
            .unwrap();

        // Typed in a UTF-8 terminal with the escape: only that user's session ends.
        let name = OsString::from("Ren\\xe9");
        users(UsersCommand::Disconnect { name }).await.unwrap();
        let online: Vec<Vec<u8>> = sim
            .active()
            .iter()
            .map(|a| a["user"].as_bytes().to_vec())
            .collect();
        assert_eq!(online, [b"Ren\xe8".to_vec()]);

        // Someone else's user: found by its exact bytes, and refused by name.
        let name = OsString::from_vec(b"Ren\xe9".to_vec());
        let err = users(UsersCommand::Remove { name })
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not created by this agent"), "{err}");
        assert!(
            err.contains("Ren\\xe9"),
            "the name as it is on the router: {err}"
        );
        assert!(sim.user(b"Ren\xe9").is_some());

        // One of ours that someone renamed in WinBox: removed, byte for byte.
        add_raw_user(&sim, b"Jos\xe9", "hsa:t1:77");
        let name = OsString::from_vec(b"Jos\xe9".to_vec());
        users(UsersCommand::Remove { name }).await.unwrap();
        assert!(sim.user(b"Jos\xe9").is_none());
        assert!(sim.user(b"Ren\xe9").is_some() && sim.user(b"Ren\xe8").is_some());
    }

    #[tokio::test]
    async fn a_remove_whose_reply_is_lost_still_ends_the_sale_so_reconcile_leaves_it_removed() {
        let (v, router) = crate::vouchers::tests::setup().await;
        let config = Config::parse(crate::vouchers::tests::CONFIG, "t.toml").unwrap();
        let chosen = config.routers.first().cloned().unwrap_or_default();
        let sold = v.sell("1h", None).await.unwrap();
        // The router removes the user, then the reply never comes.
        router.inject(
            routeros::testing::Op::RemoveUser,
            1,
            routeros::testing::Fault::TimeoutAfterApply,
        );
        let name = OsString::from(&sold.code);
        let cmd = UsersCommand::Remove { name };
        let done = run(cmd, router.clone(), v.store().clone(), &config, &chosen).await;
        assert!(done.is_err(), "the operator hears the reply was lost");
        // The service's own round puts back lost users of paid vouchers.
        v.reconcile_fixing(crate::vouchers::reconcile::Fix::Missing)
            .await
            .unwrap();
        assert!(
            router.all_users().iter().all(|u| u.name != sold.code),
            "the user the operator removed stays removed"
        );
        let sale = v.store().sale(sold.sale_id).unwrap();
        assert_eq!(
            sale.end_reason.as_deref(),
            Some(EndReason::RemovedByOperator.as_str())
        );
    }
}
