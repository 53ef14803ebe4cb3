//! The service side of the control channel: [`ControlService`] does what a request
//! asks (its methods are what other parts of the agent call too, e.g. the owner's
//! page prints a batch with [`ControlService::print_batch`]); [`serve`] answers the
//! socket.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use firmware_config::kiosk::QrMethod;
use firmware_config::Config;
use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{LiveStatus, Printed, Reply, Request, MAX_REQUEST};
use crate::app::seller::{ms_time, receipt, TICKET_PRINT};
use crate::app::Agent;
use crate::store::{Level, SaleState};
use crate::vouchers::{VoucherError, Vouchers};
use kiosk::printer::device::PrinterError;
use kiosk::printer::escpos::{ticket_bytes, QrMode};
use kiosk::printer::sheet::sheet_jobs;
use kiosk::printer::{Paper, Ticket, TicketLook};
use kiosk::runner::KioskHandle;
use routeros::SharedRouter;

/// The most vouchers one printed sheet holds (about 1.5 m of 58 mm paper).
pub const MAX_SHEET: u32 = 100;

/// Why a control request was not carried out; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The kiosk has no printer.
    #[error("the kiosk has no printer: set [kiosk.printer] kind in the config file")]
    NoPrinter,
    /// A customer is being served.
    #[error("a customer is mid-purchase at the kiosk ({0}); try again in a minute")]
    Busy(String),
    /// Too many or too few vouchers for one sheet.
    #[error("a printed sheet holds 1 to {MAX_SHEET} vouchers, not {0}; print several sheets")]
    SheetSize(u32),
    /// The printer did not print.
    #[error("{error}{}", if *.printed > 0 { format!(" ({} vouchers were printed before it stopped; the rest are in `voucher list`)", .printed) } else { String::new() })]
    Printer {
        /// What the printer task said.
        error: PrinterError,
        /// Vouchers printed before it failed.
        printed: usize,
    },
    /// The voucher layer refused (unknown plan, router down, store error).
    #[error(transparent)]
    Vouchers(#[from] VoucherError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// No voucher has that code.
    #[error("no voucher {0} in the store: check the code with `hotspot-agent voucher list`")]
    UnknownCode(String),
    /// The voucher cannot log in any more (or never could).
    #[error("voucher {code} is {state}: it cannot log in, so it is not printed again")]
    NotUsable {
        /// The code.
        code: String,
        /// Its state.
        state: String,
    },
    /// The device is not simulated in this service.
    #[error("the {0} of this service is not simulated: `sim` commands drive only `kind = \"sim\"` devices of a host build")]
    NotSimulated(&'static str),
    /// No simulated coin has that value.
    #[error("the simulated acceptor takes no coin of {value}; it takes {values}")]
    NoSuchCoin {
        /// What was asked.
        value: u64,
        /// What it takes.
        values: String,
    },
    /// No such button.
    #[error("button {0} does not exist: buttons are numbered from 1, as the screen shows them")]
    NoSuchButton(usize),
}

/// What the control channel acts on: the running agent's vouchers and kiosk.
pub struct ControlService {
    vouchers: Vouchers<SharedRouter>,
    kiosk: Option<KioskHandle>,
    #[cfg(feature = "sim")]
    sim: Option<kiosk::runner::SimDevices>,
    look: TicketLook,
    paper: Paper,
    qr: QrMode,
}

impl ControlService {
    /// The control of a running agent started from `config`.
    pub fn new(agent: &Agent, config: &Config) -> ControlService {
        ControlService::of(agent.vouchers.clone(), agent.kiosk.as_ref(), config)
    }

    /// The control of these vouchers and kiosk, for parts of the agent that start
    /// with it (the owner's page) rather than after it.
    pub fn of(
        vouchers: Vouchers<SharedRouter>,
        kiosk: Option<&kiosk::runner::Kiosk>,
        config: &Config,
    ) -> ControlService {
        ControlService {
            vouchers,
            kiosk: kiosk.map(|k| k.handle.clone()),
            #[cfg(feature = "sim")]
            sim: kiosk.map(|k| k.sim.clone()),
            look: TicketLook::from_config(config),
            paper: Paper::from_mm(config.kiosk.printer.paper_mm),
            qr: match config.kiosk.printer.qr {
                QrMethod::Native => QrMode::Native,
                QrMethod::Raster => QrMode::Raster,
            },
        }
    }

    /// Carries out one request.
    pub async fn handle(&self, request: Request) -> Reply {
        let done = |r: Result<String, ControlError>| match r {
            Ok(message) => Reply::Done { message },
            Err(e) => Reply::Error {
                message: e.to_string(),
            },
        };
        let printed = |r: Result<Printed, ControlError>| match r {
            Ok(p) => Reply::Printed(p),
            Err(e) => Reply::Error {
                message: e.to_string(),
            },
        };
        match request {
            Request::Status => Reply::Status(self.live_status()),
            Request::PrintBatch { plan, count } => printed(self.print_batch(&plan, count).await),
            Request::Reprint { code } => printed(self.reprint(&code).await),
            Request::SimCoin { value } => done(self.sim_coin(value).await),
            Request::SimPress { button } => done(self.sim_press(button).await),
            Request::SimPaper { paper } => done(self.sim_paper(paper)),
        }
    }

    /// The kiosk's devices as the service sees them now.
    pub fn live_status(&self) -> LiveStatus {
        let mut live = LiveStatus {
            pid: std::process::id(),
            ..LiveStatus::default()
        };
        if let Some(k) = &self.kiosk {
            let s = k.status();
            live.kiosk = true;
            live.credit = s.credit;
            live.out_of_service = s.out_of_service;
            live.screen = s.screen;
            live.delivered = s.delivered;
            live.printer = s.printer;
            live.coin = s.coin;
            live.acceptor = s.acceptor;
            live.display = s.display;
        }
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            if sim.acceptor.is_some() {
                live.simulated.push("coin".into());
            }
            if sim.printer.is_some() {
                live.simulated.push("printer".into());
            }
            if sim.buttons.is_some() {
                live.simulated.push("buttons".into());
            }
        }
        live
    }

    /// Whether the kiosk has a printer to print batches on.
    pub fn has_printer(&self) -> bool {
        self.printer().is_ok()
    }

    fn printer(
        &self,
    ) -> Result<(&KioskHandle, &kiosk::printer::device::PrinterHandle), ControlError> {
        let kiosk = self.kiosk.as_ref().ok_or(ControlError::NoPrinter)?;
        let printer = kiosk.printer().ok_or(ControlError::NoPrinter)?;
        Ok((kiosk, printer))
    }

    /// Makes `count` vouchers of `plan` (source `batch`) and prints them as one sheet
    /// on the kiosk's printer; those on paper are marked delivered. Refused while a
    /// customer is mid-purchase, and before anything is made when the paper is out.
    pub async fn print_batch(&self, plan: &str, count: u32) -> Result<Printed, ControlError> {
        if !(1..=MAX_SHEET).contains(&count) {
            return Err(ControlError::SheetSize(count));
        }
        let (kiosk, printer) = self.printer()?;
        idle(kiosk)?;
        self.vouchers.plan(plan)?;
        check_paper(printer).await?;
        let report = self
            .vouchers
            .create_batch(plan, count as usize, None)
            .await?;
        let dns = self.vouchers.settings().dns_name.clone();
        let tickets: Vec<Ticket> = report
            .vouchers
            .iter()
            .map(|v| Ticket::for_voucher(&receipt(v.clone(), &dns), &self.look))
            .collect();
        let ids: Vec<i64> = report.vouchers.iter().map(|v| v.sale_id).collect();
        let mut done = 0usize;
        for (job, chunk) in sheet_jobs(&tickets, self.paper)
            .into_iter()
            .zip(ids.chunks(kiosk::printer::sheet::CARDS_PER_JOB))
        {
            self.record_prints(chunk)?;
            if let Err(error) = printer.print(job).await {
                self.deliver(&ids[..done])?;
                return Err(ControlError::Printer {
                    error,
                    printed: done,
                });
            }
            done += chunk.len();
        }
        self.deliver(&ids)?;
        let left = report.failed.len() + report.waiting.len();
        tracing::info!(plan, printed = done, "voucher sheet printed");
        Ok(Printed {
            printed: done,
            sale_ids: ids,
            note: (left > 0).then(|| {
                format!("{left} of the {count} vouchers were not made on the router; see `voucher list`")
            }),
        })
    }

    /// Prints voucher `code` again, marked `REPRINT` with the time of its first print.
    pub async fn reprint(&self, code: &str) -> Result<Printed, ControlError> {
        let (_, printer) = self.printer()?;
        let store = self.vouchers.store();
        let sale = store
            .sale_by_code(code)?
            .ok_or_else(|| ControlError::UnknownCode(code.to_string()))?;
        if !matches!(sale.state, SaleState::Provisioned | SaleState::Delivered) {
            return Err(ControlError::NotUsable {
                code: code.to_string(),
                state: sale.state.as_str().to_string(),
            });
        }
        let subject = sale.id.to_string();
        let first = store
            .events(Some(TICKET_PRINT), 10_000)?
            .into_iter()
            .filter(|e| e.subject.as_deref() == Some(subject.as_str()))
            .map(|e| e.at_ms)
            .min();
        let voucher = self.vouchers.voucher(sale.id)?;
        let dns = self.vouchers.settings().dns_name.clone();
        let mut ticket = Ticket::for_voucher(&receipt(voucher, &dns), &self.look);
        let first_text = first.map(|ms| self.look.clock.date_time(ms_time(ms)));
        ticket.mark_reprint(first_text.as_deref());
        let bytes =
            ticket_bytes(&ticket, self.paper, self.qr).map_err(|e| ControlError::Printer {
                error: PrinterError::Io {
                    device: "printer".into(),
                    message: e.to_string(),
                },
                printed: 0,
            })?;
        check_paper(printer).await?;
        printer
            .print(bytes)
            .await
            .map_err(|error| ControlError::Printer { error, printed: 0 })?;
        store.record_event(
            Level::Info,
            "ticket_reprint",
            Some(&subject),
            "ticket printed again on request",
            crate::store::now_ms(),
        )?;
        if first.is_none() {
            // The first print on paper: a later reprint names this one.
            self.record_prints(&[sale.id])?;
        }
        if sale.state == SaleState::Provisioned {
            self.deliver(&[sale.id])?;
        }
        tracing::info!(sale_id = sale.id, "voucher printed again");
        Ok(Printed {
            printed: 1,
            sale_ids: vec![sale.id],
            note: None,
        })
    }

    fn record_prints(&self, ids: &[i64]) -> Result<(), ControlError> {
        let now = crate::store::now_ms();
        for id in ids {
            self.vouchers.store().record_event(
                Level::Info,
                TICKET_PRINT,
                Some(&id.to_string()),
                "ticket sent to the printer",
                now,
            )?;
        }
        Ok(())
    }

    fn deliver(&self, ids: &[i64]) -> Result<(), ControlError> {
        if !ids.is_empty() {
            self.vouchers
                .store()
                .mark_many_delivered(ids, crate::store::now_ms())?;
        }
        Ok(())
    }

    /// A coin of `value` into the simulated acceptor; says what the kiosk shows after.
    pub async fn sim_coin(&self, value: u64) -> Result<String, ControlError> {
        #[cfg(feature = "sim")]
        {
            let sim = self
                .sim
                .as_ref()
                .ok_or(ControlError::NotSimulated("coin acceptor"))?;
            let acceptor = sim
                .acceptor
                .as_ref()
                .ok_or(ControlError::NotSimulated("coin acceptor"))?;
            let channel = sim
                .channel_values
                .iter()
                .find(|(_, v)| *v == value)
                .map(|(c, _)| *c)
                .ok_or_else(|| ControlError::NoSuchCoin {
                    value,
                    values: sim
                        .channel_values
                        .iter()
                        .map(|(_, v)| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if !acceptor.state().accepting {
                let why = self
                    .kiosk
                    .as_ref()
                    .and_then(|k| k.status().out_of_service)
                    .unwrap_or_else(|| "inhibited".into());
                return Ok(format!(
                    "the coin slot is shut ({why}): the acceptor gave the coin back"
                ));
            }
            acceptor.insert(channel).await;
            if let Some(k) = &self.kiosk {
                let before = k.status();
                // The coin shows once the seller has it on disk.
                let _ = tokio::time::timeout(
                    Duration::from_secs(3),
                    k.wait_for(|s| {
                        s.credit != before.credit
                            || s.delivered != before.delivered
                            || s.screen.starts_with("Working")
                    }),
                )
                .await;
            }
            Ok(self.shown())
        }
        #[cfg(not(feature = "sim"))]
        {
            let _ = value;
            Err(ControlError::NotSimulated("coin acceptor"))
        }
    }

    /// Presses button `button` (1 = the first) of the simulated kiosk.
    pub async fn sim_press(&self, button: usize) -> Result<String, ControlError> {
        #[cfg(feature = "sim")]
        {
            let kiosk = self
                .kiosk
                .as_ref()
                .ok_or(ControlError::NotSimulated("kiosk"))?;
            if button == 0 || button > 16 {
                return Err(ControlError::NoSuchButton(button));
            }
            kiosk.press_and_wait(button - 1).await;
            Ok(self.shown())
        }
        #[cfg(not(feature = "sim"))]
        {
            let _ = button;
            Err(ControlError::NotSimulated("kiosk"))
        }
    }

    /// Sets the simulated printer's paper sensor.
    pub fn sim_paper(&self, paper: super::PaperState) -> Result<String, ControlError> {
        #[cfg(feature = "sim")]
        {
            let printer = self
                .sim
                .as_ref()
                .and_then(|s| s.printer.as_ref())
                .ok_or(ControlError::NotSimulated("printer"))?;
            use super::PaperState;
            let (out, low) = match paper {
                PaperState::In => (false, false),
                PaperState::Low => (false, true),
                PaperState::Out => (true, false),
            };
            printer.set_paper(out, low);
            Ok(format!(
                "simulated paper sensor: {}; the kiosk reads it within a second",
                match paper {
                    PaperState::In => "paper in",
                    PaperState::Low => "roll near its end",
                    PaperState::Out => "no paper",
                }
            ))
        }
        #[cfg(not(feature = "sim"))]
        {
            let _ = paper;
            Err(ControlError::NotSimulated("printer"))
        }
    }

    /// What the kiosk shows now.
    #[cfg(feature = "sim")]
    fn shown(&self) -> String {
        match &self.kiosk {
            Some(k) => {
                let s = k.status();
                format!(
                    "credit {}, screen {}",
                    self.look.money.show(s.credit),
                    s.screen
                )
            }
            None => "done".into(),
        }
    }
}

/// A sheet waits for a customer mid-purchase to finish.
fn idle(kiosk: &KioskHandle) -> Result<(), ControlError> {
    let s = kiosk.status();
    if s.screen.starts_with("Working") || s.screen.starts_with("Credit") {
        return Err(ControlError::Busy(s.screen));
    }
    Ok(())
}

async fn check_paper(printer: &kiosk::printer::device::PrinterHandle) -> Result<(), ControlError> {
    match printer.status().await {
        Ok(s) if s.out => Err(ControlError::Printer {
            error: PrinterError::OutOfPaper("the kiosk printer".into()),
            printed: 0,
        }),
        Ok(_) => Ok(()),
        Err(error) => Err(ControlError::Printer { error, printed: 0 }),
    }
}

/// Listens at `path`: a stale socket file from a previous run is replaced, and the
/// new one is made `0660` (the service's user and group).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt as _;
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::other(format!(
                "{} exists and is not a socket; remove it",
                path.display()
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another agent already answers on {}", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Answers requests on `listener` until `cancel`; the socket file is removed at the end.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    service: Arc<ControlService>,
    cancel: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        if !allowed(&stream, &path) {
            tracing::warn!(socket = %path.display(), "control request from a user who is neither root nor the service's user or group; refused");
            continue;
        }
        let service = service.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &service).await {
                tracing::debug!(error = %e, "control connection ended early");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

/// Root, the socket's owner (the service's user) or its group.
fn allowed(stream: &UnixStream, path: &Path) -> bool {
    let (Ok(peer), Ok(meta)) = (stream.peer_cred(), std::fs::metadata(path)) else {
        return false;
    };
    peer.uid() == 0 || peer.uid() == meta.uid() || peer.gid() == meta.gid()
}

async fn answer(stream: UnixStream, service: &ControlService) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64 + 1));
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    let reply = if line.len() > MAX_REQUEST {
        Reply::Error {
            message: format!("request longer than {MAX_REQUEST} bytes"),
        }
    } else {
        match serde_json::from_str::<Request>(line.trim_end()) {
            Ok(request) => service.handle(request).await,
            Err(e) => Reply::Error {
                message: format!("not a control request: {e}"),
            },
        }
    };
    let mut out = serde_json::to_string(&reply)
        .unwrap_or_else(|_| r#"{"reply":"error","message":"reply not encodable"}"#.to_string());
    out.push('\n');
    write.write_all(out.as_bytes()).await?;
    write.shutdown().await
}
