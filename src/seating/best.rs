//! Best available seats: a block of adjacent free seats in one row (no aisle inside),
//! as near the centre of the room as possible, then as near the middle row; never
//! leaving a lone free seat stranded beside the block when another choice exists.

use crate::catalog::layout::{SeatKind, SeatLayout, SeatNumber};

/// How a candidate block ranks; smaller is better, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    strands_a_seat: bool,
    from_centre: u64,
    from_middle_row: u64,
    row: usize,
    column: usize,
}

/// `free(seat)` says whether a seat can be had now.
pub fn choose(
    layout: &SeatLayout,
    count: usize,
    kind: Option<SeatKind>,
    free: impl Fn(&SeatNumber) -> bool,
) -> Option<Vec<SeatNumber>> {
    let rows = layout.rows();
    let middle_row = (rows.len() as f64 - 1.0) / 2.0;
    let widest = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let mut best: Option<(Rank, Vec<SeatNumber>)> = None;
    for (r, row) in rows.iter().enumerate() {
        // Rows narrower than the widest are drawn centred.
        let offset = (widest - row.cells.len()) as f64 / 2.0;
        let centre = (widest as f64 - 1.0) / 2.0;
        // Runs of seats with no aisle between them.
        let mut run: Vec<(usize, &SeatNumber, bool)> = Vec::new();
        let mut runs = Vec::new();
        for (column, cell) in row.cells.iter().enumerate() {
            match cell {
                Some(seat) => {
                    let fits = free(&seat.number) && kind.is_none_or(|k| seat.kind == k);
                    run.push((column, &seat.number, fits));
                }
                None => runs.push(std::mem::take(&mut run)),
            }
        }
        runs.push(run);
        for run in runs.iter().filter(|run| run.len() >= count) {
            for start in 0..=run.len() - count {
                let block = &run[start..start + count];
                if !block.iter().all(|(_, _, fits)| *fits) {
                    continue;
                }
                let free_at =
                    |i: Option<usize>| i.and_then(|i| run.get(i)).is_some_and(|(_, n, _)| free(n));
                let strands = |beside: Option<usize>, beyond: Option<usize>| {
                    free_at(beside) && !free_at(beyond)
                };
                let left = strands(start.checked_sub(1), start.checked_sub(2));
                let right = strands(Some(start + count), Some(start + count + 1));
                let block_centre = (block[0].0 + block[count - 1].0) as f64 / 2.0 + offset;
                let dx = block_centre - centre;
                let dy = r as f64 - middle_row;
                // In seat widths, a row counting as one: the centre of the next row
                // beats the end of this one.
                let distance = ((dx * dx + dy * dy).sqrt() * 1000.0) as u64;
                let key = Rank {
                    strands_a_seat: left || right,
                    from_centre: distance,
                    from_middle_row: (dy.abs() * 1000.0) as u64,
                    row: r,
                    column: block[0].0,
                };
                if best.as_ref().is_none_or(|(k, _)| key < *k) {
                    best = Some((key, block.iter().map(|(_, n, _)| (*n).clone()).collect()));
                }
            }
        }
    }
    best.map(|(_, seats)| seats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::HashSet;

    /// Rows as strings: `o` a seat, `P` a premium seat, `.` an aisle.
    fn layout(rows: &[&str]) -> SeatLayout {
        let rows: Vec<Value> = rows
            .iter()
            .enumerate()
            .map(|(r, pattern)| {
                let label = ((b'A' + r as u8) as char).to_string();
                let mut n = 0;
                let seats: Vec<Value> = pattern
                    .chars()
                    .map(|c| match c {
                        '.' => Value::Null,
                        c => {
                            n += 1;
                            json!({"number": n, "kind": if c == 'P' { "PREMIUM" } else { "STANDARD" }})
                        }
                    })
                    .collect();
                json!({"label": label, "seats": seats})
            })
            .collect();
        SeatLayout::parse(&json!({ "rows": rows }), "seatLayout").unwrap()
    }

    fn pick(
        rows: &[&str],
        taken: &[&str],
        count: usize,
        kind: Option<SeatKind>,
    ) -> Option<Vec<String>> {
        let taken: HashSet<&str> = taken.iter().copied().collect();
        choose(&layout(rows), count, kind, |s| {
            !taken.contains(s.to_string().as_str())
        })
        .map(|seats| seats.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn the_centre_of_the_middle_row_first() {
        let room = ["oooooo", "oooooo", "oooooo"];
        assert_eq!(pick(&room, &[], 2, None).unwrap(), ["B3", "B4"]);
        assert_eq!(pick(&room, &[], 1, None).unwrap(), ["B3"]);
        assert_eq!(pick(&room, &["B3", "B4"], 2, None).unwrap(), ["A3", "A4"]);
    }

    #[test]
    fn blocks_never_span_an_aisle() {
        assert_eq!(pick(&["ooo.ooo"], &[], 2, None).unwrap(), ["A2", "A3"]);
        assert_eq!(pick(&["oo.oo"], &[], 3, None), None);
    }

    #[test]
    fn no_single_seat_is_left_stranded_when_there_is_another_choice() {
        // A3 A4 is as central as A4 A5 but would strand A2 (A1 is taken).
        assert_eq!(pick(&["ooooooo"], &["A1"], 2, None).unwrap(), ["A4", "A5"]);
        assert_eq!(pick(&["ooooooo"], &[], 2, None).unwrap(), ["A3", "A4"]);
        // With no other choice, a stranding block is still offered.
        assert_eq!(pick(&["oooo"], &["A1"], 2, None).unwrap(), ["A2", "A3"]);
    }

    #[test]
    fn kinds_and_impossible_requests() {
        let room = ["oooooo", "ooPPoo"];
        assert_eq!(
            pick(&room, &[], 2, Some(SeatKind::Premium)).unwrap(),
            ["B3", "B4"]
        );
        assert_eq!(pick(&room, &["B3"], 2, Some(SeatKind::Premium)), None);
        assert_eq!(pick(&room, &[], 7, None), None);
    }
}
