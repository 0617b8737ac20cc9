//! Parsing of the `images.location` setting and opening of an S3-compatible bucket.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

use crate::{ImageStoreError, S3Settings};

/// Location of the image store's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A folder on the local file system.
    Folder(PathBuf),
    /// An S3-compatible bucket, with a key prefix that may be empty.
    S3 { bucket: String, prefix: String },
}

impl StoreLocation {
    /// Parses a folder path, a `file://` URL with an absolute path, or `s3://bucket[/prefix]`.
    pub fn parse(location: &str) -> Result<Self, ImageStoreError> {
        let invalid = |problem: &str| ImageStoreError::InvalidLocation {
            location: location.to_string(),
            problem: problem.to_string(),
        };
        let trimmed = location.trim();
        if trimmed.is_empty() {
            return Err(invalid("empty; set a folder path or s3://bucket/prefix"));
        }
        if let Some(path) = trimmed.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(invalid(
                    "a file:// URL needs an absolute path, such as file:///var/lib/alpr/images",
                ));
            }
            return Ok(Self::Folder(PathBuf::from(path)));
        }
        if let Some(rest) = trimmed.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("missing bucket name after s3://"));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}; use a folder path, file:// or s3://"
            )));
        }
        Ok(Self::Folder(PathBuf::from(trimmed)))
    }
}

/// Builds the client of an S3-compatible bucket. Credentials come only from
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`: with them missing, the client would fall back
/// to asking an instance metadata service, which a deployment outside a cloud does not expect.
pub(crate) fn open_s3(
    location: &str,
    bucket: &str,
    prefix: &str,
    settings: &S3Settings,
) -> Result<Arc<dyn ObjectStore>, ImageStoreError> {
    let credential = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (Some(access_key_id), Some(secret_access_key)) = (
        credential("AWS_ACCESS_KEY_ID"),
        credential("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return Err(ImageStoreError::InvalidLocation {
            location: location.to_string(),
            problem: "an s3:// location needs the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                      environment variables"
                .into(),
        });
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(settings.region.as_deref().unwrap_or("us-east-1"))
        .with_access_key_id(access_key_id)
        .with_secret_access_key(secret_access_key)
        .with_allow_http(settings.allow_http);
    if let Some(token) = credential("AWS_SESSION_TOKEN") {
        builder = builder.with_token(token);
    }
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let bucket_store = builder.build().map_err(|source| ImageStoreError::Open {
        location: location.to_string(),
        source,
    })?;
    if prefix.is_empty() {
        Ok(Arc::new(bucket_store))
    } else {
        Ok(Arc::new(PrefixStore::new(bucket_store, prefix)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn folder_and_file_url_parse() {
        assert_eq!(
            StoreLocation::parse("data/images").unwrap(),
            StoreLocation::Folder("data/images".into())
        );
        assert_eq!(
            StoreLocation::parse("file:///var/lib/alpr/images").unwrap(),
            StoreLocation::Folder("/var/lib/alpr/images".into())
        );
    }

    #[test]
    fn s3_url_parses_bucket_and_prefix() {
        assert_eq!(
            StoreLocation::parse("s3://reads/alpr/images/").unwrap(),
            StoreLocation::S3 {
                bucket: "reads".into(),
                prefix: "alpr/images".into()
            }
        );
        assert_eq!(
            StoreLocation::parse("s3://reads").unwrap(),
            StoreLocation::S3 {
                bucket: "reads".into(),
                prefix: String::new()
            }
        );
    }

    #[test]
    fn bad_locations_are_named() {
        for (location, expected) in [
            ("", "empty"),
            ("file://relative/path", "absolute path"),
            ("s3:///prefix", "missing bucket"),
            ("gs://bucket", "unsupported scheme \"gs\""),
        ] {
            let error = StoreLocation::parse(location).unwrap_err().to_string();
            assert!(error.contains(expected), "{location}: {error}");
        }
    }

    #[test]
    fn s3_without_credentials_is_rejected() {
        // Only checks the builder path that needs no network; the variables are unset in tests.
        if std::env::var("AWS_ACCESS_KEY_ID").is_ok() {
            return;
        }
        let error = open_s3("s3://reads", "reads", "", &S3Settings::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("AWS_ACCESS_KEY_ID"), "{error}");
    }
}
