//! Opaque cursors: base64url of a small versioned text. Decoding never trusts the text:
//! anything that is not exactly a cursor this simulator issued is a 400, not a panic.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::model::Key;
use super::paging::{Direction, Order};

/// A `resource_statuses` cursor: the key to continue from, the order and the way it points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub direction: Direction,
    pub order: Order,
    pub key: Key,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        let d = match self.direction {
            Direction::After => 'a',
            Direction::Before => 'b',
        };
        let o = match self.order {
            Order::Asc => 'a',
            Order::Desc => 'd',
        };
        URL_SAFE_NO_PAD.encode(format!("rs1:{d}:{o}:{}:{:032x}", self.key.0, self.key.1))
    }

    pub(crate) fn decode(text: &str) -> Result<Cursor, String> {
        let bad = || format!("invalid cursor {:?}", truncate(text));
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split(':');
        let (Some("rs1"), Some(d), Some(o), Some(ns), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let direction = match d {
            "a" => Direction::After,
            "b" => Direction::Before,
            _ => return Err(bad()),
        };
        let order = match o {
            "a" => Order::Asc,
            "d" => Order::Desc,
            _ => return Err(bad()),
        };
        let ns: i64 = ns.parse().map_err(|_| bad())?;
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let id = u128::from_str_radix(id, 16).map_err(|_| bad())?;
        Ok(Cursor {
            direction,
            order,
            key: (ns, id),
        })
    }
}

/// Encodes any small state as an opaque, self-contained cursor (Account Management paging).
pub(crate) fn encode_opaque(prefix: &str, fields: &[&str]) -> String {
    let mut text = prefix.to_string();
    for f in fields {
        text.push('\u{1f}');
        text.push_str(f);
    }
    URL_SAFE_NO_PAD.encode(text)
}

/// The fields of a cursor made by [`encode_opaque`] with the same prefix.
pub(crate) fn decode_opaque(prefix: &str, text: &str) -> Option<Vec<String>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('\u{1f}');
    (parts.next()? == prefix).then(|| parts.map(str::to_string).collect())
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Cursor {
            direction: Direction::Before,
            order: Order::Desc,
            key: (1_700_000_000_123_456_789, 42),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        let f = encode_opaque("t1", &["parent", "abc", "5"]);
        assert_eq!(
            decode_opaque("t1", &f),
            Some(vec!["parent".into(), "abc".into(), "5".into()])
        );
        assert_eq!(decode_opaque("t2", &f), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let weird = [
            "",
            "%%%",
            "not base64!",
            "cnMxOmE6ZDox",
            &URL_SAFE_NO_PAD.encode("rs1:a:d:12:zz"),
            &URL_SAFE_NO_PAD.encode("rs1:x:d:12:00000000000000000000000000000001"),
            &URL_SAFE_NO_PAD
                .encode("rs1:a:d:99999999999999999999999:00000000000000000000000000000001"),
            &URL_SAFE_NO_PAD.encode("rs1:a:d:1:00000000000000000000000000000001:extra"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00]),
            &URL_SAFE_NO_PAD.encode("rs1:a:d:1:+0000000000000000000000000000001"),
            "ü",
        ];
        for w in weird {
            assert!(Cursor::decode(w).is_err(), "{w:?}");
            assert_eq!(decode_opaque("t1", w), None);
        }
    }
}
