//! Kafka's default key partitioner, so that any Kafka tool can compute which partition contains a
//! plate's reads: murmur2 of the key bytes with Kafka's seed, sign bit cleared, modulo the
//! partition count. The algorithm follows `org.apache.kafka.common.utils.Utils.murmur2`.

const SEED: u32 = 0x9747_b28c;
const MULTIPLIER: u32 = 0x5bd1_e995;
const SHIFT: u32 = 24;

/// Returns Kafka's murmur2 hash of `data` as the signed 32-bit value the Java client computes.
pub fn murmur2(data: &[u8]) -> i32 {
    let length = data.len();
    let mut hash = SEED ^ (length as u32);

    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(MULTIPLIER);
        k ^= k >> SHIFT;
        k = k.wrapping_mul(MULTIPLIER);
        hash = hash.wrapping_mul(MULTIPLIER);
        hash ^= k;
    }

    let tail = chunks.remainder();
    if tail.len() >= 3 {
        hash ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        hash ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        hash ^= u32::from(tail[0]);
        hash = hash.wrapping_mul(MULTIPLIER);
    }

    hash ^= hash >> 13;
    hash = hash.wrapping_mul(MULTIPLIER);
    hash ^= hash >> 15;
    hash as i32
}

/// Returns the partition Kafka's default partitioner picks for `key` among `partition_count`.
///
/// # Panics
/// Panics when `partition_count` is not positive: a topic always has at least one partition, so
/// a caller passing zero has read the metadata wrong.
pub fn partition_for_key(key: &[u8], partition_count: i32) -> i32 {
    assert!(partition_count > 0, "a topic has at least one partition");
    (murmur2(key) & 0x7fff_ffff) % partition_count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from the Apache Kafka client's own unit tests of `Utils.murmur2`.
    #[test]
    fn murmur2_matches_kafka_java_client() {
        let cases: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()), expected, "murmur2({input:?})");
        }
    }

    #[test]
    fn partition_is_stable_and_in_range() {
        for count in 1..20 {
            let partition = partition_for_key(b"7ABC123", count);
            assert!((0..count).contains(&partition));
            assert_eq!(partition, partition_for_key(b"7ABC123", count));
        }
    }
}
