//! `typeOf`, `typeIs`, `typeIsLike`, `kindOf`, `kindIs` and `deepEqual`.
//!
//! Template integers are one type here: Sprig's int64 results (`add`,
//! `int64`) are `int` to `typeOf` and `kindOf`, where Go says `int64`.

use gotemplate::Value;

use super::conv::{arg_str, deep_equal, kind_of};
use super::Reg;

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("typeOf", 1, |a| Ok(Value::from(a[0].type_name())));
    r.fixed("typeIs", 2, |a| {
        Ok(Value::Bool(arg_str(&a[0])? == a[1].type_name()))
    });
    r.fixed("typeIsLike", 2, |a| {
        let (target, t) = (arg_str(&a[0])?, a[1].type_name());
        Ok(Value::Bool(
            target == t || t.strip_prefix('*') == Some(target),
        ))
    });
    r.fixed("kindOf", 1, |a| Ok(Value::str(kind_of(&a[0]))));
    r.fixed("kindIs", 2, |a| {
        Ok(Value::Bool(arg_str(&a[0])? == kind_of(&a[1])))
    });
    r.fixed("deepEqual", 2, |a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
}
