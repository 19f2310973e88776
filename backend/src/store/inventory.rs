use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct InventoryRow {
    pub site: String,
    pub resource: String,
    /// A JSON array of the resource's items.
    pub items: String,
    pub as_of: String,
}

impl Store {
    pub async fn save_inventory(&self, row: &InventoryRow) -> Result<(), StoreError> {
        self.save_inventory_batch(std::slice::from_ref(row)).await
    }

    pub async fn load_inventory(&self) -> Result<Vec<InventoryRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT site, resource, items, as_of FROM inventory")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

impl Store {
    /// Saves many snapshots in one transaction: one fsync for a whole batch.
    pub async fn save_inventory_batch(&self, rows: &[InventoryRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO inventory (site, resource, items, as_of) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (site, resource) DO UPDATE SET items = excluded.items, as_of = excluded.as_of",
            )
            .bind(&row.site)
            .bind(&row.resource)
            .bind(&row.items)
            .bind(&row.as_of)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
