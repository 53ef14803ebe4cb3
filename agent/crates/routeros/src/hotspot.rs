//! Typed hotspot operations the rest of the agent uses: users, profiles, active
//! sessions, system. [`HotspotApi`] is the seam: the real [`Router`] implements it
//! over either transport; tests may implement it with a fake.

use std::future::Future;

use super::client::Router;
use super::error::RouterError;
use super::model::{
    path, ActiveSession, HotspotHost, HotspotUser, NewUser, Record, SystemClock, SystemResource,
    UserProfile, UserUpdate, ValueError, Word,
};

/// Which users to print. Matching is done by the router with query words where
/// RouterOS can (exact name, profile); `comment_prefix` is filtered here because the
/// API has no pattern matching (DOC-API: regular expressions are not supported).
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Exact login name, as bytes (a name another tool wrote is matched exactly).
    pub name: Option<Word>,
    /// Exact profile.
    pub profile: Option<String>,
    /// Comment starts with this (the agent's `hsa:` marker).
    pub comment_prefix: Option<String>,
    /// Fetch only counters and limits (cheap enough for every enforcement pass).
    pub counters_only: bool,
    /// Fetch only names (collision checks for new codes); wins over `counters_only`.
    pub names_only: bool,
}

/// The fields a collision check needs.
pub const USER_NAME_PROPS: &str = ".id,name,default";

/// The fields an enforcement pass needs from each user.
pub const USER_COUNTER_PROPS: &str =
    ".id,name,profile,disabled,comment,limit-uptime,limit-bytes-total,uptime,bytes-in,bytes-out";
/// The fields an enforcement pass needs from each session.
pub const ACTIVE_PROPS: &str = ".id,server,user,address,mac-address,login-by,uptime,idle-time,session-time-left,bytes-in,bytes-out";

/// Hotspot operations on one router.
pub trait HotspotApi: Send + Sync {
    /// Router identity (`/system/identity` name).
    fn identity(&self) -> impl Future<Output = Result<String, RouterError>> + Send;
    /// `/system/resource`.
    fn resource(&self) -> impl Future<Output = Result<SystemResource, RouterError>> + Send;
    /// `/system/clock`: the router's local time and zone.
    fn clock(&self) -> impl Future<Output = Result<SystemClock, RouterError>> + Send;
    /// Users matching the query. The built-in `default-trial` user is never returned.
    fn users(
        &self,
        query: &UserQuery,
    ) -> impl Future<Output = Result<Vec<HotspotUser>, RouterError>> + Send;
    /// Creates a user; returns its `.id`.
    fn add_user(&self, user: &NewUser) -> impl Future<Output = Result<String, RouterError>> + Send;
    /// Changes a user.
    fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> impl Future<Output = Result<(), RouterError>> + Send;
    /// Removes a user.
    fn remove_user(&self, id: &str) -> impl Future<Output = Result<(), RouterError>> + Send;
    /// Zeroes a user's uptime and byte counters.
    fn reset_user_counters(&self, id: &str)
        -> impl Future<Output = Result<(), RouterError>> + Send;
    /// All hotspot user profiles.
    fn profiles(&self) -> impl Future<Output = Result<Vec<UserProfile>, RouterError>> + Send;
    /// Creates a profile; returns its `.id`.
    fn add_profile(
        &self,
        profile: &UserProfile,
    ) -> impl Future<Output = Result<String, RouterError>> + Send;
    /// Changes a profile to match `profile` (by `.id`).
    fn set_profile(
        &self,
        id: &str,
        profile: &UserProfile,
    ) -> impl Future<Output = Result<(), RouterError>> + Send;
    /// Removes a profile.
    fn remove_profile(&self, id: &str) -> impl Future<Output = Result<(), RouterError>> + Send;
    /// Active sessions, optionally of one user (matched on the name's bytes).
    fn active(
        &self,
        user: Option<&Word>,
    ) -> impl Future<Output = Result<Vec<ActiveSession>, RouterError>> + Send;
    /// Ends an active session (`/ip/hotspot/active/remove`).
    fn disconnect(&self, active_id: &str) -> impl Future<Output = Result<(), RouterError>> + Send;
    /// Hosts the hotspot sees.
    fn hosts(&self) -> impl Future<Output = Result<Vec<HotspotHost>, RouterError>> + Send;
    /// The transport in use (`api`, `api-ssl`, `rest`), once connected; `None` for
    /// stand-ins that have none.
    fn transport(&self) -> impl Future<Output = Option<&'static str>> + Send {
        async { None }
    }
    /// Connects now, if the handle connects on first use, so that a caller with local
    /// work to do first (a batch reserving its rows) has the connection and login
    /// behind it when its first command goes out. A handle that is always connected
    /// has nothing to do. The error is the one the first command would get.
    fn connect_now(&self) -> impl Future<Output = Result<(), RouterError>> + Send {
        async { Ok(()) }
    }
}

fn parse_all<T>(
    router: &Router,
    what: &str,
    records: Vec<Record>,
    parse: impl Fn(&Record) -> Result<T, ValueError>,
) -> Result<Vec<T>, RouterError> {
    records
        .iter()
        .map(|r| {
            parse(r).map_err(|e| RouterError::Unexpected {
                router: router.name().to_string(),
                command: format!("{what}/print"),
                detail: e.to_string(),
            })
        })
        .collect()
}

/// `key=value` for a query, the value's bytes unchanged.
fn query_word(key: &str, value: &Word) -> Word {
    Word::new([key.as_bytes(), b"=", value.as_bytes()].concat())
}

fn one<T>(router: &Router, what: &str, mut items: Vec<T>) -> Result<T, RouterError> {
    if items.is_empty() {
        return Err(RouterError::Unexpected {
            router: router.name().to_string(),
            command: format!("{what}/print"),
            detail: "no item in the reply".into(),
        });
    }
    Ok(items.swap_remove(0))
}

impl HotspotApi for Router {
    async fn transport(&self) -> Option<&'static str> {
        Some(self.info().transport.as_str())
    }
    async fn identity(&self) -> Result<String, RouterError> {
        let records = self.print(path::IDENTITY, &[], None).await?;
        let r = one(self, path::IDENTITY, records)?;
        Ok(r.get("name").map(Word::to_string).unwrap_or_default())
    }

    async fn resource(&self) -> Result<SystemResource, RouterError> {
        let records = self.print(path::RESOURCE, &[], None).await?;
        let items = parse_all(self, path::RESOURCE, records, SystemResource::from_record)?;
        one(self, path::RESOURCE, items)
    }

    async fn clock(&self) -> Result<SystemClock, RouterError> {
        let records = self.print(path::CLOCK, &[], None).await?;
        let items: Vec<SystemClock> = records.iter().map(SystemClock::from_record).collect();
        one(self, path::CLOCK, items)
    }

    async fn users(&self, query: &UserQuery) -> Result<Vec<HotspotUser>, RouterError> {
        let mut queries = Vec::new();
        if let Some(n) = &query.name {
            queries.push(query_word("name", n));
        }
        if let Some(p) = &query.profile {
            queries.push(query_word("profile", &Word::from(p)));
        }
        let props = if query.names_only {
            Some(USER_NAME_PROPS)
        } else {
            query.counters_only.then_some(USER_COUNTER_PROPS)
        };
        let records = self.print(path::USER, &queries, props).await?;
        let mut users = parse_all(self, path::USER, records, HotspotUser::from_record)?;
        users.retain(|u| !u.default && u.name != "default-trial");
        if let Some(prefix) = &query.comment_prefix {
            users.retain(|u| u.comment.as_ref().is_some_and(|c| c.starts_with(prefix)));
        }
        Ok(users)
    }

    async fn add_user(&self, user: &NewUser) -> Result<String, RouterError> {
        self.add(path::USER, &user.to_attrs()).await
    }

    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<(), RouterError> {
        self.set(path::USER, id, &update.to_attrs()).await
    }

    async fn remove_user(&self, id: &str) -> Result<(), RouterError> {
        self.remove(path::USER, id).await
    }

    async fn reset_user_counters(&self, id: &str) -> Result<(), RouterError> {
        self.command(
            path::USER,
            "reset-counters",
            &[(".id".to_string(), id.to_string())],
        )
        .await
        .map(|_| ())
    }

    async fn profiles(&self) -> Result<Vec<UserProfile>, RouterError> {
        let records = self.print(path::PROFILE, &[], None).await?;
        parse_all(self, path::PROFILE, records, UserProfile::from_record)
    }

    async fn add_profile(&self, profile: &UserProfile) -> Result<String, RouterError> {
        self.add(path::PROFILE, &profile.to_attrs()).await
    }

    async fn set_profile(&self, id: &str, profile: &UserProfile) -> Result<(), RouterError> {
        self.set(path::PROFILE, id, &profile.to_attrs()).await
    }

    async fn remove_profile(&self, id: &str) -> Result<(), RouterError> {
        self.remove(path::PROFILE, id).await
    }

    async fn active(&self, user: Option<&Word>) -> Result<Vec<ActiveSession>, RouterError> {
        let queries: Vec<Word> = user.map(|u| query_word("user", u)).into_iter().collect();
        let records = self
            .print(path::ACTIVE, &queries, Some(ACTIVE_PROPS))
            .await?;
        parse_all(self, path::ACTIVE, records, ActiveSession::from_record)
    }

    async fn disconnect(&self, active_id: &str) -> Result<(), RouterError> {
        self.remove(path::ACTIVE, active_id).await
    }

    async fn hosts(&self) -> Result<Vec<HotspotHost>, RouterError> {
        let records = self.print(path::HOST, &[], None).await?;
        parse_all(self, path::HOST, records, HotspotHost::from_record)
    }
}
