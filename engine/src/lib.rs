//! kcheck engine.
