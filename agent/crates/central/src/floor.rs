//! The floor under what one box takes (`Down::Floor`): published retained on the
//! box's `cmd` topic when the box is registered (again, after a wipe), bound to its
//! key. The box then refuses plan and router sets below the versions given and
//! commands and orders signed before it, so nothing captured from before its
//! registration opens the door again.

use sync_proto::messages::{Down, Floor};
use sync_proto::now_ms;
use sync_proto::topics::Topics;

use crate::{Central, CentralDb, CentralError};

impl Central {
    /// Publishes the floor for a registered site: its key from `db`, issued now.
    pub async fn push_floor(
        &mut self,
        db: &CentralDb,
        site: &str,
        plans_version: u64,
        routers_version: u64,
    ) -> Result<Floor, CentralError> {
        let key = db
            .site_key(site)?
            .ok_or_else(|| CentralError::Unregistered(site.to_string()))?;
        let floor = Floor {
            site_key: key.to_bytes().to_vec(),
            plans_version,
            routers_version,
            issued_ms: now_ms(),
        };
        let bytes = self.signed(site, Down::Floor(floor.clone()));
        let topic = Topics::new(self.prefix(), site).cmd();
        self.publish(&topic, bytes, true).await?;
        Ok(floor)
    }
}
