//! Any bytes as a seat layout (`SeatLayout::parse`) and as a seat number
//! (`SeatNumber::from_str`): never a panic; a layout that parses keeps its invariants
//! and round-trips through its canonical JSON; an error names a path under the
//! argument; a seat number that parses is written exactly as it prints.

#![no_main]

use libfuzzer_sys::fuzz_target;
use screema_formats::layout::{SeatLayout, SeatNumber};

const FIELD: &str = "seatLayout";

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        match SeatLayout::parse(&value, FIELD) {
            Ok(layout) => {
                assert!(layout.total_seats() > 0);
                assert_eq!(layout.total_seats(), layout.seats().count());
                let canonical = layout.to_json();
                let again = SeatLayout::parse(&canonical, FIELD).expect("canonical JSON parses");
                assert_eq!(again, layout);
                assert_eq!(again.to_json(), canonical);
                for seat in layout.seats() {
                    let name = seat.number.to_string();
                    assert_eq!(name.parse::<SeatNumber>().as_ref(), Ok(&seat.number));
                }
            }
            Err(e) => {
                assert!(e.field.starts_with(FIELD), "{e:?}");
                assert!(!e.message.is_empty());
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        for line in s.lines() {
            if let Ok(seat) = line.parse::<SeatNumber>() {
                assert_eq!(seat.to_string(), line.trim());
                assert_eq!(
                    SeatNumber::new(seat.row(), seat.number()).as_ref(),
                    Some(&seat)
                );
            }
        }
    }
});
