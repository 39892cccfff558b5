//! The kcheck command-line tool.

fn main() {}
