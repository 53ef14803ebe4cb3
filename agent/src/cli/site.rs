//! `hotspot-agent site id`: the site's identity, for registering it with the central
//! office. The key is made here if the service has not made it yet, so an installer
//! can register a box before its first start.

use super::{load_config, Cli};
use crate::sync::SiteIdentity;

/// `site` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SiteCmd {
    /// Print the site id and its public key (made in the state folder on first use),
    /// and the command that registers it at the central office.
    Id {
        /// Print JSON: `{"site": ..., "public_key": ...}`.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: SiteCmd, cli: &Cli) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    let SiteCmd::Id { json } = cmd;
    let identity = SiteIdentity::load_or_create(&config.agent.state_dir)?;
    let site = &config.agent.site_id;
    if json {
        println!(
            "{}",
            serde_json::json!({"site": site, "public_key": identity.public_hex()})
        );
    } else {
        println!("site        {site}");
        println!("public key  {}", identity.public_hex());
        println!(
            "key file    {}",
            SiteIdentity::path(&config.agent.state_dir).display()
        );
        println!(
            "register at the central office with:\n  hotspot-central register --site {site} --key {}",
            identity.public_hex()
        );
    }
    Ok(())
}
