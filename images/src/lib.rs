//! The image store: rear-of-vehicle images of reads, one object per read, in a local folder or
//! an S3-compatible bucket, both through the `object_store` crate.
//!
//! Ingest stores a read's image before it produces the read, and puts the object's key into the
//! read's `image_ref`, so an accepted read never names a missing image. The retention worker
//! deletes the image after the broker has acknowledged the read's tombstone. Keys have the form
//! `<organisation>/<yyyy-mm-dd>/<read id>.<extension>` (the date is the capture date in UTC),
//! which keeps one organisation's images under one prefix and lets the retention worker check
//! that a key belongs to the read it deletes.

mod location;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};

pub use location::StoreLocation;

/// Settings of the image store, shared by ingest (which stores images) and the retention worker
/// (which deletes them); both must point at the same store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageSettings {
    /// Location of the images: a folder path (`data/images`, `/var/lib/alpr/images` or
    /// `file:///var/lib/alpr/images`), or an S3-compatible bucket and optional key prefix
    /// (`s3://bucket/prefix`).
    pub location: String,
    /// Settings used only for an `s3://` location.
    pub s3: S3Settings,
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self {
            location: "data/images".into(),
            s3: S3Settings::default(),
        }
    }
}

/// Connection settings of an S3-compatible bucket. Credentials are never read from the
/// configuration file: they come from the `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// environment variables, and both must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// Endpoint URL of an S3-compatible service such as MinIO or Ceph; unset for AWS S3.
    pub endpoint: Option<String>,
    /// Region of the bucket; `us-east-1` when unset.
    pub region: Option<String>,
    /// Allows a plain `http://` endpoint, for a test server on the same machine.
    pub allow_http: bool,
}

/// Media types of images that ingest accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageMediaType {
    Jpeg,
    Png,
}

impl ImageMediaType {
    /// Every accepted media type, for error messages.
    pub const ALL: [Self; 2] = [Self::Jpeg, Self::Png];

    /// Parses a media type such as `image/jpeg`, ignoring case and parameters.
    pub fn parse(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "image/jpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// File extension of stored objects of this type.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    /// Returns whether `bytes` start with this format's signature: `FF D8 FF` for JPEG, the
    /// 8-byte PNG signature for PNG.
    pub fn matches_signature(self, bytes: &[u8]) -> bool {
        match self {
            Self::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::Png => bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageStoreError {
    #[error("invalid setting images.location {location:?}: {problem}")]
    InvalidLocation { location: String, problem: String },
    #[error("cannot open image store at {location}: {source}")]
    Open {
        location: String,
        source: object_store::Error,
    },
    #[error("image reference {image_ref:?} is not a valid object key: {problem}")]
    InvalidKey { image_ref: String, problem: String },
    /// The store did not complete an operation. Retrying later can help.
    #[error("image store {operation} of {image_ref} failed: {source}")]
    Backend {
        operation: &'static str,
        image_ref: String,
        source: object_store::Error,
    },
    #[error("image store {operation} of {image_ref} failed: {source}")]
    Io {
        operation: &'static str,
        image_ref: String,
        source: std::io::Error,
    },
}

/// Builds the object key of a read's image: `<organisation>/<yyyy-mm-dd>/<read id>.<extension>`.
/// Characters other than ASCII letters, digits, `-`, `_` and `.` become `_` (see
/// [`key_segment`]), so an organisation id cannot add or climb path segments, and a key names
/// the same file in every store.
pub fn image_key(
    organisation_id: &str,
    captured_at: DateTime<Utc>,
    read_id: &str,
    media_type: ImageMediaType,
) -> String {
    format!(
        "{}/{}/{}",
        key_segment(organisation_id),
        captured_at.format("%Y-%m-%d"),
        image_file_name(read_id, media_type)
    )
}

fn image_file_name(read_id: &str, media_type: ImageMediaType) -> String {
    format!("{}.{}", key_segment(read_id), media_type.extension())
}

/// Turns `text` into one safe key segment: characters other than ASCII letters, digits, `-`,
/// `_` and `.` become `_`, and a segment of dots only (`.`, `..`) or an empty one becomes
/// underscores.
pub fn key_segment(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.chars().all(|c| c == '.') {
        "_".repeat(cleaned.len().max(1))
    } else {
        cleaned
    }
}

/// Returns whether `image_ref` is a key that [`image_key`] built for `read_id`. The retention
/// worker deletes only such keys, so a read whose `image_ref` a camera set to some other object
/// cannot make the worker delete another read's image.
pub fn is_image_key_of(image_ref: &str, read_id: &str) -> bool {
    let Ok(path) = ObjectPath::parse(image_ref) else {
        return false;
    };
    let parts: Vec<_> = path.parts().collect();
    if parts.len() != 3 {
        return false;
    }
    ImageMediaType::ALL
        .iter()
        .any(|&media_type| parts[2].as_ref() == image_file_name(read_id, media_type))
}

/// The image store. Cheap to clone: clones share one client.
#[derive(Clone)]
pub struct ImageStore {
    store: Arc<dyn ObjectStore>,
    /// The root folder of a local store, whose files are synced to disk after each write,
    /// because `LocalFileSystem` renames a written file into place without syncing it.
    local_root: Option<PathBuf>,
    /// The location as configured, for logs and error messages.
    location: String,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ImageStore")
            .field("location", &self.location)
            .finish()
    }
}

impl ImageStore {
    /// Opens the store that `settings.location` names, creating a local folder if it is missing.
    /// Opening contacts no server.
    pub fn open(settings: &ImageSettings) -> Result<Self, ImageStoreError> {
        match StoreLocation::parse(&settings.location)? {
            StoreLocation::Folder(folder) => Self::local(&folder),
            StoreLocation::S3 { bucket, prefix } => {
                location::open_s3(&settings.location, &bucket, &prefix, &settings.s3).map(|store| {
                    Self {
                        store,
                        local_root: None,
                        location: settings.location.clone(),
                    }
                })
            }
        }
    }

    /// Opens a store in a local folder, creating the folder if it is missing.
    pub fn local(folder: &Path) -> Result<Self, ImageStoreError> {
        let location = folder.display().to_string();
        let io_error = |source: std::io::Error| ImageStoreError::Open {
            location: location.clone(),
            source: object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(source),
            },
        };
        std::fs::create_dir_all(folder).map_err(io_error)?;
        let root = folder.canonicalize().map_err(io_error)?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|source| ImageStoreError::Open {
                location: location.clone(),
                source,
            })?
            // Removes the day and organisation folders that the last delete left empty.
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            local_root: Some(root),
            location,
        })
    }

    /// Returns the location as configured.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Returns the file that contains `image_ref` in a local store, or `None` for a bucket.
    pub fn local_path(&self, image_ref: &str) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        let path = parse_key(image_ref).ok()?;
        Some(
            path.parts()
                .fold(root.clone(), |folder, part| folder.join(part.as_ref())),
        )
    }

    /// Stores `bytes` under `image_ref`, replacing an earlier object with that key. Returns once
    /// the object is durable: synced to disk for a local folder, acknowledged by the service for
    /// a bucket.
    pub async fn put(&self, image_ref: &str, bytes: Bytes) -> Result<(), ImageStoreError> {
        let path = parse_key(image_ref)?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|source| backend("put", image_ref, source))?;
        let Some(file) = self.local_path(image_ref) else {
            return Ok(());
        };
        let synced = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(move || sync_file_and_folder(&file))
                .await
                .unwrap_or_else(|error| Err(std::io::Error::other(error))),
            // Outside a Tokio runtime there is no blocking pool to move the sync to.
            Err(_) => sync_file_and_folder(&file),
        };
        synced.map_err(|source| ImageStoreError::Io {
            operation: "sync",
            image_ref: image_ref.to_string(),
            source,
        })
    }

    /// Deletes the object under `image_ref`. An object that does not exist counts as deleted,
    /// so a delete repeated after a crash succeeds.
    pub async fn delete(&self, image_ref: &str) -> Result<(), ImageStoreError> {
        let path = parse_key(image_ref)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(backend("delete", image_ref, source)),
        }
    }

    /// Returns whether an object exists under `image_ref`.
    pub async fn exists(&self, image_ref: &str) -> Result<bool, ImageStoreError> {
        let path = parse_key(image_ref)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(backend("head", image_ref, source)),
        }
    }

    /// Returns the bytes stored under `image_ref`, or `None` when there is no such object.
    pub async fn get(&self, image_ref: &str) -> Result<Option<Bytes>, ImageStoreError> {
        let path = parse_key(image_ref)?;
        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(backend("get", image_ref, source)),
        };
        result
            .bytes()
            .await
            .map(Some)
            .map_err(|source| backend("get", image_ref, source))
    }
}

fn parse_key(image_ref: &str) -> Result<ObjectPath, ImageStoreError> {
    let path = ObjectPath::parse(image_ref).map_err(|error| ImageStoreError::InvalidKey {
        image_ref: image_ref.to_string(),
        problem: error.to_string(),
    })?;
    if path.parts().count() == 0 {
        return Err(ImageStoreError::InvalidKey {
            image_ref: image_ref.to_string(),
            problem: "empty".into(),
        });
    }
    Ok(path)
}

fn backend(
    operation: &'static str,
    image_ref: &str,
    source: object_store::Error,
) -> ImageStoreError {
    ImageStoreError::Backend {
        operation,
        image_ref: image_ref.to_string(),
        source,
    }
}

/// Syncs a file and the folder that lists it, so the file survives a power loss once `put`
/// returns.
fn sync_file_and_folder(file: &Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_all()?;
    if let Some(folder) = file.parent() {
        std::fs::File::open(folder)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn captured() -> DateTime<Utc> {
        "2021-10-01T23:59:59Z".parse().unwrap()
    }

    #[test]
    fn key_has_organisation_day_and_read_id() {
        let key = image_key("spd", captured(), "0190-ab", ImageMediaType::Jpeg);
        assert_eq!(key, "spd/2021-10-01/0190-ab.jpg");
        assert!(is_image_key_of(&key, "0190-ab"));
    }

    #[test]
    fn organisation_cannot_add_segments() {
        let key = image_key("a/../b", captured(), "r1", ImageMediaType::Png);
        assert_eq!(key, "a_.._b/2021-10-01/r1.png");
        assert_eq!(
            image_key("..", captured(), "r1", ImageMediaType::Png),
            "__/2021-10-01/r1.png"
        );
        assert!(is_image_key_of(&key, "r1"));
    }

    #[test]
    fn foreign_key_is_not_the_reads() {
        assert!(!is_image_key_of("spd/2021-10-01/r2.jpg", "r1"));
        assert!(!is_image_key_of("spd/r1.jpg", "r1"));
        assert!(!is_image_key_of("https://camera.example/r1.jpg", "r1"));
        assert!(!is_image_key_of("spd/2021-10-01/r1.gif", "r1"));
    }

    #[test]
    fn media_type_signatures() {
        assert_eq!(
            ImageMediaType::parse("Image/JPEG; q=1"),
            Some(ImageMediaType::Jpeg)
        );
        assert_eq!(ImageMediaType::parse("image/gif"), None);
        assert!(ImageMediaType::Jpeg.matches_signature(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(!ImageMediaType::Png.matches_signature(&[0xFF, 0xD8, 0xFF, 0xE0]));
    }

    #[tokio::test]
    async fn local_store_puts_finds_and_deletes() {
        let folder = tempfile::tempdir().unwrap();
        let store = ImageStore::local(&folder.path().join("images")).unwrap();
        let key = image_key("spd", captured(), "r1", ImageMediaType::Jpeg);
        store
            .put(&key, Bytes::from_static(b"\xFF\xD8\xFFimage"))
            .await
            .unwrap();
        let file = store.local_path(&key).unwrap();
        assert!(
            file.ends_with("spd/2021-10-01/r1.jpg"),
            "{}",
            file.display()
        );
        assert!(file.is_file());
        assert!(store.exists(&key).await.unwrap());
        assert_eq!(
            store.get(&key).await.unwrap().unwrap().as_ref(),
            b"\xFF\xD8\xFFimage"
        );

        store.delete(&key).await.unwrap();
        assert!(!file.exists());
        assert!(!store.exists(&key).await.unwrap());
        // Deleting again, as a resumed sweep does, succeeds.
        store.delete(&key).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), None);
    }
}
