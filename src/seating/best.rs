//! Best available seats: a block of adjacent free seats in one row (no aisle inside),
//! as near the centre of the room as possible, then as near the middle row; never
//! leaving a lone free seat stranded beside the block when another choice exists.
//!
//! The ranking is split in two so that Redis can apply it atomically: `candidates`
//! ranks every block of the layout that could suit the request by where it is (that
//! never changes), and `pick` takes the first one that is free and strands no seat,
//! else the first that is free, with the seats as they are at that moment. The
//! `bestAvailableSeats` query runs `pick` over a map it read; `holdBestAvailable` sends
//! the candidates to a Lua script (`scripts::HOLD_BEST`) that runs the same `pick`
//! over the seats as they are when it holds them, so a buyer racing others gets the
//! best block left at that instant, never a block someone took meanwhile.

use rust_decimal::Decimal;

use crate::catalog::layout::{SeatKind, SeatLayout, SeatNumber, SeatSpec};

/// What a block must be made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// Every seat of this kind.
    pub kind: Option<SeatKind>,
    /// At least this many ACCESSIBLE seats (wheelchair spaces), the others companion
    /// seats of any kind beside them.
    pub accessible: usize,
    /// No seat dearer than this many times the showtime's base price.
    pub max_multiplier: Option<Decimal>,
}

impl Want {
    fn admits(&self, block: &[&SeatSpec]) -> bool {
        self.kind.is_none_or(|k| block.iter().all(|s| s.kind == k))
            && block
                .iter()
                .filter(|s| s.kind == SeatKind::Accessible)
                .count()
                >= self.accessible
            && self
                .max_multiplier
                .is_none_or(|max| block.iter().all(|s| s.multiplier <= max))
    }
}

/// A block of adjacent seats, and the seats that decide whether taking it strands one:
/// on each side, the seat beside it and the one beyond that (`None`: an aisle or a
/// wall). Taking the block strands the seat beside when that one is free and the one
/// beyond is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub seats: Vec<SeatNumber>,
    pub left: [Option<SeatNumber>; 2],
    pub right: [Option<SeatNumber>; 2],
}

impl Candidate {
    fn strands(&self, free: &impl Fn(&SeatNumber) -> bool) -> bool {
        let free_at = |s: &Option<SeatNumber>| s.as_ref().is_some_and(free);
        let side = |[beside, beyond]: &[Option<SeatNumber>; 2]| free_at(beside) && !free_at(beyond);
        side(&self.left) || side(&self.right)
    }
}

/// Where a block is; smaller is better, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    from_centre: u64,
    from_middle_row: u64,
    row: usize,
    column: usize,
}

/// Every block of `count` adjacent seats of the layout that `want` admits, best place
/// first, whether or not its seats are free.
pub fn candidates(layout: &SeatLayout, count: usize, want: Want) -> Vec<Candidate> {
    if count == 0 {
        return Vec::new();
    }
    let rows = layout.rows();
    let middle_row = (rows.len() as f64 - 1.0) / 2.0;
    let widest = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let mut ranked: Vec<(Place, Candidate)> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        // Rows narrower than the widest are drawn centred.
        let offset = (widest - row.cells.len()) as f64 / 2.0;
        let centre = (widest as f64 - 1.0) / 2.0;
        // Runs of seats with no aisle between them.
        let mut run: Vec<(usize, &SeatNumber, &SeatSpec)> = Vec::new();
        let mut runs = Vec::new();
        for (column, cell) in row.cells.iter().enumerate() {
            match cell {
                Some(seat) => run.push((column, &seat.number, seat)),
                None => runs.push(std::mem::take(&mut run)),
            }
        }
        runs.push(run);
        for run in runs.iter().filter(|run| run.len() >= count) {
            let at = |i: Option<usize>| i.and_then(|i| run.get(i)).map(|(_, n, _)| (*n).clone());
            for start in 0..=run.len() - count {
                let block = &run[start..start + count];
                let specs: Vec<&SeatSpec> = block.iter().map(|(_, _, s)| *s).collect();
                if !want.admits(&specs) {
                    continue;
                }
                let block_centre = (block[0].0 + block[count - 1].0) as f64 / 2.0 + offset;
                let dx = block_centre - centre;
                let dy = r as f64 - middle_row;
                // In seat widths, a row counting as one: the centre of the next row
                // beats the end of this one.
                let place = Place {
                    from_centre: ((dx * dx + dy * dy).sqrt() * 1000.0) as u64,
                    from_middle_row: (dy.abs() * 1000.0) as u64,
                    row: r,
                    column: block[0].0,
                };
                ranked.push((
                    place,
                    Candidate {
                        seats: block.iter().map(|(_, n, _)| (*n).clone()).collect(),
                        left: [at(start.checked_sub(1)), at(start.checked_sub(2))],
                        right: [at(Some(start + count)), at(Some(start + count + 1))],
                    },
                ));
            }
        }
    }
    ranked.sort_by_key(|a| a.0);
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// The first candidate whose seats are all free and that strands no seat, else the
/// first whose seats are all free. `free(seat)` says whether a seat can be had now.
pub fn pick(candidates: &[Candidate], free: impl Fn(&SeatNumber) -> bool) -> Option<&Candidate> {
    let mut fallback = None;
    for candidate in candidates.iter().filter(|c| c.seats.iter().all(&free)) {
        if !candidate.strands(&free) {
            return Some(candidate);
        }
        fallback.get_or_insert(candidate);
    }
    fallback
}

/// The best free block now: `pick` over every candidate.
pub fn choose(
    layout: &SeatLayout,
    count: usize,
    want: Want,
    free: impl Fn(&SeatNumber) -> bool,
) -> Option<Vec<SeatNumber>> {
    pick(&candidates(layout, count, want), free).map(|c| c.seats.clone())
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
        let want = Want {
            kind,
            ..Want::default()
        };
        choose(&layout(rows), count, want, |s| {
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
    fn accessible_seats_take_companions_beside_them() {
        // An accessible seat at A1 (the `layout` helper draws none).
        let rows = SeatLayout::parse(
            &json!({"rows": [{"label": "A", "seats": [
                {"number": 1, "kind": "ACCESSIBLE"}, {"number": 2, "kind": "STANDARD"},
                {"number": 3, "kind": "STANDARD"}, {"number": 4, "kind": "STANDARD"}]}]}),
            "seatLayout",
        )
        .unwrap();
        let want = Want {
            accessible: 1,
            ..Want::default()
        };
        let all = candidates(&rows, 3, want);
        assert_eq!(all.len(), 1, "only the block holding A1");
        assert_eq!(
            all[0]
                .seats
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["A1", "A2", "A3"]
        );
        assert_eq!(all[0].left, [None, None], "the wall is no seat");
        assert!(super::pick(&all, |s| s.to_string() != "A2").is_none());
    }

    #[test]
    fn candidates_list_every_block_once_best_place_first() {
        let all = candidates(&layout(&["ooooo"]), 2, Want::default());
        let seats: Vec<String> = all
            .iter()
            .map(|c| {
                c.seats
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("")
            })
            .collect();
        assert_eq!(seats, ["A2A3", "A3A4", "A1A2", "A4A5"]);
        // Taking A2 A3 with A1 free and no seat beyond it strands A1.
        assert!(all[0].strands(&|_: &SeatNumber| true));
        assert_eq!(
            super::pick(&all, |_| true).map(|c| c.seats[0].to_string()),
            Some("A1".to_owned())
        );
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
