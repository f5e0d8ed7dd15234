//! The serde plumbing of [`super`]: a `Deserializer` wrapper that renames
//! struct keys to their field's spelling, bounds the nesting, rejects unknown
//! fields when asked to, and records the path of the first error.
//!
//! Every nested value goes through the wrapper again (`Wrap` → `WrapVisitor`
//! → `WrapMap`/`WrapSeq`/`WrapEnum` → `WrapSeed` → `Wrap`), so the rules hold
//! at every level, inside `serde_json::Value` fields and ignored fields too.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::{match_field, Error, Options, UnknownFields};

/// One step of the path to a value.
enum Seg {
    Key(Cow<'static, str>),
    Index(usize),
}

/// What one decoding shares across the wrappers.
pub(super) struct State {
    opts: Options,
    depth: Cell<usize>,
    path: RefCell<Vec<Seg>>,
    err_path: RefCell<Option<String>>,
    /// Set while a map key is read, so that its text lands in `captured`.
    capture: Cell<bool>,
    captured: RefCell<Option<String>>,
}

impl State {
    pub(super) fn new(opts: &Options) -> Self {
        State {
            opts: *opts,
            depth: Cell::new(0),
            path: RefCell::new(Vec::new()),
            err_path: RefCell::new(None),
            capture: Cell::new(false),
            captured: RefCell::new(None),
        }
    }

    /// The error to return, with the path recorded when it arose.
    pub(super) fn error(&self, message: String) -> Error {
        Error {
            path: self.err_path.borrow_mut().take().unwrap_or_default(),
            message,
        }
    }

    /// Remembers the current path as the error's, unless an inner level did.
    fn note_error(&self) {
        let mut e = self.err_path.borrow_mut();
        if e.is_none() {
            let mut out = String::new();
            for seg in self.path.borrow().iter() {
                match seg {
                    Seg::Key(k) if out.is_empty() => out.push_str(k),
                    Seg::Key(k) => {
                        out.push('.');
                        out.push_str(k);
                    }
                    Seg::Index(i) => {
                        out.push('[');
                        out.push_str(&i.to_string());
                        out.push(']');
                    }
                }
            }
            *e = Some(out);
        }
    }

    /// Runs `f` one level deeper, or fails past the limit.
    fn nested<T, E: de::Error>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let d = self.depth.get() + 1;
        if d > self.opts.max_depth {
            self.note_error();
            return Err(E::custom(format_args!(
                "nesting deeper than {} levels",
                self.opts.max_depth
            )));
        }
        self.depth.set(d);
        let r = f();
        self.depth.set(d - 1);
        r
    }

    /// Runs `f` with `seg` on the path.
    fn at<T, E>(&self, seg: Seg, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.path.borrow_mut().push(seg);
        let r = f();
        if r.is_err() {
            self.note_error();
        }
        self.path.borrow_mut().pop();
        r
    }

    fn record_key(&self, s: &str) {
        if self.capture.replace(false) {
            *self.captured.borrow_mut() = Some(s.to_owned());
        }
    }
}

/// A deserializer whose nested values follow the rules of [`State`].
pub(super) struct Wrap<'s, D> {
    de: D,
    st: &'s State,
}

impl<'s, D> Wrap<'s, D> {
    pub(super) fn new(de: D, st: &'s State) -> Self {
        Wrap { de, st }
    }

    fn visitor<V>(&self, v: V, fields: Option<&'static [&'static str]>) -> WrapVisitor<'s, V> {
        WrapVisitor {
            v,
            st: self.st,
            fields,
        }
    }
}

macro_rules! forward {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let v = self.visitor(visitor, None);
            self.de.$name(v)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Wrap<'_, D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_unit_struct(name, v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_newtype_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, Some(fields));
        self.de.deserialize_struct(name, fields, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_enum(name, variants, v)
    }

    /// Ignored values are walked (not skipped by the parser) so that the
    /// depth limit holds inside them too.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_any(v)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A visitor that wraps what it is handed before passing it on.
struct WrapVisitor<'s, V> {
    v: V,
    st: &'s State,
    fields: Option<&'static [&'static str]>,
}

macro_rules! pass {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, x: $ty) -> Result<Self::Value, E> {
            self.v.$name(x)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for WrapVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.v.expecting(f)
    }

    pass!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>
    );

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.st.record_key(s);
        self.v.visit_str(s)
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        self.st.record_key(s);
        self.v.visit_borrowed_str(s)
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        self.st.record_key(&s);
        self.v.visit_string(s)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.v.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.v.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.v.visit_some(Wrap::new(d, self.st))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.v.visit_newtype_struct(Wrap::new(d, self.st))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let st = self.st;
        st.nested(|| self.v.visit_seq(WrapSeq { seq, st, index: 0 }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let st = self.st;
        let fields = self.fields;
        st.nested(|| {
            self.v.visit_map(WrapMap {
                map,
                st,
                fields,
                key: None,
            })
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.v.visit_enum(WrapEnum { data, st: self.st })
    }
}

/// Passes the wrapper on to a seed.
struct WrapSeed<'s, S> {
    seed: S,
    st: &'s State,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(Wrap::new(d, self.st))
    }
}

struct WrapSeq<'s, A> {
    seq: A,
    st: &'s State,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WrapSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let (seq, st) = (&mut self.seq, self.st);
        let r = st.at(Seg::Index(self.index), || {
            seq.next_element_seed(WrapSeed { seed, st })
        });
        self.index += 1;
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// A struct key: one of the fields' spellings, or a key that matches none.
enum Key {
    Known(&'static str),
    Unknown(String),
}

/// Reads a struct key and matches it against the struct's fields.
struct FieldKey(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldKey {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldKey {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(match match_field(s, self.0) {
            Some(f) => Key::Known(f),
            None => Key::Unknown(s.to_owned()),
        })
    }
}

struct WrapMap<'s, A> {
    map: A,
    st: &'s State,
    /// The struct's fields; `None` for a map, whose keys are data.
    fields: Option<&'static [&'static str]>,
    /// The last key read, for the path.
    key: Option<Cow<'static, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WrapMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let st = self.st;
        let Some(fields) = self.fields else {
            st.capture.set(true);
            let r = self.map.next_key_seed(WrapSeed { seed, st });
            st.capture.set(false);
            self.key = st.captured.borrow_mut().take().map(Cow::Owned);
            if r.is_err() {
                st.note_error();
            }
            return r;
        };
        let key = match self.map.next_key_seed(FieldKey(fields)) {
            Ok(Some(k)) => k,
            Ok(None) => return Ok(None),
            Err(e) => {
                st.note_error();
                return Err(e);
            }
        };
        match key {
            Key::Known(name) => {
                self.key = Some(Cow::Borrowed(name));
                seed.deserialize(IntoDeserializer::<A::Error>::into_deserializer(name))
                    .map(Some)
            }
            Key::Unknown(k) if st.opts.unknown_fields == UnknownFields::Reject => {
                st.note_error();
                Err(de::Error::custom(format_args!("unknown field {k:?}")))
            }
            Key::Unknown(k) => {
                self.key = Some(Cow::Owned(k.clone()));
                seed.deserialize(IntoDeserializer::<A::Error>::into_deserializer(k))
                    .map(Some)
            }
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        let (map, st) = (&mut self.map, self.st);
        let seg = Seg::Key(self.key.take().unwrap_or(Cow::Borrowed("?")));
        st.at(seg, || map.next_value_seed(WrapSeed { seed, st }))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct WrapEnum<'s, A> {
    data: A,
    st: &'s State,
}

impl<'s, 'de, A: EnumAccess<'de>> EnumAccess<'de> for WrapEnum<'s, A> {
    type Error = A::Error;
    type Variant = WrapVariant<'s, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Self::Error> {
        let st = self.st;
        let (v, variant) = self.data.variant_seed(WrapSeed { seed, st })?;
        Ok((v, WrapVariant { variant, st }))
    }
}

struct WrapVariant<'s, A> {
    variant: A,
    st: &'s State,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for WrapVariant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.variant
            .newtype_variant_seed(WrapSeed { seed, st: self.st })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Self::Error> {
        let v = WrapVisitor {
            v,
            st: self.st,
            fields: None,
        };
        self.variant.tuple_variant(len, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        let v = WrapVisitor {
            v,
            st: self.st,
            fields: Some(fields),
        };
        self.variant.struct_variant(fields, v)
    }
}
