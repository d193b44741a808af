//! `schema.graphql` is generated: it must be exactly what `screema print-schema` prints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn schema_file_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = screema::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is stale: run `cargo run -q -- print-schema > schema.graphql`"
    );
}

#[test]
fn print_schema_prints_the_sdl() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_screema"))
        .arg("print-schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    let sdl = String::from_utf8(output.stdout).unwrap();
    assert_eq!(sdl, screema::graphql::sdl());
    for contract in [
        "type Query {",
        "movies(genre: String, limit: Int = 20, page: Int = 1, search: String, status: MovieStatus): MoviePage!",
        "movie(id: ID!): Movie",
        "showtimes(date: Date, movieId: ID!, theaterId: ID): [Showtime!]!",
        "scalar Decimal",
        "enum SeatState {",
    ] {
        assert!(sdl.contains(contract), "schema lacks `{contract}`");
    }
}
