//! Step names to positions, without a second copy of the names.
//!
//! The table holds only 32-bit positions; a name is compared with the name
//! of the step at a candidate position, which the caller supplies. A
//! million steps cost about 10 MB here, a quarter of a map keyed by the
//! names themselves.

use std::hash::BuildHasher as _;

use hashbrown::HashTable;

use crate::step_name::StepName;

/// A name the index holds a position of, as it reads and compares it.
pub(crate) trait Name {
    /// The name's text, to hash.
    fn text(&self) -> &str;
    /// Whether the name is `name`.
    fn is(&self, name: &str) -> bool {
        self.text() == name
    }
}

impl Name for str {
    fn text(&self) -> &str {
        self
    }
}

/// A step's name, compared in whole words ([`StepName::is`]).
impl Name for StepName {
    fn text(&self) -> &str {
        self
    }

    #[inline]
    fn is(&self, name: &str) -> bool {
        StepName::is(self, name)
    }
}

/// The positions of a list of named things, by name; the first of two
/// things with the same name keeps it.
#[derive(Clone, Default)]
pub(crate) struct NameIndex {
    table: HashTable<u32>,
    /// Seeded per process, so crafted names cannot force collisions.
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex")
            .field("names", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl NameIndex {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// The position of `name`, where `name_of(i)` is the name at `i`.
    pub(crate) fn get<'a, N: Name + ?Sized + 'a>(
        &self,
        name: &str,
        name_of: impl Fn(usize) -> &'a N,
    ) -> Option<usize> {
        self.table
            .find(self.hash(name), |&i| name_of(i as usize).is(name))
            .map(|&i| i as usize)
    }

    /// Records that `name` is at `position`; when `name` is already known,
    /// keeps the earlier position and returns it.
    pub(crate) fn insert<'a, N: Name + ?Sized + 'a>(
        &mut self,
        name: &str,
        position: u32,
        name_of: impl Fn(usize) -> &'a N,
    ) -> Result<(), usize> {
        let hash = self.hash(name);
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |&i| name_of(i as usize).is(name),
            |&i| hasher.hash_one(name_of(i as usize).text()),
        ) {
            hashbrown::hash_table::Entry::Occupied(entry) => Err(*entry.get() as usize),
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(position);
                Ok(())
            }
        }
    }

    /// Makes room for `additional` more names without growing, where
    /// `name_of(i)` is the name at `i`.
    pub(crate) fn reserve<'a, N: Name + ?Sized + 'a>(
        &mut self,
        additional: usize,
        name_of: impl Fn(usize) -> &'a N,
    ) {
        let hasher = &self.hasher;
        self.table
            .reserve(additional, |&i| hasher.hash_one(name_of(i as usize).text()));
    }

    /// How many names it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_and_keeps_the_first_of_a_repeated_one() {
        let names: Vec<String> = (0..1000).map(|i| format!("step{i}")).collect();
        let mut all = names.clone();
        all.push(String::from("step7"));
        let name_of = |i: usize| all[i].as_str();
        let mut index = NameIndex::default();
        for (i, name) in all.iter().enumerate() {
            let outcome = index.insert(name, i as u32, name_of);
            assert_eq!(outcome.is_err(), i == 1000, "{name}");
        }
        assert_eq!(index.insert("step7", 1000, name_of), Err(7));
        assert_eq!(index.len(), 1000);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(name, name_of), Some(i));
        }
        assert_eq!(index.get("step1000", name_of), None);
        assert_eq!(index.get("", name_of), None);
    }

    #[test]
    fn reserving_room_keeps_every_name_findable() {
        let names: Vec<String> = (0..100).map(|i| format!("step{i}")).collect();
        let name_of = |i: usize| names[i].as_str();
        let mut index = NameIndex::default();
        for (i, name) in names.iter().enumerate().take(10) {
            assert_eq!(index.insert(name, i as u32, name_of), Ok(()));
        }
        // Moves every entry to a larger table, hashing each name again.
        index.reserve(10_000, name_of);
        for (i, name) in names.iter().enumerate().skip(10) {
            assert_eq!(index.insert(name, i as u32, name_of), Ok(()));
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(name, name_of), Some(i), "{name}");
        }
    }
}
