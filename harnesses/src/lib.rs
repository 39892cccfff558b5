//! kcheck harnesses.
