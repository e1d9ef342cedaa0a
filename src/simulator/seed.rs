//! Deterministic choices: every random-looking value of the simulated fleet is a pure
//! function of `(seed, salt, parts...)` built on splitmix64.
//!
//! Not `rand`'s `StdRng`: its stream may change between crate versions, and a fleet must
//! stay the same for a seed forever (tests and bug reports quote seeds). Nothing here
//! keeps state, so values can be computed in any order, which is what lets the fleet
//! evolve lazily and in batches with the same result.

/// What a hash is for. Each purpose gets its own salt so choices are uncorrelated.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Salt {
    TenantUuid = 1,
    TenantNumeric,
    TenantShape,
    TenantStamp,
    OwnerWeight,
    Owner,
    ResourceUuid,
    AgentUuid,
    Name,
    Category,
    Schedule,
    RunDuration,
    RunJitter,
    RunOutcome,
    Trouble,
    SecurityPhase,
    SecurityDuration,
    Created,
    Touch,
    Presentation,
    ResourceType,
    Attributes,
    PlatformAlert,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of `(seed, salt, parts...)`.
pub(crate) fn hash(seed: u64, salt: Salt, parts: &[u64]) -> u64 {
    let start = splitmix64(splitmix64(seed) ^ salt as u64);
    parts.iter().fold(start, |acc, &p| splitmix64(acc ^ p))
}

/// A number in `0..n` (n > 0) from a hash, without modulo bias worth caring about.
///
/// The input is mixed again first, so callers may derive several choices from one hash
/// by shifting it (`h >> 32`) without the shifted value's empty high bits skewing them.
pub(crate) fn below(h: u64, n: u64) -> u64 {
    ((u128::from(splitmix64(h)) * u128::from(n.max(1))) >> 64) as u64
}

/// True with probability `per_mille / 1000`.
pub(crate) fn chance(h: u64, per_mille: u64) -> bool {
    below(h, 1000) < per_mille
}

/// A version-4-shaped UUID from two hashes.
pub(crate) fn uuid(h1: u64, h2: u64) -> u128 {
    let raw = (u128::from(h1) << 64) | u128::from(h2);
    // version 4 in bits 76..80, RFC 4122 variant in bits 62..64
    (raw & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
}

/// The canonical lowercase 8-4-4-4-12 form; its string order equals the number's order.
pub(crate) fn uuid_string(u: u128) -> String {
    let hex = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses an 8-4-4-4-12 UUID (any case); None for anything else.
pub(crate) fn parse_uuid(s: &str) -> Option<u128> {
    let bytes = s.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let digit = (b as char).to_digit(16)?;
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_across_versions() {
        // Pinned values: if these change, every seed's fleet changes.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(hash(1, Salt::Name, &[2, 3]), hash(1, Salt::Name, &[2, 3]));
        assert_ne!(hash(1, Salt::Name, &[2, 3]), hash(1, Salt::Name, &[3, 2]));
        assert_ne!(hash(1, Salt::Name, &[2]), hash(1, Salt::Owner, &[2]));
    }

    #[test]
    fn uuids_round_trip_and_sort_like_strings() {
        let a = uuid(
            hash(7, Salt::ResourceUuid, &[1]),
            hash(7, Salt::AgentUuid, &[1]),
        );
        let b = uuid(
            hash(7, Salt::ResourceUuid, &[2]),
            hash(7, Salt::AgentUuid, &[2]),
        );
        let (sa, sb) = (uuid_string(a), uuid_string(b));
        assert_eq!(&sa[14..15], "4");
        assert_eq!(parse_uuid(&sa), Some(a));
        assert_eq!(parse_uuid(&sa.to_uppercase()), Some(a));
        assert_eq!(a < b, sa < sb);
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(parse_uuid("0000000g-0000-4000-8000-000000000000"), None);
        assert_eq!(parse_uuid("00000000x0000-4000-8000-000000000000"), None);
    }

    #[test]
    fn below_stays_in_range_and_spreads_shifted_hashes() {
        for i in 0..1000 {
            assert!(below(hash(3, Salt::Owner, &[i]), 7) < 7);
        }
        assert_eq!(below(u64::MAX, 1), 0);
        let hits = (0..1000)
            .filter(|&i| chance(hash(3, Salt::Owner, &[i]) >> 40, 500))
            .count();
        assert!((400..600).contains(&hits), "{hits}");
        let top = (0..1000)
            .map(|i| below(hash(3, Salt::Owner, &[i]) >> 24, 1_000_000))
            .max();
        assert!(top > Some(900_000));
    }
}
