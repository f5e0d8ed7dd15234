//! dcy
