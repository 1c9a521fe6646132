//! `Loc<T>`: a manifest value that remembers where it was written.
//!
//! Semantic checks (a bad GUID, an unknown tier) run after parsing, yet must point at the exact
//! token. serde-saphyr's `Spanned<T>` records that position; this wrapper keeps it and also makes
//! the field look like a plain `T` to serde serialization and to the JSON Schema, so the schema
//! users see in their editor is not polluted with span bookkeeping.

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::diagnostics::Pos;

thread_local! {
    /// Lines before the document being parsed. Each document of a multi-document file is
    /// parsed on its own (padding it with the earlier documents' lines made loading quadratic),
    /// so positions the parser reports are shifted back to lines of the whole file here.
    static LINE_OFFSET: Cell<u32> = const { Cell::new(0) };
}

/// Runs `parse` with every [`Loc`] it deserializes moved down by `lines`.
pub(crate) fn with_line_offset<R>(lines: u32, parse: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            LINE_OFFSET.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(LINE_OFFSET.with(|o| o.replace(lines)));
    parse()
}

#[derive(Debug, Clone)]
pub struct Loc<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Loc<T> {
    /// A value that was not written by the user (a default), located nowhere.
    pub(crate) fn synthetic(value: T) -> Self {
        Self {
            value,
            pos: Pos::default(),
        }
    }
}

impl<T> Deref for Loc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Loc<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Default> Default for Loc<T> {
    fn default() -> Self {
        Self::synthetic(T::default())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let at = spanned.referenced;
        let len = u32::try_from(at.span().len()).unwrap_or(0);
        let line = u32::try_from(at.line()).unwrap_or(0);
        let line = match line {
            0 => 0,
            l => l.saturating_add(LINE_OFFSET.with(Cell::get)),
        };
        Ok(Self {
            value: spanned.value,
            pos: Pos::new(line, u32::try_from(at.column()).unwrap_or(0), len),
        })
    }
}

impl<T: Serialize> Serialize for Loc<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Loc<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
