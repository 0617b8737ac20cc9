//! Images sent inline with a read: checking them, and storing them before the read is produced.

use base64::Engine;
use bytes::Bytes;

use alpr_images::{image_key, ImageMediaType, ImageStore};
use alpr_schemas::CameraRead;

use crate::metrics::{IMAGES_STORED, IMAGE_STORE_FAILURES};
use crate::submission::SubmittedImage;
use crate::validate::{RejectReason, Rejection};

/// An image that passed the checks and waits to be stored with its read.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmittedImage {
    pub media_type: ImageMediaType,
    pub bytes: Bytes,
}

/// Checks an inline image: a known media type, valid base64, at most `max_bytes` once decoded,
/// and bytes that start with the signature of the declared format.
pub fn decode_image(image: SubmittedImage, max_bytes: usize) -> Result<AdmittedImage, Rejection> {
    let invalid =
        |field: &str, message: String| Rejection::new(RejectReason::InvalidImage, field, message);
    let accepted_types = ImageMediaType::ALL.map(ImageMediaType::as_str).join(" or ");
    let media_type = ImageMediaType::parse(&image.media_type).ok_or_else(|| {
        invalid(
            "image.media_type",
            format!(
                "{:?} is not supported; send {accepted_types}",
                image.media_type
            ),
        )
    })?;

    let encoded = image.base64.trim();
    if encoded.is_empty() {
        return Err(Rejection::new(
            RejectReason::MissingField,
            "image.base64",
            "empty",
        ));
    }
    let too_large = || {
        invalid(
            "image.base64",
            format!("the image is larger than the limit of {max_bytes} bytes"),
        )
    };
    // Four base64 characters carry three bytes, so a longer text cannot fit the limit. Checking
    // this first means an oversized image is never decoded.
    if encoded.len() / 4 * 3 > max_bytes + 2 {
        return Err(too_large());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| invalid("image.base64", format!("invalid base64: {error}")))?;

    if bytes.len() > max_bytes {
        return Err(too_large());
    }
    if !media_type.matches_signature(&bytes) {
        return Err(invalid(
            "image.base64",
            format!(
                "the bytes are not a {} image: they do not start with its file signature",
                media_type.as_str()
            ),
        ));
    }
    Ok(AdmittedImage {
        media_type,
        bytes: Bytes::from(bytes),
    })
}

/// Checks an image a vendor sent with a read. Its type is the declared media type, or the type
/// recognised from the bytes' signature when the vendor declared none. It may have at most
/// `max_bytes`.
pub fn admit_vendor_image(
    image: alpr_vendors::VendorImage,
    max_bytes: usize,
) -> Result<AdmittedImage, Rejection> {
    let invalid = |message: String| Rejection::new(RejectReason::InvalidImage, "image", message);
    let accepted_types = ImageMediaType::ALL.map(ImageMediaType::as_str).join(" or ");
    let media_type = match image.media_type.as_deref() {
        Some(declared) => ImageMediaType::parse(declared).ok_or_else(|| {
            invalid(format!(
                "{declared:?} is not supported; send {accepted_types}"
            ))
        })?,
        None => ImageMediaType::ALL
            .into_iter()
            .find(|media_type| media_type.matches_signature(&image.bytes))
            .ok_or_else(|| invalid(format!("the bytes are not a {accepted_types} image")))?,
    };
    if image.bytes.len() > max_bytes {
        return Err(invalid(format!(
            "the image is larger than the limit of {max_bytes} bytes"
        )));
    }
    if !media_type.matches_signature(&image.bytes) {
        return Err(invalid(format!(
            "the bytes are not a {} image: they do not start with its file signature",
            media_type.as_str()
        )));
    }
    Ok(AdmittedImage {
        media_type,
        bytes: image.bytes,
    })
}

/// Stores `image` under the read's key and sets the read's `image_ref` to it. A failure is a
/// 503 naming the image store, so the camera sends the read again later.
pub async fn store_image(
    store: &ImageStore,
    read: &mut CameraRead,
    image: AdmittedImage,
) -> Result<(), Rejection> {
    let captured_at = alpr_schemas::from_micros(read.captured_at);
    let key = image_key(
        &read.organisation_id,
        captured_at,
        &read.read_id,
        image.media_type,
    );
    match store.put(&key, image.bytes).await {
        Ok(()) => {
            IMAGES_STORED.inc();
            read.image_ref = Some(key);
            Ok(())
        }
        Err(error) => {
            IMAGE_STORE_FAILURES.with_label_values(&["put"]).inc();
            tracing::warn!(%error, location = store.location(), "image not stored, read rejected with 503");
            Err(Rejection::new(
                RejectReason::ImageStoreFailed,
                "image",
                "the image store did not store the image; retry later",
            ))
        }
    }
}

/// Deletes the image of a read that was stored but then never produced, so that no image is left
/// without its read. Best effort: a failure is logged and counted, and the object stays.
pub async fn discard_image(store: &ImageStore, read: &CameraRead) {
    let Some(image_ref) = &read.image_ref else {
        return;
    };
    if let Err(error) = store.delete(image_ref).await {
        IMAGE_STORE_FAILURES.with_label_values(&["delete"]).inc();
        // NOTE: nothing retries this delete, so the object stays in the store without a read.
        tracing::warn!(%error, image_ref, "cannot delete the image of a read the broker did not accept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];

    fn submitted(media_type: &str, bytes: &[u8]) -> SubmittedImage {
        SubmittedImage {
            media_type: media_type.into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    fn field_of(result: Result<AdmittedImage, Rejection>) -> String {
        match result {
            Ok(_) => "accepted".into(),
            Err(rejection) => rejection.field,
        }
    }

    #[test]
    fn jpeg_is_decoded() {
        let image = decode_image(submitted("image/jpeg", JPEG), 100);
        assert_eq!(
            image.ok().map(|image| (image.media_type, image.bytes)),
            Some((ImageMediaType::Jpeg, Bytes::from_static(JPEG)))
        );
    }

    #[test]
    fn bad_images_name_their_field() {
        assert_eq!(
            field_of(decode_image(submitted("image/gif", JPEG), 100)),
            "image.media_type"
        );
        let not_base64 = SubmittedImage {
            media_type: "image/jpeg".into(),
            base64: "@@@@".into(),
        };
        assert_eq!(field_of(decode_image(not_base64, 100)), "image.base64");
        assert_eq!(
            field_of(decode_image(submitted("image/png", JPEG), 100)),
            "image.base64"
        );
    }

    #[test]
    fn image_over_limit_is_rejected() {
        let at_limit = [JPEG, &[0u8; 94]].concat();
        assert_eq!(
            field_of(decode_image(submitted("image/jpeg", &at_limit), 100)),
            "accepted"
        );
        let over_limit = [JPEG, &[0u8; 95]].concat();
        let rejection = decode_image(submitted("image/jpeg", &over_limit), 100).err();
        assert_eq!(
            rejection.map(|rejection| rejection.message),
            Some("the image is larger than the limit of 100 bytes".into())
        );
    }
}
