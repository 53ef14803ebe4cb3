//! Online orders: a voucher paid through the central office (a website, an
//! e-wallet) becomes one voucher on a site, keyed by the order's id. The order goes
//! down signed on the site's `cmd` topic (QoS 1, so the broker keeps it for a site
//! that is offline); the answer comes up through the site's outbox (`up/order`),
//! is stored and acknowledged like a sale, and carries the code to show the
//! customer. Sending an order again with the same id is always safe: the site
//! answers with the voucher it sold for it.

use std::time::Duration;

use sync_proto::messages::{Down, Order, OrderOutcome, OrderResult, Up};
use sync_proto::topics::Topics;

use crate::{Central, CentralDb, CentralError, Received};

impl Central {
    /// Publishes a signed order to its site (`order.target`).
    pub async fn send_order(&self, order: &Order) -> Result<(), CentralError> {
        let bytes = self.signed(&order.target, Down::Order(order.clone()));
        let topic = Topics::new(self.prefix(), &order.target).cmd();
        self.publish(&topic, bytes, false).await
    }

    /// Waits for the site's final answer to an order (`Sold` or `Refused`; a
    /// `Pending` is returned only when nothing final comes within `timeout`).
    /// Everything else that arrives meanwhile is stored, acknowledged and returned.
    pub async fn await_order(
        &mut self,
        db: &CentralDb,
        order: &Order,
        timeout: Duration,
    ) -> Result<(OrderResult, Vec<Received>), CentralError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut others = Vec::new();
        let mut pending = None;
        loop {
            let got = tokio::time::timeout_at(deadline, self.next(db)).await;
            let Ok(Some(r)) = got else {
                self.flush_acks(db).await;
                return match pending {
                    Some(p) => Ok((p, others)),
                    None => Err(CentralError::NoReply {
                        site: order.target.clone(),
                        secs: timeout.as_secs(),
                    }),
                };
            };
            if let Up::Order(result) = &r.envelope.body {
                if r.site == order.target && result.order_id == order.order_id {
                    if matches!(result.outcome, OrderOutcome::Pending(_)) {
                        pending = Some(result.clone());
                    } else {
                        // Stored before it is shown: acknowledged with it.
                        self.flush_acks(db).await;
                        return Ok((result.clone(), others));
                    }
                }
            }
            others.push(r);
        }
    }
}

impl CentralDb {
    /// The answers a site sent for an order, first received first (an order sent
    /// again gets the same voucher, so its `Sold` answers all carry one code).
    pub fn order_results(
        &self,
        site: &str,
        order_id: &str,
    ) -> Result<Vec<OrderResult>, CentralError> {
        let err = |source| CentralError::Db {
            path: self.path.clone(),
            source,
        };
        let mut stmt = self
            .conn
            .prepare("SELECT json FROM received WHERE site = ?1 AND kind = 'order' ORDER BY rowid")
            .map_err(err)?;
        let rows = stmt
            .query_map([site], |r| r.get::<_, String>(0))
            .map_err(err)?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(err)?;
            if let Ok(Up::Order(result)) = serde_json::from_str::<Up>(&json) {
                if result.order_id == order_id {
                    out.push(result);
                }
            }
        }
        Ok(out)
    }
}
