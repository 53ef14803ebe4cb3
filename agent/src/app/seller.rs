//! The kiosk's [`Seller`] over the voucher layer: coins become credit rows, a
//! choice becomes a sale, a ticket in the customer's hand becomes `Delivered`.

use std::time::{Duration, UNIX_EPOCH};

use firmware_config::Secret;

use crate::store::StoredPlan;
use crate::vouchers::{self, CreditSpend, VoucherError, Vouchers};
use kiosk::{self, CreditId, EventMark, Item, Restored, SaleRequest, SellError, Seller};
use routeros::HotspotApi;

/// The event that keeps the coin acceptor's table as the service read it at start
/// (shown by `status`).
pub const ACCEPTOR_EVENT: &str = "acceptor_identified";

/// Sells through [`Vouchers`]; cheap to clone.
pub struct KioskSeller<R> {
    vouchers: Vouchers<R>,
    /// Called after every sale commits, so the central link sends it at once.
    on_sale: Option<Box<dyn Fn() + Send + Sync>>,
    /// `restore` waits until this turns true (unfinished sales resumed).
    ready: Option<tokio::sync::watch::Receiver<bool>>,
}

/// A sold voucher as the kiosk prints it, logging in at `http://<dns>`. The kiosk's
/// sales and the owner page's printed batches share it.
pub fn receipt(v: vouchers::SoldVoucher, dns: &str) -> kiosk::SaleReceipt {
    kiosk::SaleReceipt {
        sale_id: v.sale_id.to_string(),
        login_url: kiosk::printer::login_url(dns, &v.code, &v.password),
        login_address: format!("http://{dns}"),
        code: v.code,
        password: Secret::new(v.password),
        plan_name: v.plan_name,
        time_limit: v.time_limit_s.map(Duration::from_secs),
        data_limit: v.data_limit_bytes,
        validity: v.validity_s.map(Duration::from_secs),
        validity_from_sale: v.validity_from == "sale",
        price: v.price,
        sold_at: ms_time(v.sold_at_ms),
        first_printed: None,
    }
}

/// Milliseconds since the epoch as a time (before 1970 reads as 1970).
pub fn ms_time(ms: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl<R: HotspotApi + Clone + 'static> KioskSeller<R> {
    /// A seller over `vouchers`; `on_sale` runs after each committed sale.
    pub fn new(
        vouchers: Vouchers<R>,
        on_sale: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> KioskSeller<R> {
        KioskSeller {
            vouchers,
            on_sale,
            ready: None,
        }
    }

    /// `restore` (and so the kiosk's first sale) waits until `ready` is true: the
    /// kiosk and its coin acceptor start before the router-bound start-up steps.
    pub fn after(mut self, ready: tokio::sync::watch::Receiver<bool>) -> KioskSeller<R> {
        self.ready = Some(ready);
        self
    }

    fn ticket(&self, v: vouchers::SoldVoucher) -> kiosk::SaleReceipt {
        receipt(v, &self.vouchers.settings().dns_name)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Vouchers<R>) -> Result<T, VoucherError> + Send + 'static,
    ) -> Result<T, SellError> {
        let v = self.vouchers.clone();
        tokio::task::spawn_blocking(move || f(&v))
            .await
            .map_err(|e| SellError::Failed(format!("store task failed: {e}")))?
            .map_err(|e| SellError::Failed(e.to_string()))
    }
}

/// The event kind recorded when a ticket goes to the printer; its subject is the sale id.
pub const TICKET_PRINT: &str = "ticket_print";

/// A paid, unmarked sale older than this at a restart: its customer is likely
/// gone, and its ticket is held for the operator instead of printed again.
const CUSTOMER_GONE_MS: i64 = 10 * 60 * 1000;

fn reason(r: vouchers::Reason) -> kiosk::Reason {
    match r {
        vouchers::Reason::RouterDownAndPoolEmpty { .. } => kiosk::Reason::RouterUnreachable,
        vouchers::Reason::NoPlans => kiosk::Reason::NothingToSell,
        other => kiosk::Reason::Other(other.to_string()),
    }
}

impl<R: HotspotApi + Clone + 'static> Seller for KioskSeller<R> {
    async fn record_credit(&self, amount: u64) -> Result<CreditId, SellError> {
        let id = self
            .blocking(move |v| v.record_credit(amount, "coin"))
            .await?;
        vouchers::crash_point("after_credit");
        tracing::info!(amount, credit_id = id, "coin committed");
        Ok(CreditId(u64::try_from(id).unwrap_or(0)))
    }

    async fn record_coin(&self, amount: u64, mark: EventMark) -> Result<CreditId, SellError> {
        let counter = mark.counter;
        let id = self
            .blocking(move |v| v.record_coin(amount, "coin", &mark.acceptor, mark.counter))
            .await?;
        vouchers::crash_point("after_credit");
        tracing::info!(amount, credit_id = id, counter, "coin committed");
        Ok(CreditId(u64::try_from(id).unwrap_or(0)))
    }

    async fn record_counter(&self, mark: EventMark) -> Result<(), SellError> {
        self.blocking(move |v| {
            Ok(v.store()
                .set_coin_counter(&mark.acceptor, mark.counter, crate::store::now_ms())?)
        })
        .await
    }

    async fn coin_counter(&self) -> Result<Option<EventMark>, SellError> {
        let stored = self.blocking(|v| Ok(v.store().coin_counter()?)).await?;
        Ok(stored.map(|(acceptor, counter)| EventMark { acceptor, counter }))
    }

    async fn check_store(&self) -> Result<(), SellError> {
        self.blocking(|v| Ok(v.store().check_writable(crate::store::now_ms())?))
            .await
    }

    async fn record_acceptor(&self, table: String) -> Result<(), SellError> {
        self.blocking(move |v| {
            Ok(v.store().record_event(
                crate::store::Level::Info,
                ACCEPTOR_EVENT,
                None,
                &table,
                crate::store::now_ms(),
            )?)
        })
        .await
    }

    async fn sell(&self, request: SaleRequest) -> Result<kiosk::SaleReceipt, SellError> {
        let sold = match &request.item {
            Item::Plan(id) => {
                let plan = self
                    .vouchers
                    .plan(id)
                    .map_err(|e| SellError::Refused(e.to_string()))?;
                let spend = CreditSpend { amount: plan.price };
                self.vouchers.sell(id, Some(spend)).await
            }
            Item::Time {
                time,
                price,
                profile,
            } => {
                let currency = self.vouchers.settings().codes.currency.clone();
                let plan = StoredPlan::for_time(*time, *price, profile, &currency);
                let spend = CreditSpend { amount: *price };
                self.vouchers
                    .sell_plan(&plan, Some(spend), "kiosk", false)
                    .await
            }
        };
        let sold = match sold {
            Ok(v) => v,
            // Paid and recorded; the router user is created as soon as the router
            // answers. The code is already fixed, so the customer gets the ticket now.
            Err(VoucherError::Pending { sale_id, reason }) => {
                tracing::warn!(sale_id, %reason, "sale recorded; router user will be created when the router answers");
                self.vouchers
                    .voucher(sale_id)
                    .map_err(|e| SellError::Failed(e.to_string()))?
            }
            Err(VoucherError::CannotSell(r)) => return Err(SellError::Unavailable(reason(r))),
            Err(e @ VoucherError::UnknownPlan { .. }) => {
                return Err(SellError::Refused(e.to_string()))
            }
            Err(e) => return Err(SellError::Failed(e.to_string())),
        };
        tracing::info!(sale_id = sold.sale_id, plan = %sold.plan_id, from_pool = sold.from_pool, "sale provisioned");
        if let Some(f) = &self.on_sale {
            f();
        }
        Ok(self.ticket(sold))
    }

    async fn forfeit_credit(&self, amount: u64, _credits: Vec<CreditId>) -> Result<(), SellError> {
        self.blocking(move |v| v.forfeit_credit(amount))
            .await
            .map(|_| ())
    }

    async fn printing(&self, sale_id: &str) -> Result<(), SellError> {
        let subject = sale_id.to_string();
        self.blocking(move |v| {
            Ok(v.store().record_event(
                crate::store::Level::Info,
                TICKET_PRINT,
                Some(&subject),
                "ticket sent to the printer",
                crate::store::now_ms(),
            )?)
        })
        .await
    }

    async fn delivered(&self, sale_id: &str, printed: bool) -> Result<(), SellError> {
        let id: i64 = sale_id
            .parse()
            .map_err(|_| SellError::Refused(format!("sale id {sale_id:?} is not a number")))?;
        self.blocking(move |v| v.mark_delivered_via(id, printed))
            .await?;
        tracing::info!(sale_id = id, printed, "voucher delivered");
        Ok(())
    }

    async fn restore(&self) -> Result<Restored, SellError> {
        if let Some(mut ready) = self.ready.clone() {
            if ready.wait_for(|r| *r).await.is_err() {
                return Err(SellError::Unavailable(kiosk::Reason::Starting));
            }
        }
        let now = crate::store::now_ms();
        let (credit, sales) = self
            .blocking(move |v| {
                let credit = v.credit_balance()?;
                let paid = v
                    .store()
                    .sales_in(&[crate::store::SaleState::Provisioned])?;
                let prints = v.store().events(Some(TICKET_PRINT), 10_000)?;
                let coins = v.store().credit_entries(1_000)?;
                let mut out = Vec::new();
                for sale in paid.into_iter().filter(|s| s.source == "kiosk") {
                    let voucher = v.voucher(sale.id)?;
                    let id = sale.id.to_string();
                    // Events are newest first: the last match is the first print.
                    let first = prints
                        .iter()
                        .filter(|e| e.subject.as_deref() == Some(id.as_str()))
                        .map(|e| e.at_ms)
                        .min();
                    let later_coin = coins
                        .iter()
                        .any(|c| c.source == "coin" && c.created_at_ms > voucher.sold_at_ms);
                    if later_coin || now - voucher.sold_at_ms > CUSTOMER_GONE_MS {
                        // Whoever stands at the kiosk now is likely someone else:
                        // printing would hand them this customer's voucher.
                        v.store().record_event(
                            crate::store::Level::Alert,
                            "ticket_held",
                            Some(&voucher.code),
                            &format!(
                                "sale {} was paid but its ticket may not have reached the customer, who is likely gone \
                                 ({}); not printed again: give it from `voucher list` when they come back",
                                sale.id,
                                if later_coin { "another coin came after it" } else { "sold over 10 minutes ago" }
                            ),
                            now,
                        )?;
                        continue;
                    }
                    out.push((voucher, first));
                }
                Ok((credit, out))
            })
            .await?;
        Ok(Restored {
            credit: u64::try_from(credit).unwrap_or(0),
            undelivered: sales
                .into_iter()
                .map(|(v, first)| kiosk::SaleReceipt {
                    first_printed: first.map(ms_time),
                    ..self.ticket(v)
                })
                .collect(),
        })
    }

    fn can_sell(&self) -> Result<(), kiosk::Reason> {
        self.vouchers.can_sell().map_err(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sale_is_logged_by_its_id_never_by_its_code() {
        let (vouchers, _router) = crate::vouchers::tests::setup().await;
        let (log, _guard) = crate::vouchers::tests::log_to_file(tracing::Level::TRACE);
        let seller = KioskSeller::new(vouchers, None);
        seller.record_credit(5).await.unwrap();
        let receipt = seller
            .sell(SaleRequest {
                item: Item::Plan("1h".into()),
                credit: 5,
                credits: Vec::new(),
            })
            .await
            .unwrap();
        seller.delivered(&receipt.sale_id, true).await.unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(
            text.contains(&format!("sale_id={}", receipt.sale_id)),
            "{text}"
        );
        assert!(!text.contains(&receipt.code), "the code was logged: {text}");
        assert!(!text.contains(receipt.password.expose()), "{text}");
    }
}

#[cfg(all(test, feature = "sim"))]
mod kiosk_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::vouchers::tests::setup;

    fn kiosk_config() -> firmware_config::Config {
        let mut c = firmware_config::Config::bundled_default();
        c.kiosk.coin.kind = firmware_config::kiosk::CoinKind::Sim;
        c.kiosk.printer.kind = firmware_config::kiosk::PrinterKind::Sim;
        c.kiosk.display.kind = firmware_config::kiosk::DisplayKind::None;
        c.kiosk.auto_buy = false;
        c
    }

    fn set_page_limit(store: &crate::store::Store, pages: Option<i64>) {
        store
            .read("t", |c| {
                let limit = match pages {
                    Some(p) => p,
                    None => 1_000_000,
                };
                Ok(
                    c.query_row(&format!("PRAGMA max_page_count = {limit}"), [], |r| {
                        r.get::<_, i64>(0)
                    })?,
                )
            })
            .unwrap();
    }

    #[tokio::test]
    async fn after_a_restart_an_unmarked_ticket_is_reprinted_as_such_or_held_if_the_customer_is_likely_gone(
    ) {
        let (vouchers, _router) = setup().await;
        let seller = KioskSeller::new(vouchers.clone(), None);
        // Sold and sent to the printer; the agent died before marking it delivered.
        let first = vouchers.sell("1h", None).await.unwrap();
        seller.printing(&first.sale_id.to_string()).await.unwrap();
        let restored = seller.restore().await.unwrap();
        assert_eq!(restored.undelivered.len(), 1);
        assert!(
            restored.undelivered[0].first_printed.is_some(),
            "printed before: REPRINT"
        );
        // Another customer drops a coin: the first one is likely gone.
        tokio::time::sleep(Duration::from_millis(5)).await;
        vouchers.record_credit(5, "coin").unwrap();
        let restored = seller.restore().await.unwrap();
        assert!(
            restored.undelivered.is_empty(),
            "not printed for the next customer"
        );
        let held = vouchers.store().events(Some("ticket_held"), 10).unwrap();
        assert_eq!(held[0].subject.as_deref(), Some(first.code.as_str()));
        assert_eq!(
            vouchers.store().sale(first.sale_id).unwrap().state,
            crate::store::SaleState::Provisioned,
            "still paid and undelivered, for the operator"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_that_fills_up_mid_sale_keeps_the_slot_shut_until_it_takes_writes() {
        let (vouchers, _router) = setup().await;
        let store = vouchers.store().clone();
        let seller = Arc::new(KioskSeller::new(vouchers.clone(), None));
        let kiosk = kiosk::runner::start(&kiosk_config(), seller, None)
            .await
            .unwrap();
        let acceptor = kiosk.sim.acceptor.clone().unwrap();
        acceptor.wait_for(|s| s.accepting).await;
        acceptor.insert(2).await;
        kiosk.handle.wait_for(|s| s.credit == 5).await;
        // The customer is adding coins when the disk fills up.
        let pages: i64 = store
            .read("t", |c| {
                Ok(c.query_row("PRAGMA page_count", [], |r| r.get(0))?)
            })
            .unwrap();
        set_page_limit(&store, Some(pages));
        while store
            .record_event(
                crate::store::Level::Info,
                "filler",
                None,
                &"x".repeat(500),
                0,
            )
            .is_ok()
        {}
        // And the credit table's last page (rows of 0 leave the balance alone).
        while store
            .read("t", |c| {
                Ok(c.execute(
                    "INSERT INTO credit (amount, source, created_at_ms) VALUES (0, 'filler', 0)",
                    [],
                )?)
            })
            .is_ok()
        {}
        acceptor.insert(2).await;
        tokio::time::timeout(Duration::from_secs(5), acceptor.wait_for(|s| !s.accepting))
            .await
            .expect("the slot shuts on the failed credit write");
        // Several runner ticks later (the seller's health says all is well), still shut.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !acceptor.state().accepting,
            "the slot reopened while the store is full"
        );
        assert!(
            kiosk
                .handle
                .status()
                .out_of_service
                .unwrap_or_default()
                .contains("storage"),
            "{:?}",
            kiosk.handle.status()
        );
        // Space again: the next write test succeeds and the slot reopens.
        set_page_limit(&store, None);
        tokio::time::timeout(Duration::from_secs(8), acceptor.wait_for(|s| s.accepting))
            .await
            .expect("the slot reopens once the store takes writes");
        assert_eq!(
            store.credit_balance().unwrap(),
            5,
            "the first coin is on disk"
        );
    }
}
