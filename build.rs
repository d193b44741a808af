//! `embed_migrations!` reads `migrations/` when the crate compiles, and cargo tracks
//! only the files it read: a migration added later would not be embedded until
//! something else changed. Diesel's documented remedy.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
