//! [`Holdings`]: the locks one owner holds at one level, with their modes.

use crate::Mode;
use crate::hash::FastMap;
use crate::slab::Key;

/// Up to this many holdings stay in a plain list (scanning a few entries beats hashing).
const FEW: usize = 16;

/// The locks an owner holds at one level: a short list while there are at most [`FEW`], a hash
/// map beyond (O(1) per lock for an owner holding a whole level of a million locks).
///
/// Invariants: each key at most once; `Many` from the moment it grew past [`FEW`] until it is
/// emptied (then back to `Few`). Iteration order is unspecified: callers sort where
/// order could show.
#[derive(Debug)]
pub(crate) enum Holdings {
    Few(Vec<(Key, Mode)>),
    Many(FastMap<Key, Mode>),
}

impl Default for Holdings {
    fn default() -> Self {
        Holdings::Few(Vec::new())
    }
}

impl Holdings {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Holdings::Few(list) => list.len(),
            Holdings::Many(map) => map.len(),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes out the only holding, if there is exactly one (else changes nothing).
    #[inline]
    pub(crate) fn take_single(&mut self) -> Option<(Key, Mode)> {
        match self {
            Holdings::Few(list) if list.len() == 1 => list.pop(),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: Key) -> Option<Mode> {
        match self {
            Holdings::Few(list) => list.iter().find(|(k, _)| *k == key).map(|&(_, mode)| mode),
            Holdings::Many(map) => map.get(&key).copied(),
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Mode> {
        match self {
            Holdings::Few(list) => list.iter_mut().find(|(k, _)| *k == key).map(|(_, mode)| mode),
            Holdings::Many(map) => map.get_mut(&key),
        }
    }

    /// Records `key` held in `mode` (replacing an earlier mode).
    #[inline]
    pub(crate) fn insert(&mut self, key: Key, mode: Mode) {
        match self {
            Holdings::Few(list) => {
                if let Some(held) = list.iter_mut().find(|(k, _)| *k == key) {
                    held.1 = mode;
                } else if list.len() < FEW {
                    list.push((key, mode));
                } else {
                    let mut map: FastMap<Key, Mode> = list.drain(..).collect();
                    map.insert(key, mode);
                    *self = Holdings::Many(map);
                }
            }
            Holdings::Many(map) => {
                map.insert(key, mode);
            }
        }
    }

    #[inline]
    pub(crate) fn remove(&mut self, key: Key) -> Option<Mode> {
        match self {
            Holdings::Few(list) => {
                let at = list.iter().position(|(k, _)| *k == key)?;
                Some(list.swap_remove(at).1)
            }
            Holdings::Many(map) => {
                let mode = map.remove(&key);
                if map.is_empty() {
                    *self = Holdings::default();
                }
                mode
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, Mode)> + '_ {
        let (few, many) = match self {
            Holdings::Few(list) => (Some(list.iter().copied()), None),
            Holdings::Many(map) => (None, Some(map.iter().map(|(&key, &mode)| (key, mode)))),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Slab;

    #[test]
    fn grows_into_a_map_and_shrinks_back_when_emptied() {
        let mut slab = Slab::default();
        let keys: Vec<Key> = (0..3 * FEW).map(|i| slab.insert(i)).collect();
        let mut holdings = Holdings::default();
        for (i, &key) in keys.iter().enumerate() {
            holdings.insert(key, if i % 2 == 0 { Mode::Shared } else { Mode::Exclusive });
        }
        assert!(matches!(holdings, Holdings::Many(_)));
        assert_eq!(holdings.len(), keys.len());
        assert_eq!(holdings.get(keys[3]), Some(Mode::Exclusive));
        assert_eq!(holdings.iter().count(), keys.len());
        for &key in &keys {
            assert!(holdings.remove(key).is_some());
        }
        assert!(matches!(holdings, Holdings::Few(_)) && holdings.is_empty());
        holdings.insert(keys[0], Mode::Shared);
        assert_eq!(holdings.remove(keys[1]), None);
        assert_eq!(holdings.take_single(), Some((keys[0], Mode::Shared)));
        assert!(holdings.is_empty() && holdings.take_single().is_none());
    }
}
