//! Byte layouts of the keys and values that the store writes once per read. They are kept small
//! because the index has an entry for every read of the reads topic.
//!
//! A read id is stored as a tag byte followed by its bytes:
//! - tag 1 and the 16 bytes of the UUID, when the read id is the canonical text of a UUID
//!   (lower-case, hyphenated, 36 characters), which is the form of every read id ingest assigns;
//! - tag 0 and the read id exactly as the record key had it, for any other key.
//!
//! Only the canonical text is packed, so unpacking always returns the exact key of the record,
//! which a tombstone has to repeat for compaction to pair it with the read. The tag keeps the two
//! forms apart: a 17-byte raw key can never be read as a packed UUID.
//!
//! An [`IndexedRead`] is stored as, in order: captured-at (zigzag varint), partition (zigzag
//! varint), organisation id (varint length, then UTF-8 bytes), and image reference (varint of
//! its length plus one, 0 for none, then UTF-8 bytes).

use integer_encoding::VarInt;
use uuid::Uuid;

use super::IndexedRead;

const RAW_TAG: u8 = 0;
const UUID_TAG: u8 = 1;

/// Returns the stored form of a read id, which is the key of the `reads` family and the tail of
/// an `expiry` key.
pub(super) fn read_key(read_id: &[u8]) -> Vec<u8> {
    if let Some(uuid) = canonical_uuid(read_id) {
        let mut key = Vec::with_capacity(17);
        key.push(UUID_TAG);
        key.extend_from_slice(uuid.as_bytes());
        return key;
    }
    let mut key = Vec::with_capacity(1 + read_id.len());
    key.push(RAW_TAG);
    key.extend_from_slice(read_id);
    key
}

/// Returns the read id stored in `key`, byte for byte as the record key had it.
pub(super) fn read_id_of_key(key: &[u8]) -> Result<Vec<u8>, String> {
    match key.split_first() {
        Some((&UUID_TAG, bytes)) => {
            let uuid = Uuid::from_slice(bytes)
                .map_err(|_| format!("packed read id has {} bytes, expected 16", bytes.len()))?;
            Ok(uuid.hyphenated().to_string().into_bytes())
        }
        Some((&RAW_TAG, bytes)) => Ok(bytes.to_vec()),
        Some((tag, _)) => Err(format!("read key has unknown tag {tag}")),
        None => Err("read key is empty".into()),
    }
}

/// Returns the UUID whose canonical text is exactly `read_id`. Other spellings of a UUID
/// (upper-case, braces, no hyphens) return `None`, because packing them would lose the spelling.
fn canonical_uuid(read_id: &[u8]) -> Option<Uuid> {
    if read_id.len() != uuid::fmt::Hyphenated::LENGTH {
        return None;
    }
    let uuid = Uuid::try_parse_ascii(read_id).ok()?;
    let mut canonical = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    let canonical = uuid.hyphenated().encode_lower(&mut canonical);
    (canonical.as_bytes() == read_id).then_some(uuid)
}

/// Encodes a read's index entry, the value of the `reads` family.
pub(super) fn encode_indexed_read(read: &IndexedRead) -> Vec<u8> {
    let image_ref_len = read.image_ref.as_ref().map_or(0, String::len);
    let mut value = Vec::with_capacity(16 + read.organisation_id.len() + image_ref_len);
    push_varint(&mut value, read.captured_at);
    push_varint(&mut value, i64::from(read.partition));
    push_varint(&mut value, read.organisation_id.len() as u64);
    value.extend_from_slice(read.organisation_id.as_bytes());
    match &read.image_ref {
        None => push_varint(&mut value, 0_u64),
        Some(image_ref) => {
            push_varint(&mut value, image_ref.len() as u64 + 1);
            value.extend_from_slice(image_ref.as_bytes());
        }
    }
    value
}

/// Decodes a value written by [`encode_indexed_read`]; the error names the part that is broken.
pub(super) fn decode_indexed_read(value: &[u8]) -> Result<IndexedRead, String> {
    let mut rest = value;
    let captured_at: i64 = take_varint(&mut rest, "captured-at")?;
    let partition: i64 = take_varint(&mut rest, "partition")?;
    let partition = i32::try_from(partition)
        .map_err(|_| format!("partition {partition} does not fit in 32 bits"))?;
    let organisation_len: u64 = take_varint(&mut rest, "organisation id length")?;
    let organisation_id = take_text(&mut rest, organisation_len, "organisation id")?;
    let image_ref = match take_varint::<u64>(&mut rest, "image reference length")? {
        0 => None,
        len_plus_one => Some(take_text(&mut rest, len_plus_one - 1, "image reference")?),
    };
    if !rest.is_empty() {
        return Err(format!("{} bytes follow the image reference", rest.len()));
    }
    Ok(IndexedRead {
        captured_at,
        partition,
        organisation_id,
        image_ref,
    })
}

fn push_varint<V: VarInt>(buffer: &mut Vec<u8>, value: V) {
    let mut bytes = [0_u8; 10];
    let len = value.encode_var(&mut bytes);
    buffer.extend_from_slice(&bytes[..len]);
}

fn take_varint<V: VarInt>(rest: &mut &[u8], field: &str) -> Result<V, String> {
    let (value, len) = V::decode_var(rest).ok_or_else(|| format!("{field} is truncated"))?;
    *rest = &rest[len..];
    Ok(value)
}

fn take_text(rest: &mut &[u8], len: u64, field: &str) -> Result<String, String> {
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= rest.len())
        .ok_or_else(|| format!("{field} of {len} bytes runs past the value"))?;
    let (text, tail) = rest.split_at(len);
    *rest = tail;
    String::from_utf8(text.to_vec()).map_err(|_| format!("{field} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn canonical_uuid_read_id_packs_into_17_bytes() {
        let read_id = "0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47";
        let key = read_key(read_id.as_bytes());
        assert_eq!(key.len(), 17);
        assert_eq!(key[0], UUID_TAG);
        assert_eq!(read_id_of_key(&key).unwrap(), read_id.as_bytes());
    }

    #[test]
    fn other_read_ids_keep_their_exact_bytes() {
        let read_ids: [&[u8]; 6] = [
            b"0193A5F2-7C41-7D2E-9B0A-3F5E8C1D2A47",
            b"0193a5f27c417d2e9b0a3f5e8c1d2a47",
            b"{0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47}",
            b"read-42",
            b"",
            // Sixteen bytes, as long as a packed UUID, must still come back as they were.
            b"0123456789abcdef",
        ];
        for read_id in read_ids {
            let key = read_key(read_id);
            assert_eq!(key[0], RAW_TAG, "{read_id:?}");
            assert_eq!(read_id_of_key(&key).unwrap(), read_id, "{read_id:?}");
        }
    }

    #[test]
    fn broken_read_keys_are_errors() {
        assert!(read_id_of_key(b"").is_err());
        assert!(read_id_of_key(&[UUID_TAG, 1, 2, 3]).is_err());
        assert!(read_id_of_key(&[7, 1, 2, 3]).is_err());
    }

    #[test]
    fn indexed_read_round_trips() {
        let reads = [
            IndexedRead {
                captured_at: 1_793_836_800_123_456,
                partition: 5,
                organisation_id: "spd".into(),
                image_ref: Some("spd/2026-12-05/0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47.jpg".into()),
            },
            IndexedRead {
                captured_at: -1,
                partition: 0,
                organisation_id: String::new(),
                image_ref: Some(String::new()),
            },
            IndexedRead {
                captured_at: i64::MIN,
                partition: i32::MAX,
                organisation_id: "hoa-7".into(),
                image_ref: None,
            },
        ];
        for read in reads {
            let value = encode_indexed_read(&read);
            assert_eq!(decode_indexed_read(&value).unwrap(), read);
        }
    }

    #[test]
    fn truncated_indexed_read_is_an_error() {
        let value = encode_indexed_read(&IndexedRead {
            captured_at: 1_793_836_800_123_456,
            partition: 2,
            organisation_id: "mall-14".into(),
            image_ref: Some("mall-14/2026-12-05/x.jpg".into()),
        });
        for len in 0..value.len() {
            assert!(decode_indexed_read(&value[..len]).is_err(), "{len} bytes");
        }
        let mut longer = value.clone();
        longer.push(0);
        assert!(decode_indexed_read(&longer).is_err());
    }
}
