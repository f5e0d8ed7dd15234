//! (in progress)
use super::Reg;
pub(super) fn install(_r: &mut Reg<'_>) {}
pub const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
pub const MAX_LOOKUPS: usize = 8;
