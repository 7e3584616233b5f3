//! [`Holdings`]: the locks one owner holds at one level, with their modes.

use crate::LockMode;
use crate::hash::FastMap;
use crate::slab::Key;

/// Up to this many holdings stay in a plain list (scanning a few entries beats hashing).
const FEW: usize = 16;

/// The locks an owner holds at one level: nothing, one lock inline (the usual case: no
/// allocation, no pointer to follow), a short list while there are at most [`FEW`], a hash map
/// beyond (O(1) per lock for an owner holding a whole level of a million locks). 16 bytes, so
/// that an owner's levels share a few cache lines.
///
/// Invariants: each key at most once; `Empty` exactly when nothing is held (a list or map that
/// empties goes back to `Empty`); `Many` from the moment it grew past [`FEW`] until it is
/// emptied. Iteration order is unspecified: callers sort where order could show.
#[derive(Debug, Default)]
pub(crate) enum Holdings {
    #[default]
    Empty,
    One(Key, LockMode),
    #[expect(
        clippy::box_collection,
        reason = "boxed to keep `Holdings` at 16 bytes; the extra allocation is made only past one lock"
    )]
    Few(Box<Vec<(Key, LockMode)>>),
    Many(Box<FastMap<Key, LockMode>>),
}

impl Holdings {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Holdings::Empty)
    }

    /// Takes out the only holding, if there is exactly one (else changes nothing).
    #[inline]
    pub(crate) fn take_single(&mut self) -> Option<(Key, LockMode)> {
        match *self {
            Holdings::One(key, mode) => {
                *self = Holdings::Empty;
                Some((key, mode))
            }
            Holdings::Few(ref list) if list.len() == 1 => {
                let single = list.first().copied();
                *self = Holdings::Empty;
                single
            }
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: Key) -> Option<LockMode> {
        match self {
            Holdings::Empty => None,
            Holdings::One(k, mode) => (*k == key).then_some(*mode),
            Holdings::Few(list) => list.iter().find(|(k, _)| *k == key).map(|&(_, mode)| mode),
            Holdings::Many(map) => map.get(&key).copied(),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut LockMode> {
        match self {
            Holdings::Empty => None,
            Holdings::One(k, mode) => (*k == key).then_some(mode),
            Holdings::Few(list) => list.iter_mut().find(|(k, _)| *k == key).map(|(_, mode)| mode),
            Holdings::Many(map) => map.get_mut(&key),
        }
    }

    /// Records `key` held in `mode` (replacing an earlier mode).
    #[inline]
    pub(crate) fn insert(&mut self, key: Key, mode: LockMode) {
        match self {
            Holdings::Empty => *self = Holdings::One(key, mode),
            _ => self.insert_more(key, mode),
        }
    }

    /// [`insert`](Holdings::insert) into holdings that are not empty.
    fn insert_more(&mut self, key: Key, mode: LockMode) {
        match self {
            Holdings::Empty => *self = Holdings::One(key, mode),
            Holdings::One(k, held) if *k == key => *held = mode,
            Holdings::One(k, held) => *self = Holdings::Few(Box::new(vec![(*k, *held), (key, mode)])),
            Holdings::Few(list) => {
                if let Some(held) = list.iter_mut().find(|(k, _)| *k == key) {
                    held.1 = mode;
                } else if list.len() < FEW {
                    list.push((key, mode));
                } else {
                    let mut map: FastMap<Key, LockMode> = list.drain(..).collect();
                    map.insert(key, mode);
                    *self = Holdings::Many(Box::new(map));
                }
            }
            Holdings::Many(map) => {
                map.insert(key, mode);
            }
        }
    }

    #[inline]
    pub(crate) fn remove(&mut self, key: Key) -> Option<LockMode> {
        let (mode, emptied) = match self {
            Holdings::Empty => return None,
            Holdings::One(k, mode) => {
                if *k != key {
                    return None;
                }
                (*mode, true)
            }
            Holdings::Few(list) => {
                let at = list.iter().position(|(k, _)| *k == key)?;
                (list.swap_remove(at).1, list.is_empty())
            }
            Holdings::Many(map) => (map.remove(&key)?, map.is_empty()),
        };
        if emptied {
            *self = Holdings::Empty;
        }
        Some(mode)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, LockMode)> + '_ {
        let (one, few, many) = match self {
            Holdings::Empty => (None, None, None),
            Holdings::One(key, mode) => (Some((*key, *mode)), None, None),
            Holdings::Few(list) => (None, Some(list.iter().copied()), None),
            Holdings::Many(map) => (None, None, Some(map.iter().map(|(&key, &mode)| (key, mode)))),
        };
        one.into_iter().chain(few.into_iter().flatten()).chain(many.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Slab;

    #[test]
    fn grows_from_one_into_a_list_and_a_map_and_empties_back() {
        assert_eq!(std::mem::size_of::<Holdings>(), 16);
        let mut slab = Slab::default();
        let keys: Vec<Key> = (0..3 * FEW).map(|i| slab.insert(i)).collect();
        let mut holdings = Holdings::default();
        holdings.insert(keys[0], LockMode::Shared);
        holdings.insert(keys[0], LockMode::Exclusive);
        assert!(matches!(holdings, Holdings::One(_, LockMode::Exclusive)));
        for (i, &key) in keys.iter().enumerate() {
            holdings.insert(key, if i % 2 == 0 { LockMode::Shared } else { LockMode::Exclusive });
            let expected = match i {
                0 => matches!(holdings, Holdings::One(..)),
                _ if i < FEW => matches!(holdings, Holdings::Few(_)),
                _ => matches!(holdings, Holdings::Many(_)),
            };
            assert!(expected, "after {} inserts: {holdings:?}", i + 1);
        }
        assert_eq!(holdings.get(keys[3]), Some(LockMode::Exclusive));
        assert_eq!(holdings.iter().count(), keys.len());
        assert!(holdings.take_single().is_none());
        for &key in &keys {
            assert!(holdings.remove(key).is_some());
        }
        assert!(holdings.is_empty() && holdings.remove(keys[0]).is_none());

        // A list that shrinks to one gives it up through `take_single`, and empties.
        holdings.insert(keys[0], LockMode::Shared);
        holdings.insert(keys[1], LockMode::Shared);
        assert_eq!(holdings.remove(keys[1]), Some(LockMode::Shared));
        assert_eq!(holdings.remove(keys[2]), None);
        assert_eq!(holdings.take_single(), Some((keys[0], LockMode::Shared)));
        assert!(holdings.is_empty() && holdings.take_single().is_none());
        holdings.insert(keys[4], LockMode::Exclusive);
        assert_eq!(*holdings.get_mut(keys[4]).unwrap(), LockMode::Exclusive);
        assert_eq!(holdings.iter().collect::<Vec<_>>(), vec![(keys[4], LockMode::Exclusive)]);
    }
}
