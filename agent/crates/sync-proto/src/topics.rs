//! The topic tree, per site under one prefix:
//!
//! ```text
//! <prefix>/site/<site>/status          up    retained; last-will "offline"
//! <prefix>/site/<site>/up/<kind>       up    outbox: sale, event, alert, telemetry, report
//! <prefix>/site/<site>/reply           up    command replies
//! <prefix>/site/<site>/plans           down  retained, signed plan set for this site
//! <prefix>/site/<site>/routers         down  retained, signed router settings
//! <prefix>/site/<site>/cmd             down  signed commands
//! <prefix>/site/<site>/ack             down  signed acknowledgements of outbox messages
//! <prefix>/all/plans                   down  retained, signed plan set for every site
//! ```

/// Topics of one site.
#[derive(Debug, Clone, PartialEq)]
pub struct Topics {
    prefix: String,
    site: String,
}

/// A topic a site subscribes to, recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownTopic {
    Plans,
    FleetPlans,
    Routers,
    Cmd,
    Ack,
}

/// A topic a central office subscribes to, recognised, with the site it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpTopic {
    Status(String),
    Outbox(String, String),
    Reply(String),
}

impl Topics {
    pub fn new(prefix: impl Into<String>, site: impl Into<String>) -> Topics {
        Topics {
            prefix: prefix.into(),
            site: site.into(),
        }
    }

    fn site_topic(&self, leaf: &str) -> String {
        format!("{}/site/{}/{leaf}", self.prefix, self.site)
    }

    pub fn status(&self) -> String {
        self.site_topic("status")
    }
    /// Outbox messages of one kind (`sale`, `event`, ...).
    pub fn up(&self, kind: &str) -> String {
        self.site_topic(&format!("up/{kind}"))
    }
    pub fn reply(&self) -> String {
        self.site_topic("reply")
    }
    pub fn plans(&self) -> String {
        self.site_topic("plans")
    }
    pub fn routers(&self) -> String {
        self.site_topic("routers")
    }
    pub fn cmd(&self) -> String {
        self.site_topic("cmd")
    }
    pub fn ack(&self) -> String {
        self.site_topic("ack")
    }
    pub fn fleet_plans(&self) -> String {
        format!("{}/all/plans", self.prefix)
    }

    /// What a site subscribes to.
    /// `cmd` first: its retained floor (`Down::Floor`) then comes before the
    /// retained plan and router sets on a broker that answers in order.
    pub fn site_subscriptions(&self) -> Vec<String> {
        vec![
            self.cmd(),
            self.plans(),
            self.fleet_plans(),
            self.routers(),
            self.ack(),
        ]
    }

    /// Recognises a topic a site receives.
    pub fn parse_down(&self, topic: &str) -> Option<DownTopic> {
        if topic == self.fleet_plans() {
            return Some(DownTopic::FleetPlans);
        }
        let rest = topic.strip_prefix(&self.site_topic(""))?;
        Some(match rest {
            "plans" => DownTopic::Plans,
            "routers" => DownTopic::Routers,
            "cmd" => DownTopic::Cmd,
            "ack" => DownTopic::Ack,
            _ => return None,
        })
    }
}

/// What a central office subscribes to: everything every site sends up.
pub fn central_subscriptions(prefix: &str) -> Vec<String> {
    vec![
        format!("{prefix}/site/+/status"),
        format!("{prefix}/site/+/up/+"),
        format!("{prefix}/site/+/reply"),
    ]
}

/// Recognises a topic a central office receives.
pub fn parse_up(prefix: &str, topic: &str) -> Option<UpTopic> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix("/site/")?;
    let mut parts = rest.split('/');
    let site = parts.next().filter(|s| !s.is_empty())?.to_string();
    let up = match (parts.next(), parts.next(), parts.next()) {
        (Some("status"), None, None) => UpTopic::Status(site),
        (Some("reply"), None, None) => UpTopic::Reply(site),
        (Some("up"), Some(kind), None) if !kind.is_empty() => {
            UpTopic::Outbox(site, kind.to_string())
        }
        _ => return None,
    };
    Some(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_recognises_its_own_topics_and_no_one_elses() {
        let t = Topics::new("hs", "s1");
        assert_eq!(t.parse_down("hs/site/s1/plans"), Some(DownTopic::Plans));
        assert_eq!(t.parse_down("hs/all/plans"), Some(DownTopic::FleetPlans));
        assert_eq!(t.parse_down("hs/site/s1/ack"), Some(DownTopic::Ack));
        assert_eq!(t.parse_down("hs/site/s2/plans"), None);
        assert_eq!(t.parse_down("hs/site/s1/status"), None);
        assert_eq!(t.up("sale"), "hs/site/s1/up/sale");
    }

    #[test]
    fn the_central_side_reads_the_site_from_the_topic() {
        assert_eq!(
            parse_up("hs", "hs/site/s9/up/sale"),
            Some(UpTopic::Outbox("s9".into(), "sale".into()))
        );
        assert_eq!(
            parse_up("hs", "hs/site/s9/status"),
            Some(UpTopic::Status("s9".into()))
        );
        assert_eq!(parse_up("hs", "hs/site//status"), None);
        assert_eq!(parse_up("hs", "hs/site/s9/up/sale/x"), None);
        assert_eq!(parse_up("hs", "other/site/s9/status"), None);
    }
}
