//! Deleting the images of tombstoned reads from the image store.
//!
//! An image is deleted only after the broker has acknowledged its read's tombstone, so a read
//! that is still on the topic never loses its image. Between the two steps the image is recorded
//! as pending in the index (`images` column family): a worker killed before the delete, or a
//! delete that fails, leaves the entry, and the next sweep deletes the image. A worker killed
//! before the entry is written still has the sweep plan stored, and completing the plan at
//! restart records the image again.

use futures::StreamExt;

use alpr_images::{is_image_key_of, ImageStore};

use crate::metrics::{
    FOREIGN_IMAGE_REFS, IMAGES_DELETED, IMAGE_DELETE_FAILURES, PENDING_IMAGE_DELETIONS,
};
use crate::store::{PlannedTombstone, RetentionStore, StoreError};

/// Deletes sent to the image store at the same time.
const MAX_CONCURRENT_DELETES: usize = 32;
/// Pending deletions read from the index at once when retrying.
const RETRY_BATCH: usize = 1_000;

/// Counts of one round of image deletions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImageDeletions {
    pub deleted: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for ImageDeletions {
    fn add_assign(&mut self, other: Self) {
        self.deleted += other.deleted;
        self.failed += other.failed;
    }
}

/// Records the images of tombstones the broker has acknowledged as pending, then deletes them.
/// An `image_ref` that is not the key ingest builds for that read is left alone: it may name an
/// object that belongs to another read or is not in this store at all.
pub fn delete_images_of(
    index: &RetentionStore,
    images: Option<&ImageStore>,
    acknowledged: &[PlannedTombstone],
) -> Result<ImageDeletions, StoreError> {
    let mut pending = Vec::new();
    for tombstone in acknowledged {
        let Some(image_ref) = &tombstone.image_ref else {
            continue;
        };
        if is_image_key_of(image_ref, &tombstone.read_id) {
            pending.push((tombstone.read_id.clone(), image_ref.clone()));
        } else {
            FOREIGN_IMAGE_REFS.inc();
            tracing::debug!(read_id = %tombstone.read_id, "image_ref is not an image store key of this read, left alone");
        }
    }
    index.add_pending_image_deletions(&pending)?;
    delete_pending(index, images, pending)
}

/// Deletes every image still pending from earlier sweeps, and updates the pending gauge.
pub fn retry_pending(
    index: &RetentionStore,
    images: Option<&ImageStore>,
) -> Result<ImageDeletions, StoreError> {
    let mut total = ImageDeletions::default();
    // Failed deletes stay in the index, so another round after a failure would try the same
    // images again. The loop therefore stops after a round with failures.
    loop {
        let pending = index.pending_image_deletions(RETRY_BATCH)?;
        if pending.is_empty() {
            break;
        }
        let round = delete_pending(index, images, pending)?;
        total += round;
        if round.failed > 0 || round.deleted == 0 {
            break;
        }
    }
    PENDING_IMAGE_DELETIONS.set(index.count_pending_image_deletions()? as i64);
    Ok(total)
}

fn delete_pending(
    index: &RetentionStore,
    images: Option<&ImageStore>,
    pending: Vec<(String, String)>,
) -> Result<ImageDeletions, StoreError> {
    if pending.is_empty() {
        return Ok(ImageDeletions::default());
    }
    let Some(images) = images else {
        tracing::warn!(
            images = pending.len(),
            "no image store configured, images of tombstoned reads stay pending"
        );
        return Ok(ImageDeletions {
            deleted: 0,
            failed: pending.len() as u64,
        });
    };
    // The worker runs on a blocking thread, as the rest of the sweep does; the store's futures
    // run on the runtime that thread belongs to.
    let results: Vec<(String, Result<(), alpr_images::ImageStoreError>)> =
        futures::executor::block_on(
            futures::stream::iter(pending)
                .map(|(read_id, image_ref)| async move {
                    let result = images.delete(&image_ref).await;
                    (read_id, result)
                })
                .buffer_unordered(MAX_CONCURRENT_DELETES)
                .collect(),
        );

    let mut deleted = Vec::with_capacity(results.len());
    let mut failed = 0u64;
    let mut first_error = None;
    for (read_id, result) in results {
        match result {
            Ok(()) => deleted.push(read_id),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    index.remove_pending_image_deletions(&deleted)?;
    IMAGES_DELETED.inc_by(deleted.len() as u64);
    IMAGE_DELETE_FAILURES.inc_by(failed);
    if let Some(error) = first_error {
        tracing::warn!(%error, failed, location = images.location(), "images not deleted, retrying at the next sweep");
    }
    Ok(ImageDeletions {
        deleted: deleted.len() as u64,
        failed,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tombstone(read_id: &str, image_ref: Option<&str>) -> PlannedTombstone {
        PlannedTombstone {
            read_id: read_id.into(),
            partition: 0,
            image_ref: image_ref.map(str::to_string),
        }
    }

    #[test]
    fn images_wait_for_a_store_then_go() {
        let folder = tempfile::tempdir().unwrap();
        let index = RetentionStore::open(&folder.path().join("index")).unwrap();
        let images = ImageStore::local(&folder.path().join("images")).unwrap();
        let (own, foreign) = ("spd/2021-10-01/r1.jpg", "spd/2021-10-01/r3.jpg");
        for key in [own, foreign] {
            futures::executor::block_on(images.put(key, bytes_of_jpeg())).unwrap();
        }
        let tombstones = [
            tombstone("r1", Some(own)),
            // The image of r2 was never stored: a missing image counts as deleted.
            tombstone("r2", Some("spd/2021-10-01/r2.jpg")),
            // r4 names r3's image, which it must not delete.
            tombstone("r4", Some(foreign)),
            tombstone("r5", None),
        ];

        let without_store = delete_images_of(&index, None, &tombstones).unwrap();
        assert_eq!(
            without_store,
            ImageDeletions {
                deleted: 0,
                failed: 2
            }
        );
        assert_eq!(index.count_pending_image_deletions().unwrap(), 2);
        assert!(images.local_path(own).unwrap().is_file());

        let retried = retry_pending(&index, Some(&images)).unwrap();
        assert_eq!(
            retried,
            ImageDeletions {
                deleted: 2,
                failed: 0
            }
        );
        assert_eq!(index.count_pending_image_deletions().unwrap(), 0);
        assert!(!images.local_path(own).unwrap().exists());
        assert!(images.local_path(foreign).unwrap().is_file());
    }

    fn bytes_of_jpeg() -> bytes::Bytes {
        bytes::Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xD9])
    }
}
