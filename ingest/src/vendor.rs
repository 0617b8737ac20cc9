//! Reads in camera vendors' own push formats, turned into [`CameraRead`] records.
//!
//! The adapters of `alpr_vendors` translate a vendor body into alpr's own submission form, and
//! [`validate_submission`] then builds the read exactly as for alpr's JSON, so both paths share
//! one set of rules. A body is admitted or rejected as a whole: its reads have stable read ids,
//! so a camera that resends a rejected or unacknowledged body never duplicates a read.

use chrono::{DateTime, Utc};

use alpr_schemas::CameraRead;
use alpr_vendors::{ParseContext, VendorAdapter, VendorError};

use crate::image::{admit_vendor_image, AdmittedImage};
use crate::validate::{validate_submission, RejectReason, Rejection, ValidationLimits};

/// Header of a raw-topic record that names the adapter of its payload, such as `openalpr`.
/// Without it the payload is alpr's own JSON.
pub const VENDOR_HEADER: &str = "alpr.vendor";
/// Header of a raw-topic record that gives its payload's media type, needed for multipart
/// payloads with their boundary.
pub const CONTENT_TYPE_HEADER: &str = "content-type";

/// Returns the `source` recorded on reads of an adapter, such as `vendor-openalpr`.
pub fn vendor_source(adapter: &dyn VendorAdapter) -> String {
    format!("vendor-{}", adapter.name())
}

/// A validated read from a vendor body, with its image checked but not yet stored.
#[derive(Debug, Clone)]
pub struct VendorRead {
    pub read: CameraRead,
    pub image: Option<AdmittedImage>,
    /// Whether the vendor marked the body as a resend of an earlier event.
    pub retransmission: bool,
}

/// Treatment of the images in a vendor body.
#[derive(Debug, Clone, Copy)]
pub enum VendorImages {
    /// Checked against this size limit in bytes and returned with the read for storing.
    Admit { max_bytes: usize },
    /// Dropped, because ingest has no image store. The reads are admitted without them.
    Drop,
}

/// Parses a vendor body and validates each read it describes.
///
/// `organisation_of` returns the organisation that owns a camera id, or the rejection to send
/// when the sender may not send for it. An empty result is a body that was understood and
/// describes no finished read (a heartbeat, a single frame, a car still in view).
#[allow(clippy::too_many_arguments)]
pub fn admit_vendor_body(
    adapter: &dyn VendorAdapter,
    body: &[u8],
    content_type: Option<&str>,
    context: &ParseContext,
    organisation_of: &dyn Fn(&str) -> Result<String, Rejection>,
    now: DateTime<Utc>,
    limits: ValidationLimits,
    images: VendorImages,
) -> Result<Vec<VendorRead>, Rejection> {
    let events = adapter
        .parse(body, content_type, context)
        .map_err(vendor_rejection)?;
    let source = vendor_source(adapter);
    let mut reads = Vec::with_capacity(events.len());
    for event in events {
        let camera_id = event.submission.camera_id.clone().unwrap_or_default();
        let organisation = organisation_of(camera_id.trim())?;
        let image = match (event.image, images) {
            (Some(image), VendorImages::Admit { max_bytes }) => {
                Some(admit_vendor_image(image, max_bytes)?)
            }
            _ => None,
        };
        let read = validate_submission(event.submission, &organisation, &source, now, limits)?;
        reads.push(VendorRead {
            read,
            image,
            retransmission: event.retransmission,
        });
    }
    Ok(reads)
}

/// Converts an adapter's parse error into a `malformed` rejection naming the vendor's field.
pub fn vendor_rejection(error: VendorError) -> Rejection {
    Rejection::new(RejectReason::Malformed, error.field, error.message)
}

/// Read ids of vendor reads this ingest instance published recently. A resend of a body whose
/// reads the broker already acknowledged gets a 202 with those ids, and they are not produced again. That
/// matters for Hikvision cameras, which resend every stored event after an outage.
///
/// NOTE: the ids live in memory, so a resend that reaches another instance, or arrives after a
/// restart or after `capacity` newer reads, is produced again under the same read id. The
/// compacted reads topic then keeps one copy, but consumers reading before compaction see two.
#[derive(Debug)]
pub struct RecentReadIds {
    capacity: usize,
    ids: std::sync::Mutex<RecentIds>,
}

#[derive(Debug, Default)]
struct RecentIds {
    order: std::collections::VecDeque<String>,
    members: std::collections::HashSet<String>,
}

impl RecentReadIds {
    /// Default number of ids kept, about 5 MB of memory (an estimate: 36-byte UUIDs held twice,
    /// plus the tables' overhead).
    pub const DEFAULT_CAPACITY: usize = 50_000;

    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ids: std::sync::Mutex::new(RecentIds::default()),
        }
    }

    /// Returns whether `read_id` was recorded and not yet evicted.
    pub fn contains(&self, read_id: &str) -> bool {
        self.lock().members.contains(read_id)
    }

    /// Records an acknowledged read id, evicting the oldest when full.
    pub fn insert(&self, read_id: &str) {
        let mut ids = self.lock();
        if !ids.members.insert(read_id.to_string()) {
            return;
        }
        ids.order.push_back(read_id.to_string());
        while ids.order.len() > self.capacity {
            if let Some(oldest) = ids.order.pop_front() {
                ids.members.remove(&oldest);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecentIds> {
        // A panic while holding the lock leaves the sets consistent (each step is a single
        // insert or remove), so a poisoned lock is still safe to use.
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_evict_the_oldest() {
        let recent = RecentReadIds::new(2);
        recent.insert("a");
        recent.insert("b");
        recent.insert("a");
        assert!(recent.contains("a"));
        recent.insert("c");
        assert!(!recent.contains("a"), "a is the oldest and is evicted");
        assert!(recent.contains("b"));
        assert!(recent.contains("c"));
    }
}
