//! An in-memory [`Seller`] that hands out pool vouchers at once: for the kiosk
//! tests, the latency benchmark and the demo before the vouchers layer is wired.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use firmware_config::{Config, Secret};

use crate::printer::login_url;
use crate::{CreditId, Item, Reason, SaleReceipt, SaleRequest, SellError, Seller};

/// What the seller was asked to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SellerEvent {
    /// `record_credit`.
    Credit(u64),
    /// `sell`, with the code handed out.
    Sold {
        item: Item,
        credit: u64,
        code: String,
    },
    /// `forfeit_credit`.
    Forfeit(u64),
    /// `delivered`.
    Delivered { sale_id: String, printed: bool },
}

/// Sells from an endless in-memory pool.
pub struct MemorySeller {
    config: Config,
    next: AtomicU64,
    /// Everything done, oldest first.
    pub events: Mutex<Vec<SellerEvent>>,
    /// What `can_sell` answers.
    pub health: Mutex<Result<(), Reason>>,
    /// When set, `sell` fails with this error.
    pub fail_with: Mutex<Option<SellError>>,
}

impl MemorySeller {
    /// A seller for the plans in `config`.
    pub fn new(config: &Config) -> MemorySeller {
        MemorySeller {
            config: config.clone(),
            next: AtomicU64::new(1),
            events: Mutex::new(Vec::new()),
            health: Mutex::new(Ok(())),
            fail_with: Mutex::new(None),
        }
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<SellerEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn log(&self, e: SellerEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(e);
        }
    }

    fn dns_name(&self) -> String {
        self.config
            .routers
            .first()
            .map(|r| r.dns_name.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "hotspot.lan".into())
    }
}

impl Seller for MemorySeller {
    async fn record_credit(&self, amount: u64) -> Result<CreditId, SellError> {
        self.log(SellerEvent::Credit(amount));
        Ok(CreditId(self.next.fetch_add(1, Ordering::Relaxed)))
    }

    async fn sell(&self, request: SaleRequest) -> Result<SaleReceipt, SellError> {
        if let Some(e) = self.fail_with.lock().ok().and_then(|f| f.clone()) {
            return Err(e);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let code = format!("SIM{n:05}");
        let (plan_name, time_limit, data_limit, validity, price) = match &request.item {
            Item::Plan(id) => {
                let p = self
                    .config
                    .plan(id)
                    .ok_or_else(|| SellError::Refused(format!("unknown plan {id:?}")))?;
                (
                    p.name.clone(),
                    p.time_limit.map(|d| d.std()),
                    p.data_limit.map(|b| b.0),
                    p.validity.map(|d| d.std()),
                    p.price,
                )
            }
            Item::Time { time, price, .. } => (
                crate::labels::time_span(*time),
                Some(*time),
                None,
                Some(Duration::from_secs(30 * 86_400)),
                *price,
            ),
        };
        if price > request.credit {
            return Err(SellError::Refused(format!(
                "price {price} is more than the credit {}",
                request.credit
            )));
        }
        self.log(SellerEvent::Sold {
            item: request.item.clone(),
            credit: request.credit,
            code: code.clone(),
        });
        let dns = self.dns_name();
        Ok(SaleReceipt {
            sale_id: format!("sim-sale-{n}"),
            login_url: login_url(&dns, &code, &code),
            login_address: format!("http://{dns}"),
            password: Secret::new(code.clone()),
            code,
            plan_name,
            time_limit,
            data_limit,
            validity,
            validity_from_sale: false,
            price,
            sold_at: SystemTime::now(),
            first_printed: None,
        })
    }

    async fn forfeit_credit(&self, amount: u64, _credits: Vec<CreditId>) -> Result<(), SellError> {
        self.log(SellerEvent::Forfeit(amount));
        Ok(())
    }

    async fn delivered(&self, sale_id: &str, printed: bool) -> Result<(), SellError> {
        self.log(SellerEvent::Delivered {
            sale_id: sale_id.to_string(),
            printed,
        });
        Ok(())
    }

    fn can_sell(&self) -> Result<(), Reason> {
        self.health
            .lock()
            .map(|h| h.clone())
            .unwrap_or(Err(Reason::Other("seller lock poisoned".into())))
    }
}
