//! Keyset pages over one or more disjoint index sets, merged in `(updated_at, id)` order.
//!
//! A cursor holds the last (or first) key served, so a resource that does not change is
//! never skipped and one that does not change is never served twice in a pass: a change
//! moves it to the newest end, which a `desc` pass has already left behind.

use std::collections::BTreeSet;
use std::iter::Peekable;
use std::ops::Bound::{self, Excluded, Included, Unbounded};

use super::model::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Asc,
    Desc,
}

/// Which way a cursor points: `after` continues the pass, `before` goes one page back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    After,
    Before,
}

/// The key range a query may see (from `updated_at` filters and cursors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub lo: Bound<Key>,
    pub hi: Bound<Key>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            lo: Unbounded,
            hi: Unbounded,
        }
    }
}

impl Window {
    pub(crate) fn narrow_lo(&mut self, b: Bound<Key>) {
        self.lo = tighter(self.lo, b, true);
    }

    pub(crate) fn narrow_hi(&mut self, b: Bound<Key>) {
        self.hi = tighter(self.hi, b, false);
    }

    /// True when no key fits (also guards `BTreeSet::range`, which panics on such ranges).
    pub(crate) fn is_empty(&self) -> bool {
        match (self.lo, self.hi) {
            (Included(a), Included(b)) => a > b,
            (Included(a) | Excluded(a), Included(b) | Excluded(b)) => a >= b,
            _ => false,
        }
    }

    /// Only keys strictly beyond `k` when walking in `ascending` order.
    fn beyond(&self, k: Key, ascending: bool) -> Window {
        let mut w = self.clone();
        if ascending {
            w.narrow_lo(Excluded(k))
        } else {
            w.narrow_hi(Excluded(k))
        }
        w
    }
}

fn tighter(a: Bound<Key>, b: Bound<Key>, lower: bool) -> Bound<Key> {
    let (ka, kb) = match (a, b) {
        (Unbounded, x) | (x, Unbounded) => return x,
        (Included(ka) | Excluded(ka), Included(kb) | Excluded(kb)) => (ka, kb),
    };
    if ka == kb {
        return if matches!(a, Excluded(_)) { a } else { b };
    }
    if (ka > kb) == lower { a } else { b }
}

/// One page: keys in the requested order plus the cursors to continue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Page {
    pub keys: Vec<Key>,
    /// The key an `after` cursor should hold (only while more items remain).
    pub after: Option<Key>,
    /// The key a `before` cursor should hold (only when items precede this page).
    pub before: Option<Key>,
}

/// A page of up to `limit` visible keys from the disjoint `sets` within `window`.
pub(crate) fn page(
    sets: &[&BTreeSet<Key>],
    window: &Window,
    order: Order,
    cursor: Option<(Direction, Key)>,
    limit: usize,
    visible: impl Fn(&Key) -> bool,
) -> Page {
    let ascending = order == Order::Asc;
    let backwards = matches!(cursor, Some((Direction::Before, _)));
    let travel_ascending = ascending != backwards;
    let start = match cursor {
        Some((_, k)) => window.beyond(k, travel_ascending),
        None => window.clone(),
    };
    let mut walk = merged(sets, &start, travel_ascending).filter(|k| visible(k));
    let mut keys: Vec<Key> = walk.by_ref().take(limit.max(1)).collect();
    let more = walk.next().is_some();
    if backwards {
        keys.reverse();
    }
    let (Some(first), Some(last)) = (keys.first().copied(), keys.last().copied()) else {
        return Page::default();
    };
    let exists = |k: Key, asc: bool| merged(sets, &window.beyond(k, asc), asc).any(|k| visible(&k));
    let after = if backwards {
        exists(last, ascending)
    } else {
        more
    };
    let before = if backwards {
        more
    } else {
        cursor.is_some() && exists(first, !ascending)
    };
    Page {
        keys,
        after: after.then_some(last),
        before: before.then_some(first),
    }
}

/// The keys of all `sets` within `window`, merged in one direction.
fn merged<'a>(sets: &[&'a BTreeSet<Key>], window: &Window, ascending: bool) -> Merge<'a> {
    let heads = if window.is_empty() {
        Vec::new()
    } else {
        sets.iter()
            .map(|s| {
                let range = s.range((window.lo, window.hi));
                let it: Box<dyn Iterator<Item = &'a Key> + 'a> = if ascending {
                    Box::new(range)
                } else {
                    Box::new(range.rev())
                };
                it.peekable()
            })
            .collect()
    };
    Merge {
        heads,
        ascending,
        last: None,
    }
}

struct Merge<'a> {
    heads: Vec<Peekable<Box<dyn Iterator<Item = &'a Key> + 'a>>>,
    ascending: bool,
    last: Option<Key>,
}

impl Iterator for Merge<'_> {
    type Item = Key;

    fn next(&mut self) -> Option<Key> {
        loop {
            let mut best: Option<(usize, Key)> = None;
            for (i, head) in self.heads.iter_mut().enumerate() {
                if let Some(&&k) = head.peek() {
                    let better =
                        best.is_none_or(|(_, b)| if self.ascending { k < b } else { k > b });
                    if better {
                        best = Some((i, k));
                    }
                }
            }
            let (i, k) = best?;
            self.heads[i].next();
            // Sets are meant to be disjoint; a key seen twice is served once.
            if self.last != Some(k) {
                self.last = Some(k);
                return Some(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> (BTreeSet<Key>, BTreeSet<Key>) {
        let a = (0..50).map(|i| (i / 3, i as u128 * 2)).collect();
        let b = (0..30).map(|i| (i / 2, i as u128 * 2 + 1)).collect();
        (a, b)
    }

    fn all_pages(sets: &[&BTreeSet<Key>], order: Order, limit: usize) -> Vec<Key> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let p = page(sets, &Window::default(), order, cursor, limit, |_| true);
            out.extend(p.keys.iter().copied());
            match p.after {
                Some(k) => cursor = Some((Direction::After, k)),
                None => return out,
            }
        }
    }

    #[test]
    fn pages_cover_everything_once_in_order() {
        let (a, b) = sets();
        for order in [Order::Asc, Order::Desc] {
            for limit in [1, 7, 80, 1000] {
                let keys = all_pages(&[&a, &b], order, limit);
                let mut expected: Vec<Key> = a.iter().chain(b.iter()).copied().collect();
                expected.sort();
                if order == Order::Desc {
                    expected.reverse();
                }
                assert_eq!(keys, expected, "{order:?} limit {limit}");
            }
        }
    }

    #[test]
    fn before_goes_back_one_page() {
        let (a, b) = sets();
        let p1 = page(&[&a, &b], &Window::default(), Order::Desc, None, 10, |_| {
            true
        });
        assert_eq!(p1.before, None);
        let p2 = page(
            &[&a, &b],
            &Window::default(),
            Order::Desc,
            p1.after.map(|k| (Direction::After, k)),
            10,
            |_| true,
        );
        let back = p2.before.map(|k| (Direction::Before, k));
        let p1_again = page(&[&a, &b], &Window::default(), Order::Desc, back, 10, |_| {
            true
        });
        assert_eq!(p1_again.keys, p1.keys);
        assert_eq!(p1_again.before, None);
        assert_eq!(p1_again.after, p1.after);
    }

    #[test]
    fn empty_and_inverted_windows_do_not_panic() {
        let (a, _) = sets();
        let mut w = Window::default();
        w.narrow_lo(Excluded((5, 0)));
        w.narrow_hi(Excluded((5, 0)));
        assert!(w.is_empty());
        assert_eq!(
            page(&[&a], &w, Order::Asc, None, 10, |_| true),
            Page::default()
        );
        let mut w = Window::default();
        w.narrow_lo(Included((9, 0)));
        w.narrow_hi(Included((2, 0)));
        assert_eq!(
            page(
                &[&a],
                &w,
                Order::Desc,
                Some((Direction::After, (4, 4))),
                10,
                |_| true
            )
            .keys,
            vec![]
        );
    }

    #[test]
    fn changes_during_a_pass_never_skip_unchanged_items() {
        let (mut a, _) = sets();
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut bump = 100;
        loop {
            let p = page(&[&a], &Window::default(), Order::Desc, cursor, 4, |_| true);
            seen.extend(p.keys.iter().map(|k| k.1));
            // Between pages, an item not yet served changes: it jumps to the newest end.
            if let Some(&k) = a.iter().next() {
                a.remove(&k);
                a.insert((bump, k.1));
                bump += 1;
            }
            match p.after {
                Some(k) => cursor = Some((Direction::After, k)),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "served twice");
        let changed: BTreeSet<u128> = a.iter().filter(|k| k.0 >= 100).map(|k| k.1).collect();
        for k in &a {
            assert!(
                seen.contains(&k.1) || changed.contains(&k.1),
                "unchanged {k:?} skipped"
            );
        }
    }
}
