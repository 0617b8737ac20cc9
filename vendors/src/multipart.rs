//! `multipart/form-data` bodies (Plate Recognizer's `json` and `upload` fields, Hikvision's XML
//! and pictures), split into their parts with `multer`.

use bytes::Bytes;

use crate::VendorError;

/// Most parts read from one body. Vendors send two or three; the bound stops a body of many
/// tiny parts from costing more than its size suggests.
const MAX_PARTS: usize = 16;

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// The form field name from `Content-Disposition`.
    pub name: Option<String>,
    pub file_name: Option<String>,
    /// The part's media type, lower-cased, without parameters.
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// Returns whether a media type is `multipart/…`.
pub(crate) fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|content_type| {
        content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
    })
}

/// Splits a multipart body into its parts. The stream multer reads from yields the whole body,
/// already in memory, on its first poll, so `block_on` does not wait on any I/O.
pub(crate) fn parts(body: &[u8], content_type: &str) -> Result<Vec<Part>, VendorError> {
    crate::check_body_size(body)?;
    let boundary = multer::parse_boundary(content_type).map_err(|error| {
        VendorError::new("content-type", format!("no multipart boundary: {error}"))
    })?;
    let body = Bytes::copy_from_slice(body);
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    futures::executor::block_on(async move {
        let mut parts = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|error| VendorError::new("body", format!("invalid multipart body: {error}")))?
        {
            if parts.len() == MAX_PARTS {
                return Err(VendorError::new(
                    "body",
                    format!("more than {MAX_PARTS} multipart parts"),
                ));
            }
            let name = field.name().map(str::to_string);
            let file_name = field.file_name().map(str::to_string);
            let content_type = field
                .content_type()
                .map(|mime| mime.essence_str().to_ascii_lowercase());
            let bytes = field.bytes().await.map_err(|error| {
                VendorError::new(
                    name.clone().unwrap_or_else(|| "body".to_string()),
                    format!("invalid multipart part: {error}"),
                )
            })?;
            parts.push(Part {
                name,
                file_name,
                content_type,
                bytes,
            });
        }
        Ok(parts)
    })
}

/// Returns the media type of a part that is a picture: its own type when it declares an image
/// type, else one guessed from the file name's extension.
pub(crate) fn image_media_type(part: &Part) -> Option<String> {
    if let Some(content_type) = part.content_type.as_deref() {
        if content_type.starts_with("image/") {
            return Some(content_type.to_string());
        }
    }
    let extension = part
        .file_name
        .as_deref()?
        .rsplit_once('.')?
        .1
        .to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" => Some("image/jpeg".to_string()),
        "png" => Some("image/png".to_string()),
        _ => None,
    }
}
