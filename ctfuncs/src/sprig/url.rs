//! (in progress)
use super::Reg;
pub(super) fn install(_r: &mut Reg<'_>) {}
