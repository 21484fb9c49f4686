//! A step's name as a workflow and its reports keep it: up to 23 bytes
//! inline, so most names cost no allocation when a step is added and no
//! reference count when a run copies them into its report; longer names
//! shared.
//!
//! `smol_str` did this until 2026-12-04. It copies a short name into its
//! buffer with `memcpy`, a few bytes at a time, then reads the buffer back
//! in wider words, and a load that spans several recent smaller stores
//! waits for them to reach memory (a store-forwarding stall, twice per
//! name): about 8 % of building and running a 1,000-step chain. Here a
//! name is read in a few whole words that span it, overlapping where it
//! is shorter, and written and copied as three words: building and
//! running that chain went from 272–278 to 250–256 ns a step.
//!
//! Reading those words back as a `str` is the crate's one `unsafe` code
//! (`Inline::as_str`). A safe version, a byte array and its length read
//! back with `str::from_utf8`, checked the bytes on every read and was
//! copied field by field, which brought the stalls back: 7–10 % slower
//! than `smol_str`, not faster.

use std::fmt;
use std::num::NonZeroU64;
use std::ops::Deref;
use std::sync::Arc;

/// The most bytes a name holds inline.
const INLINE: usize = 23;

/// A step's name (see the [module](self)); derefs to `str`.
#[derive(Clone)]
pub(crate) struct StepName(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Inline),
    Shared(Arc<str>),
}

/// Up to 23 bytes of a name in order, zeros after them, and its length
/// plus one in the last byte: a length byte that is never zero, so a
/// shared name (two words) fits in the same 24 bytes. Copied, it is
/// three words, as it was written.
#[derive(Clone, Copy)]
#[repr(C)]
struct Inline {
    /// Bytes 0..16, each word in memory order ([`stored`]).
    head: [u64; 2],
    /// Bytes 16..23, then the length plus one.
    tail: NonZeroU64,
}

/// A little-endian word as it is stored, so its bytes lie in memory in
/// order on every platform (nothing to do on a little-endian one).
fn stored(word: u64) -> u64 {
    u64::from_ne_bytes(word.to_le_bytes())
}

/// The little-endian value of a stored word: the inverse of [`stored`].
fn loaded(word: u64) -> u64 {
    u64::from_le_bytes(word.to_ne_bytes())
}

impl StepName {
    /// A copy of `name`.
    #[inline]
    pub(crate) fn new(name: &str) -> Self {
        match Inline::of(name.as_bytes()) {
            Some(inline) => Self(Repr::Inline(inline)),
            None => Self(Repr::Shared(Arc::from(name))),
        }
    }
}

impl Inline {
    /// `bytes` inline, if they fit (at most 23).
    #[inline]
    fn of(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > INLINE {
            return None;
        }
        let [first, second, third] = words(bytes);
        #[allow(clippy::cast_possible_truncation)] // at most 23
        let tail = third | (u64::from(bytes.len() as u8 + 1) << 56);
        // The length byte is at least 1, so the tail is never zero.
        Some(Self {
            head: [stored(first), stored(second)],
            tail: NonZeroU64::new(stored(tail))?,
        })
    }
}

/// The little-endian words of `bytes` (at most 23), zero past their end:
/// each read as whole words that span it, overlapping where it is shorter
/// than they are (as `memcpy` copies a few bytes), none byte by byte.
fn words(bytes: &[u8]) -> [u64; 3] {
    fn first<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
        bytes.first_chunk::<N>().copied()
    }
    fn last<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
        bytes.last_chunk::<N>().copied()
    }
    /// The bytes of `word` after its first `skip`, moved to its start.
    fn after(word: u64, skip: usize) -> u64 {
        u32::try_from(skip * 8)
            .ok()
            .and_then(|bits| word.checked_shr(bits))
            .unwrap_or(0)
    }
    let len = bytes.len();
    let word = |chunk: Option<[u8; 8]>| chunk.map_or(0, u64::from_le_bytes);
    match len {
        0 => [0; 3],
        1 => [u64::from(bytes[0]), 0, 0],
        // Two short words from each end, the second shifted onto where
        // its bytes belong; where they overlap, they hold the same bytes.
        2..=3 => {
            let low = first::<2>(bytes).map_or(0, u16::from_le_bytes);
            let high = last::<2>(bytes).map_or(0, u16::from_le_bytes);
            [u64::from(low) | u64::from(high) << ((len - 2) * 8), 0, 0]
        }
        4..=7 => {
            let low = first::<4>(bytes).map_or(0, u32::from_le_bytes);
            let high = last::<4>(bytes).map_or(0, u32::from_le_bytes);
            [u64::from(low) | u64::from(high) << ((len - 4) * 8), 0, 0]
        }
        8..=16 => [word(first(bytes)), after(word(last(bytes)), 16 - len), 0],
        _ => [
            word(first(bytes)),
            word(bytes.get(8..).and_then(first)),
            after(word(last(bytes)), 24 - len),
        ],
    }
}

impl Inline {
    fn len(&self) -> usize {
        // The length byte is set by `StepName::new`, from at most 23.
        ((loaded(self.tail.get()) >> 56) as usize)
            .saturating_sub(1)
            .min(INLINE)
    }

    // The one place this crate reads memory by hand (`unsafe_code` is
    // denied everywhere else): checking that the bytes are UTF-8, as a
    // safe conversion would, cost more than the copy saved.
    #[allow(unsafe_code)]
    fn as_str(&self) -> &str {
        // SAFETY: `Inline` is `repr(C)`: three 8-byte words, 24 bytes, no
        // padding, all initialized; `len()` is at most 23, so the slice
        // lies within `self`, which it borrows.
        let bytes =
            unsafe { std::slice::from_raw_parts((&raw const *self).cast::<u8>(), self.len()) };
        // SAFETY: `StepName::new` stored each word in memory order
        // (`stored`), so the first `len()` bytes are the bytes of the
        // `&str` it was given, in order: valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

impl StepName {
    /// Whether this is `name`: for an inline name, its length byte and
    /// three words against `name`'s, read as [`StepName::new`] reads
    /// them, with no call to `memcmp` (which a `str` comparison makes for
    /// names of the same length: most names of a generated workflow).
    #[inline]
    pub(crate) fn is(&self, name: &str) -> bool {
        match &self.0 {
            Repr::Inline(inline) => inline.is(name.as_bytes()),
            Repr::Shared(shared) => **shared == *name,
        }
    }
}

impl Inline {
    /// Whether these are the bytes of `bytes`.
    #[inline]
    fn is(&self, bytes: &[u8]) -> bool {
        // Lengths differ for most names that are not this one: checked
        // first, before reading the words.
        bytes.len() == self.len()
            && Inline::of(bytes)
                .is_some_and(|other| other.head == self.head && other.tail == self.tail)
    }
}

impl Deref for StepName {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match &self.0 {
            Repr::Inline(inline) => inline.as_str(),
            Repr::Shared(name) => name,
        }
    }
}

impl From<StepName> for Arc<str> {
    fn from(name: StepName) -> Self {
        match name.0 {
            Repr::Inline(inline) => Arc::from(inline.as_str()),
            Repr::Shared(name) => name,
        }
    }
}

impl fmt::Debug for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_reads_back_as_the_name_it_was_made_from() {
        // Every length up to past the inline limit, in ASCII and in
        // several-byte characters, with no zero byte and with zero bytes.
        let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=40 {
            let ascii = &alphabet[..len.min(alphabet.len())];
            let zeros = "\0".repeat(len);
            let mixed: String = "é\0ü✓x".chars().cycle().take(len).collect();
            for name in [ascii, zeros.as_str(), mixed.as_str()] {
                let made = StepName::new(name);
                assert_eq!(&*made, name, "length {}", name.len());
                assert_eq!(&*made.clone(), name);
                assert_eq!(&*Arc::<str>::from(made.clone()), name);
                assert_eq!(format!("{made}"), name);
                assert_eq!(format!("{made:?}"), format!("{name:?}"));
                let inline = matches!(made.0, Repr::Inline(_));
                assert_eq!(inline, name.len() <= INLINE, "{name:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_name_reads_back_as_itself_and_its_clones_and_shared_form(
            name in "\\PC{0,30}",
        ) {
            let made = StepName::new(&name);
            proptest::prop_assert_eq!(&*made, name.as_str());
            proptest::prop_assert_eq!(&*made.clone(), name.as_str());
            proptest::prop_assert_eq!(&*Arc::<str>::from(made), name.as_str());
        }

        #[test]
        fn a_name_is_another_only_when_their_text_is_the_same(
            name in "\\PC{0,30}",
            other in "\\PC{0,30}",
        ) {
            let made = StepName::new(&name);
            proptest::prop_assert!(made.is(&name));
            proptest::prop_assert_eq!(made.is(&other), name == other);
        }
    }

    #[test]
    fn a_name_is_exactly_the_name_it_was_made_from() {
        let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        let names: Vec<String> = (0..=30)
            .flat_map(|len| {
                let ascii = alphabet[..len].to_owned();
                let zeros = "\0".repeat(len);
                let mixed: String = "é\0ü✓x".chars().cycle().take(len).collect();
                [ascii, zeros, mixed]
            })
            .collect();
        for name in &names {
            let made = StepName::new(name);
            for other in &names {
                assert_eq!(made.is(other), name == other, "{name:?} is {other:?}");
            }
            // One byte changed anywhere, or one byte more or fewer.
            let bytes = name.as_bytes();
            for at in 0..bytes.len() {
                let mut changed = bytes.to_vec();
                changed[at] ^= 0x01;
                if let Ok(changed) = std::str::from_utf8(&changed) {
                    assert!(!made.is(changed), "{name:?} is {changed:?}");
                }
            }
            assert!(!made.is(&format!("{name}a")));
            assert!(!made.is(&format!("a{name}")));
        }
    }

    #[test]
    fn a_name_takes_three_words_inline_or_shared() {
        assert_eq!(size_of::<StepName>(), 24);
    }
}
