//! `hotspot-agent msg decode|encode`: translate wire messages between postcard and
//! JSON, for operators and for central servers written in other languages.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;

use sync_proto::envelope::{decode, Envelope};
use sync_proto::messages::{Down, Up};

/// Which family a message belongs to (its topic tells: see `agent/crates/sync-proto/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// Site to central: status, up/*, reply.
    Up,
    /// Central to site: plans, routers, cmd, ack.
    Down,
}

#[derive(Debug, clap::Subcommand)]
pub enum MsgCommand {
    /// Postcard bytes (a file or stdin) to JSON on stdout.
    Decode {
        #[arg(value_enum)]
        direction: Direction,
        /// Input is hex text instead of raw bytes.
        #[arg(long)]
        hex: bool,
        /// Input file; stdin when absent.
        file: Option<PathBuf>,
    },
    /// JSON (a file or stdin) to postcard bytes on stdout. Signatures are copied, not
    /// made: sign with `central` commands.
    Encode {
        #[arg(value_enum)]
        direction: Direction,
        /// Write hex text instead of raw bytes.
        #[arg(long)]
        hex: bool,
        /// Input file; stdin when absent.
        file: Option<PathBuf>,
    },
}

fn read_input(file: &Option<PathBuf>) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match file {
        Some(path) => {
            buf = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
        }
    }
    Ok(buf)
}

/// Postcard to pretty JSON.
pub fn decode_to_json(direction: Direction, bytes: &[u8]) -> anyhow::Result<String> {
    let json = match direction {
        Direction::Up => serde_json::to_string_pretty(&decode::<Up>(bytes)?.envelope)?,
        Direction::Down => serde_json::to_string_pretty(&decode::<Down>(bytes)?.envelope)?,
    };
    Ok(json)
}

/// JSON to postcard.
pub fn encode_from_json(direction: Direction, json: &[u8]) -> anyhow::Result<Vec<u8>> {
    let bytes = match direction {
        Direction::Up => serde_json::from_slice::<Envelope<Up>>(json)
            .context("not an up message in JSON")?
            .encode(),
        Direction::Down => serde_json::from_slice::<Envelope<Down>>(json)
            .context("not a down message in JSON")?
            .encode(),
    };
    Ok(bytes)
}

pub async fn run(cmd: MsgCommand) -> anyhow::Result<()> {
    match cmd {
        MsgCommand::Decode {
            direction,
            hex,
            file,
        } => {
            let input = read_input(&file)?;
            let bytes = if hex {
                let text: String = String::from_utf8_lossy(&input).split_whitespace().collect();
                ::hex::decode(text).context("input is not hex")?
            } else {
                input
            };
            println!("{}", decode_to_json(direction, &bytes)?);
        }
        MsgCommand::Encode {
            direction,
            hex,
            file,
        } => {
            let bytes = encode_from_json(direction, &read_input(&file)?)?;
            let mut out = std::io::stdout().lock();
            if hex {
                writeln!(out, "{}", ::hex::encode(bytes))?;
            } else {
                out.write_all(&bytes)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_proto::messages::SaleRecord;

    #[test]
    fn a_sale_goes_to_json_and_back_to_the_same_bytes() {
        let sale = SaleRecord {
            sale_id: "42".into(),
            code: "ABCD".into(),
            price: 5,
            ..Default::default()
        };
        let bytes = Envelope::new("sale-42", "s1", 7, Up::Sale(sale)).encode();
        let json = decode_to_json(Direction::Up, &bytes).unwrap();
        assert!(json.contains("\"Sale\""), "{json}");
        assert!(json.contains("\"sale_id\": \"42\""), "{json}");
        assert_eq!(
            encode_from_json(Direction::Up, json.as_bytes()).unwrap(),
            bytes
        );
    }

    #[test]
    fn the_wrong_direction_is_an_error_not_a_panic() {
        let bytes = Envelope::new("x", "s1", 7, Up::Sale(SaleRecord::default())).encode();
        assert!(decode_to_json(Direction::Down, &bytes).is_err());
    }
}
