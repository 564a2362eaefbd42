//! Links between IR items: a reference to its entity, an owner or index to its fields.
//!
//! A [`Link`] holds the position of what it names, set once when the schema is linked (by
//! validation, or when `schema.json` is read back), so a back-end follows it with
//! [`Schema::target`](crate::model::Schema::target) or [`Entity::linked`](crate::model::Entity::linked)
//! and can neither mis-resolve a name nor fall back quietly when it does not resolve. It is
//! serialized as the name alone, so `schema.json` reads as before.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A link to an item of type `T` (an [`Entity`](crate::model::Entity) of the schema, or a
/// [`Field`](crate::model::Field) of the entity) by its spec name and its position.
pub struct Link<T> {
    name: String,
    index: usize,
    to: PhantomData<fn() -> T>,
}

/// Position of a link not yet linked; following one is a bug in whoever made the schema.
const UNLINKED: usize = usize::MAX;

impl<T> Link<T> {
    /// A link to the item with spec name `name`, to be resolved by [`Link::resolve`].
    pub(crate) fn to(name: impl Into<String>) -> Link<T> {
        Link {
            name: name.into(),
            index: UNLINKED,
            to: PhantomData,
        }
    }

    /// A link to `items[index]`, whose spec name is `name`.
    pub(crate) fn at(name: impl Into<String>, index: usize) -> Link<T> {
        Link {
            name: name.into(),
            index,
            to: PhantomData,
        }
    }

    /// The spec name of the item linked to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The item's position in its list (`Schema::entities`, `Entity::fields`).
    pub fn index(&self) -> usize {
        debug_assert_ne!(
            self.index, UNLINKED,
            "link to `{}` followed unlinked",
            self.name
        );
        self.index
    }

    /// Finds the item among `items` by the spec name `name_of` gives; `false` when none has it.
    pub(crate) fn resolve(&mut self, items: &[T], name_of: impl Fn(&T) -> &str) -> bool {
        match items.iter().position(|item| name_of(item) == self.name) {
            Some(index) => {
                self.index = index;
                true
            }
            None => false,
        }
    }
}

impl<T> Clone for Link<T> {
    fn clone(&self) -> Self {
        Link {
            name: self.name.clone(),
            index: self.index,
            to: PhantomData,
        }
    }
}

/// Two links are equal when they name the same item: positions are per schema, and the old
/// and the new schema of a migration number their entities differently.
impl<T> PartialEq for Link<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<T> Eq for Link<T> {}

impl<T> PartialEq<&str> for Link<T> {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

impl<T> fmt::Debug for Link<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({:?} @ {})", self.name, self.index)
    }
}

impl<T> fmt::Display for Link<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl<T> Serialize for Link<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl<'de, T> Deserialize<'de> for Link<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Link::to)
    }
}
