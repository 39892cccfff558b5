//! The kcheck CLI with this crate's controller added:
//! `cargo run -- run scenarios/greetings.json`.

fn main() -> std::process::ExitCode {
    kcheck::cli::main_with(own_crate::registry())
}
