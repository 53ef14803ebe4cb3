//! `hotspot-agent owner-page pin|fingerprint`: set the owner's PIN (stored only as
//! a hash) and print the page's certificate fingerprint, for the owner to compare
//! with what the browser shows on the first visit.

use std::io::{BufRead as _, IsTerminal as _};

use clap::Subcommand;
use firmware_config::Config;

use crate::owner_page::{self, pin};

/// `owner-page` subcommands.
#[derive(Debug, Subcommand)]
pub enum OwnerPageCmd {
    /// Set the owner's PIN: read from standard input (twice at a terminal, without
    /// echo), stored as an Argon2id hash in [owner_page] pin_file (mode 0600).
    Pin,
    /// The page's HTTPS certificate SHA-256 (made now if the service has not made it
    /// yet) and the address to open.
    Fingerprint,
}

/// Turns terminal echo off while a PIN is typed; back on when dropped.
struct NoEcho(bool);

impl NoEcho {
    fn new() -> NoEcho {
        let tty = std::io::stdin().is_terminal();
        if tty {
            let _ = std::process::Command::new("stty").arg("-echo").status();
        }
        NoEcho(tty)
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        if self.0 {
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
        }
    }
}

fn read_pin() -> anyhow::Result<String> {
    let tty = std::io::stdin().is_terminal();
    let _echo = NoEcho::new();
    let mut lines = std::io::stdin().lock().lines();
    let mut ask = |prompt: &str| -> anyhow::Result<String> {
        if tty {
            eprint!("{prompt}");
        }
        Ok(lines
            .next()
            .transpose()?
            .map(|l| l.trim_end_matches(['\r', '\n']).to_string())
            .unwrap_or_default())
    };
    let first = ask("new owner page PIN: ")?;
    if tty {
        eprintln!();
        let again = ask("the same PIN again: ")?;
        anyhow::ensure!(first == again, "the two PINs differ; nothing was changed");
    }
    Ok(first)
}

/// Runs an `owner-page` subcommand.
pub fn run(cmd: OwnerPageCmd, config: &Config) -> anyhow::Result<()> {
    let page = &config.owner_page;
    match cmd {
        OwnerPageCmd::Pin => {
            let hash = pin::hash_pin(&read_pin()?)?;
            let path = page.pin_path(&config.agent.state_dir);
            pin::write_pin_file(&path, &hash)?;
            println!(
                "owner page PIN set (hash in {}); the running service reads it at its next start",
                path.display()
            );
            if !page.enabled {
                println!(
                    "the page is off: set [owner_page] enabled = true and restart the service"
                );
            }
        }
        OwnerPageCmd::Fingerprint => {
            let fp = owner_page::fingerprint(config)?;
            let scheme = if page.tls { "https" } else { "http" };
            println!("address      {scheme}://{}/", page.listen);
            if page.tls {
                println!("SHA-256      {fp}");
                println!("The browser warns about a certificate it does not know: open its details and check that the SHA-256 fingerprint is this one before you go on.");
            }
        }
    }
    Ok(())
}
