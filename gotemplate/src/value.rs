//! The values a template works on, with Go's meaning: kinds, truth, zero
//! values, comparison, and the types that error messages and `%T` name.
//!
//! A [`Value`] is cheap to clone (scalars by value, the rest behind an
//! [`Arc`]), so data converted once (a service list with 1,000 instances)
//! is shared by every render that reads it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A method of a [`Type`]: the receiver and the arguments, in call order.
pub type Method = fn(&Value, &[Value]) -> Result<Value, String>;

/// The zero value of a map's elements (what a missing key gives under
/// `missingkey=zero`, and what `index` gives for a missing key).
#[derive(Clone, Copy, Debug)]
pub enum Zero {
    /// `interface{}`: no value (printed `<no value>`).
    Interface,
    /// `string`: `""`.
    Str,
    /// `int`: `0`.
    Int,
    /// `bool`: `false`.
    Bool,
    /// A slice: an empty list.
    List,
    /// A map: an empty map.
    Map,
    /// A pointer: nil.
    Pointer,
    /// A struct (not a pointer to one): each field's zero value, in the
    /// order of the type's fields (`api.ServiceAddress{"" 0}`).
    Struct(&'static Type, &'static [Zero]),
}

impl PartialEq for Zero {
    fn eq(&self, other: &Zero) -> bool {
        match (self, other) {
            (Zero::Struct(a, fa), Zero::Struct(b, fb)) => std::ptr::eq(*a, *b) && fa == fb,
            (Zero::Struct(..), _) | (_, Zero::Struct(..)) => false,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for Zero {}

impl Zero {
    /// The zero value itself.
    pub fn value(self) -> Value {
        match self {
            Zero::Interface => Value::Nil,
            Zero::Str => Value::str(""),
            Zero::Int => Value::Int(0),
            Zero::Bool => Value::Bool(false),
            Zero::List => Value::List(Arc::new(List::new(Vec::new()))),
            Zero::Map => Value::Map(Arc::new(Map::new(BTreeMap::new()))),
            Zero::Pointer => Value::Nil,
            Zero::Struct(ty, fields) => Value::Struct(Arc::new(Struct::new(
                ty,
                fields.iter().map(|z| z.value()).collect(),
            ))),
        }
    }
}

/// What the engine knows of a Go type: its name (for `%T` and errors), the
/// fields of a struct in declaration order, the zero value of its elements
/// (maps), and its methods.
#[derive(Debug)]
pub struct Type {
    /// Go's name of the type, e.g. `*dependency.HealthService`, `[]string`.
    pub name: &'static str,
    /// A struct's exported fields, in declaration order.
    pub fields: &'static [&'static str],
    /// A map's (or slice's) element zero value.
    pub elem: Zero,
    /// Methods callable as `.Name arg...`.
    pub methods: &'static [(&'static str, Method)],
}

impl Type {
    /// A type with a name and nothing else.
    pub const fn named(name: &'static str, elem: Zero) -> Type {
        Type {
            name,
            fields: &[],
            elem,
            methods: &[],
        }
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<Method> {
        self.methods
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }

    /// Whether values of this type are pointers (printed with `&` by fmt).
    pub fn is_pointer(&self) -> bool {
        self.name.starts_with('*')
    }
}

/// `[]interface {}`.
pub static ANY_LIST: Type = Type::named("[]interface {}", Zero::Interface);
/// `[]string`.
pub static STRING_LIST: Type = Type::named("[]string", Zero::Str);
/// `map[string]interface {}`.
pub static ANY_MAP: Type = Type::named("map[string]interface {}", Zero::Interface);
/// `map[string]string`.
pub static STRING_MAP: Type = Type::named("map[string]string", Zero::Str);

/// A map key. Go's fmt prints maps sorted by key; the derived order (by
/// kind, then value) is that order for maps whose keys have one kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A bool key.
    Bool(bool),
    /// An int key.
    Int(i64),
    /// A uint key.
    Uint(u64),
    /// A string key.
    Str(Arc<str>),
}

impl Key {
    /// The key as a value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Uint(u) => Value::Uint(*u),
            Key::Str(s) => Value::Str(Arc::clone(s)),
        }
    }

    /// The key for a value, if the value can be one.
    pub fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Uint(u) => Key::Uint(*u),
            Value::Str(s) => Key::Str(Arc::clone(s)),
            _ => return None,
        })
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::Str(Arc::from(s))
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::Str(Arc::from(s))
    }
}

fn depth_of<'a>(values: impl Iterator<Item = &'a Value>) -> u32 {
    1 + values.map(Value::depth).max().unwrap_or(0)
}

/// A slice.
///
/// Read `items` freely; to change them after construction use
/// [`List::push`], which keeps the nesting depth the engine bounds.
#[derive(Clone, Debug)]
pub struct List {
    /// The elements.
    pub items: Vec<Value>,
    /// The slice's type.
    pub ty: &'static Type,
    depth: u32,
}

impl List {
    /// A `[]interface {}`.
    pub fn new(items: Vec<Value>) -> List {
        List::typed(items, &ANY_LIST)
    }

    /// A slice of a named type.
    pub fn typed(items: Vec<Value>, ty: &'static Type) -> List {
        let depth = depth_of(items.iter());
        List { items, ty, depth }
    }

    /// Appends an element.
    pub fn push(&mut self, v: Value) {
        self.depth = self.depth.max(1 + v.depth());
        self.items.push(v);
    }
}

/// A map, sorted by key.
///
/// Read `entries` freely; to change them after construction use
/// [`Map::insert`], which keeps the nesting depth the engine bounds.
#[derive(Clone, Debug)]
pub struct Map {
    /// The entries.
    pub entries: BTreeMap<Key, Value>,
    /// The map's type.
    pub ty: &'static Type,
    depth: u32,
}

impl Map {
    /// A `map[string]interface {}`.
    pub fn new(entries: BTreeMap<Key, Value>) -> Map {
        Map::typed(entries, &ANY_MAP)
    }

    /// A map of a named type.
    pub fn typed(entries: BTreeMap<Key, Value>, ty: &'static Type) -> Map {
        let depth = depth_of(entries.values());
        Map { entries, ty, depth }
    }

    /// Sets an entry.
    pub fn insert(&mut self, key: Key, v: Value) {
        self.depth = self.depth.max(1 + v.depth());
        self.entries.insert(key, v);
    }

    /// The value at a string key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        // BTreeMap<Key, _> cannot be searched by &str without a Key.
        self.entries.get(&Key::Str(Arc::from(key)))
    }
}

/// A struct (or a pointer to one): its fields in the order of its type.
#[derive(Clone, Debug)]
pub struct Struct {
    /// The struct's type, with the field names.
    pub ty: &'static Type,
    /// Field values, in the order of `ty.fields`.
    pub fields: Vec<Value>,
    depth: u32,
}

impl Struct {
    /// A struct of `ty` with these field values (missing ones are nil).
    pub fn new(ty: &'static Type, mut fields: Vec<Value>) -> Struct {
        fields.resize(ty.fields.len(), Value::Nil);
        let depth = depth_of(fields.iter());
        Struct { ty, fields, depth }
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.ty
            .fields
            .iter()
            .position(|f| *f == name)
            .and_then(|i| self.fields.get(i))
    }
}

/// A value with behaviour of its own (e.g. consul-template's `scratch`):
/// methods, printing and truth come from the implementation.
pub trait Object: Send + Sync + fmt::Debug {
    /// Go's name of the type, for `%T` and errors.
    fn type_name(&self) -> &str;
    /// Calls method `name`; `None` if there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// The value `%v` prints.
    fn print(&self) -> String {
        format!("{{{}}}", self.type_name())
    }
    /// The value itself, for the functions that take back what they made
    /// (`None`: not offered).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A template value.
#[derive(Clone, Default)]
pub enum Value {
    /// No value at all (Go's invalid `reflect.Value`): the data of a
    /// template executed with `nil`, a missing map entry; printed
    /// `<no value>` by an action.
    #[default]
    Missing,
    /// A nil interface or pointer (`<nil>` when fmt prints it).
    Nil,
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A uint (Consul's indexes and flags).
    Uint(u64),
    /// A float64.
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// A slice.
    List(Arc<List>),
    /// A map.
    Map(Arc<Map>),
    /// A struct or a pointer to one.
    Struct(Arc<Struct>),
    /// A value with its own behaviour.
    Object(Arc<dyn Object>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("<no value>"),
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}u"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => f.debug_list().entries(&l.items).finish(),
            Value::Map(m) => f.debug_map().entries(m.entries.iter()).finish(),
            Value::Struct(s) => {
                let mut d = f.debug_struct(s.ty.name);
                for (n, v) in s.ty.fields.iter().zip(&s.fields) {
                    d.field(n, v);
                }
                d.finish()
            }
            Value::Object(o) => o.fmt(f),
        }
    }
}

impl PartialEq for Value {
    /// Deep equality (Go's `reflect.DeepEqual` on the data), used by tests
    /// and by callers that skip a render when nothing changed.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Missing, Value::Missing) | (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Uint(a), Value::Uint(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => Arc::ptr_eq(a, b) || a.items == b.items,
            (Value::Map(a), Value::Map(b)) => Arc::ptr_eq(a, b) || a.entries == b.entries,
            (Value::Struct(a), Value::Struct(b)) => {
                Arc::ptr_eq(a, b) || (std::ptr::eq(a.ty, b.ty) && a.fields == b.fields)
            }
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Arc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List::new(items)))
    }
}

/// The kinds Go's comparison functions distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Basic {
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// A `[]interface {}` of these values.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List::new(items)))
    }

    /// A `[]string`.
    pub fn strings<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> Value {
        Value::List(Arc::new(List::typed(
            items.into_iter().map(|s| Value::str(s.as_ref())).collect(),
            &STRING_LIST,
        )))
    }

    /// A `map[string]interface {}` of these entries.
    pub fn map<I: IntoIterator<Item = (String, Value)>>(entries: I) -> Value {
        Value::Map(Arc::new(Map::new(
            entries
                .into_iter()
                .map(|(k, v)| (Key::from(k), v))
                .collect(),
        )))
    }

    /// Go's truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Struct(_) | Value::Object(_) => true,
        }
    }

    /// How deeply lists, maps and structs nest in this value (0 for a scalar).
    pub fn depth(&self) -> u32 {
        match self {
            Value::List(l) => l.depth,
            Value::Map(m) => m.depth,
            Value::Struct(s) => s.depth,
            Value::Object(_) => 1,
            _ => 0,
        }
    }

    /// Whether this is nil or no value.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Missing | Value::Nil)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is a slice.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(&l.items),
            _ => None,
        }
    }

    /// Go's name of the value's type, as `%T` prints it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Uint(_) => "uint64".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(l) => l.ty.name.into(),
            Value::Map(m) => m.ty.name.into(),
            Value::Struct(s) => s.ty.name.into(),
            Value::Object(o) => o.type_name().into(),
        }
    }

    pub(crate) fn basic(&self) -> Option<Basic> {
        Some(match self {
            Value::Bool(_) => Basic::Bool,
            Value::Int(_) => Basic::Int,
            Value::Uint(_) => Basic::Uint,
            Value::Float(_) => Basic::Float,
            Value::Str(_) => Basic::Str,
            _ => return None,
        })
    }

    /// The methods this value's type has (structs, slices, maps).
    pub(crate) fn method(&self, name: &str) -> Option<Method> {
        match self {
            Value::List(l) => l.ty.method(name),
            Value::Map(m) => m.ty.method(name),
            Value::Struct(s) => s.ty.method(name),
            _ => None,
        }
    }

    /// The value as an int, converting as Go's typed arguments do for
    /// integers of either sign.
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    /// The value as a float, for arithmetic that promotes.
    pub fn to_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Uint(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Go's `eq arg1 arg2`: basic kinds by value (ints of either sign compare),
/// nil against nil, and deep equality for the rest; mixing kinds is an error.
pub(crate) fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    if a.is_nil() && b.is_nil() {
        return Ok(true);
    }
    let (ka, kb) = (a.basic(), b.basic());
    match (a, b) {
        (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
            return Ok(*x >= 0 && *x as u64 == *y)
        }
        _ => {}
    }
    if ka != kb {
        if a.is_nil() || b.is_nil() {
            return Ok(a.is_nil() && b.is_nil());
        }
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Uint(x), Value::Uint(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(_), _) | (_, Value::List(_)) | (Value::Map(_), _) | (_, Value::Map(_)) => {
            return Err(format!(
                "non-comparable type {}: {}",
                crate::fmt::sprint(std::slice::from_ref(a)),
                a.type_name()
            ))
        }
        _ => a == b,
    })
}

/// Go's `lt arg1 arg2`: basic kinds only.
pub(crate) fn less(a: &Value, b: &Value) -> Result<bool, String> {
    let (Some(ka), Some(kb)) = (a.basic(), b.basic()) else {
        return Err("invalid type for comparison".into());
    };
    match (a, b) {
        (Value::Int(x), Value::Uint(y)) => return Ok(*x < 0 || (*x as u64) < *y),
        (Value::Uint(x), Value::Int(y)) => return Ok(*y >= 0 && *x < *y as u64),
        _ => {}
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Bool(_), Value::Bool(_)) => return Err("invalid type for comparison".into()),
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Uint(x), Value::Uint(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        _ => return Err("invalid type for comparison".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_follows_go() {
        for v in [
            Value::Missing,
            Value::Nil,
            Value::Bool(false),
            Value::Int(0),
            Value::Float(0.0),
            Value::str(""),
            Value::list(vec![]),
            Value::map(vec![]),
        ] {
            assert!(!v.is_true(), "{v:?}");
        }
        for v in [
            Value::Bool(true),
            Value::Int(-1),
            Value::str("0"),
            Value::list(vec![Value::Nil]),
        ] {
            assert!(v.is_true(), "{v:?}");
        }
    }

    #[test]
    fn comparison_follows_go() {
        assert_eq!(equal(&Value::Int(3), &Value::Uint(3)), Ok(true));
        assert_eq!(equal(&Value::Int(-1), &Value::Uint(u64::MAX)), Ok(false));
        assert_eq!(equal(&Value::str("a"), &Value::str("a")), Ok(true));
        assert!(equal(&Value::str("1"), &Value::Int(1)).is_err());
        assert!(equal(&Value::Int(1), &Value::Float(1.0)).is_err());
        assert_eq!(equal(&Value::Nil, &Value::Missing), Ok(true));
        assert_eq!(less(&Value::Int(-1), &Value::Uint(0)), Ok(true));
        assert_eq!(less(&Value::str("a"), &Value::str("b")), Ok(true));
        assert!(less(&Value::Bool(true), &Value::Bool(false)).is_err());
        assert!(less(&Value::list(vec![]), &Value::Int(1)).is_err());
    }
}
