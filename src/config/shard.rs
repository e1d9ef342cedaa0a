//! `shard = "i/n"`: which tenants this replica watches, by a hash that never changes
//! between versions or machines (so replicas agree without talking to each other).

use std::fmt;

use super::types::Shard;

/// What a shard must look like; the tail of every shard error.
pub(crate) const SHARD_EXPECTED: &str = "expected \"i/n\": n replicas (n >= 1), this one number i (0 <= i < n), like \"0/1\" or \"2/3\"";

/// FNV-1a, 64 bit: stable across Rust versions, platforms and runs (unlike `std`'s hasher).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

impl Shard {
    /// The whole fleet: `0/1`.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether this replica watches `tenant_id`: `fnv1a64(id) % count == index`.
    pub fn owns(&self, tenant_id: &str) -> bool {
        self.count != 0
            && fnv1a64(tenant_id.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Parse `"i/n"`; the error says what is expected and does not repeat the input.
pub(crate) fn parse_shard(s: &str) -> Result<Shard, String> {
    let (i, n) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| SHARD_EXPECTED.to_string())?;
    let number = |t: &str| -> Option<u32> {
        let t = t.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (Some(index), Some(count)) = (number(i), number(n)) else {
        return Err(SHARD_EXPECTED.to_string());
    };
    if count == 0 {
        return Err(format!("n is 0: {SHARD_EXPECTED}"));
    }
    if index >= count {
        return Err(format!("i must be less than n: {SHARD_EXPECTED}"));
    }
    Ok(Shard { index, count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn parses_shards() {
        assert_eq!(parse_shard("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(parse_shard("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(parse_shard(" 1 / 4 "), Ok(Shard { index: 1, count: 4 }));
        for bad in [
            "", "1", "0/0", "3/3", "4/3", "-1/3", "a/b", "1/2/3", "0.5/1",
        ] {
            let err = parse_shard(bad).expect_err(bad);
            assert!(err.contains("expected \"i/n\""), "{bad}: {err}");
        }
    }

    #[test]
    fn one_shard_owns_everything() {
        for id in ["", "1", "3b6f0a2e-1c1d-4c53-9d4e-2f4f9c1b7a10", "tenant-ü"] {
            assert!(Shard::ALL.owns(id));
        }
    }

    proptest! {
        #[test]
        fn shards_split_ids_into_disjoint_covering_sets(
            ids in prop::collection::vec("[0-9a-f-]{1,36}", 1..200),
            count in 1u32..12,
        ) {
            for id in &ids {
                let owners = (0..count).filter(|&index| Shard { index, count }.owns(id)).count();
                prop_assert_eq!(owners, 1, "{} owned by {} of {} shards", id, owners, count);
            }
        }
    }

    #[test]
    fn a_fleet_is_spread_over_shards() {
        let count = 4;
        let mut sizes = [0usize; 4];
        for n in 0..4000 {
            let id = format!("tenant-{n}");
            let owner = (0..count)
                .find(|&index| Shard { index, count }.owns(&id))
                .unwrap();
            sizes[owner as usize] += 1;
        }
        // Roughly even: no shard gets less than half or more than double its share.
        assert!(sizes.iter().all(|&s| (500..2000).contains(&s)), "{sizes:?}");
    }
}
