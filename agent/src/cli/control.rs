//! Commands that go through the running service's control socket
//! ([`crate::control`]): `voucher batch --print`, `voucher reprint`, and in host
//! builds `sim coin|press|paper`.

use std::time::Duration;

use anyhow::bail;

use super::{load_config, Cli};
use crate::control::{self, Reply, Request};

/// How long a printed sheet may take (100 vouchers at 9600 baud, with paper checks).
const PRINT_WAIT: Duration = Duration::from_secs(300);
/// How long anything else may take.
const WAIT: Duration = Duration::from_secs(10);

/// Sends `request` to the service that uses this command's state folder and prints
/// its answer (JSON with `json`).
pub async fn run(cli: &Cli, request: Request, json: bool) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    let path = control::socket_path(&config.agent.state_dir);
    let wait = match request {
        Request::PrintBatch { .. } | Request::Reprint { .. } => PRINT_WAIT,
        _ => WAIT,
    };
    let reply = control::ask(&path, &request, wait).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
        if let Reply::Error { message } = reply {
            bail!("{message}");
        }
        return Ok(());
    }
    match reply {
        Reply::Error { message } => bail!("{message}"),
        Reply::Done { message } => println!("{message}"),
        Reply::Printed(p) => {
            println!(
                "printed {} voucher(s) on the kiosk printer (sales {})",
                p.printed,
                p.sale_ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(note) = p.note {
                println!("{note}");
            }
        }
        Reply::Status(s) => println!("{}", serde_json::to_string_pretty(&s)?),
    }
    Ok(())
}
