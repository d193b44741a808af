//! Seat layouts: the JSON of API.md parsed into a value that can only be valid.
//!
//! ```json
//! {"rows": [{"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, null,
//!                                    {"number": 2, "kind": "PREMIUM", "priceMultiplier": "1.50"}]}]}
//! ```

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeatKind {
    Standard,
    Premium,
    Accessible,
    Couple,
}

impl SeatKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "STANDARD" => Some(Self::Standard),
            "PREMIUM" => Some(Self::Premium),
            "ACCESSIBLE" => Some(Self::Accessible),
            "COUPLE" => Some(Self::Couple),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Premium => "PREMIUM",
            Self::Accessible => "ACCESSIBLE",
            Self::Couple => "COUPLE",
        }
    }
}

/// A seat's name: row label and number, e.g. `C7` or `AA12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatNumber {
    row: String,
    number: u16,
}

pub const MAX_SEAT_NUMBER: u16 = 999;

impl SeatNumber {
    pub fn new(row: &str, number: u16) -> Option<Self> {
        (is_row_label(row) && (1..=MAX_SEAT_NUMBER).contains(&number)).then(|| Self {
            row: row.to_owned(),
            number,
        })
    }

    pub fn row(&self) -> &str {
        &self.row
    }

    pub fn number(&self) -> u16 {
        self.number
    }
}

impl FromStr for SeatNumber {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        let split = s.find(|c: char| c.is_ascii_digit()).ok_or(())?;
        let (row, digits) = s.split_at(split);
        if digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.len() > 3
        {
            return Err(());
        }
        let number = digits.parse().map_err(|_| ())?;
        Self::new(row, number).ok_or(())
    }
}

impl fmt::Display for SeatNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.row, self.number)
    }
}

fn is_row_label(s: &str) -> bool {
    (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSpec {
    pub number: SeatNumber,
    pub kind: SeatKind,
    /// Times the showtime's base price; 1.00 when the layout gives none.
    pub multiplier: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSpec {
    pub label: String,
    /// Left to right; `None` is an aisle gap.
    pub cells: Vec<Option<SeatSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatLayout {
    rows: Vec<RowSpec>,
    total_seats: usize,
}

/// Why a layout was refused, with the JSON path of the culprit
/// (e.g. `seatLayout.rows[2].seats[3].kind`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError {
    pub field: String,
    pub message: String,
}

const MAX_ROWS: usize = 60;
const MAX_CELLS_PER_ROW: usize = 120;
const MAX_MULTIPLIER: Decimal = Decimal::from_parts(10, 0, 0, false, 0);

impl SeatLayout {
    /// `field` is the name of the argument the layout came in, used in error paths.
    pub fn parse(value: &Value, field: &str) -> Result<Self, LayoutError> {
        let err = |path: String, message: &str| LayoutError {
            field: path,
            message: message.to_owned(),
        };
        let obj = value
            .as_object()
            .ok_or_else(|| err(field.to_owned(), "a seat layout is an object with `rows`"))?;
        if let Some(key) = obj.keys().find(|k| *k != "rows") {
            return Err(err(format!("{field}.{key}"), "unknown key in seat layout"));
        }
        let rows_path = format!("{field}.rows");
        let rows_json = obj
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| err(rows_path.clone(), "`rows` must be a list"))?;
        if rows_json.is_empty() {
            return Err(err(rows_path, "a layout needs at least one row of seats"));
        }
        if rows_json.len() > MAX_ROWS {
            return Err(err(rows_path, "too many rows"));
        }

        let mut labels = HashSet::new();
        let mut rows = Vec::with_capacity(rows_json.len());
        let mut total_seats = 0;
        for (r, row_json) in rows_json.iter().enumerate() {
            let row_path = format!("{rows_path}[{r}]");
            let row_obj = row_json.as_object().ok_or_else(|| {
                err(
                    row_path.clone(),
                    "a row is an object with `label` and `seats`",
                )
            })?;
            if let Some(key) = row_obj.keys().find(|k| *k != "label" && *k != "seats") {
                return Err(err(format!("{row_path}.{key}"), "unknown key in row"));
            }
            let label = row_obj
                .get("label")
                .and_then(Value::as_str)
                .filter(|l| is_row_label(l))
                .ok_or_else(|| {
                    err(
                        format!("{row_path}.label"),
                        "a row label is 1 to 3 capital letters",
                    )
                })?;
            if !labels.insert(label.to_owned()) {
                return Err(err(format!("{row_path}.label"), "duplicate row label"));
            }
            let seats_path = format!("{row_path}.seats");
            let cells_json = row_obj
                .get("seats")
                .and_then(Value::as_array)
                .ok_or_else(|| err(seats_path.clone(), "`seats` must be a list"))?;
            if cells_json.len() > MAX_CELLS_PER_ROW {
                return Err(err(seats_path, "too many seats in one row"));
            }
            let mut numbers = HashSet::new();
            let mut cells = Vec::with_capacity(cells_json.len());
            for (c, cell) in cells_json.iter().enumerate() {
                let cell_path = format!("{seats_path}[{c}]");
                let seat = match cell {
                    Value::Null => None,
                    Value::Object(seat) => Some(parse_seat(seat, label, &cell_path)?),
                    _ => return Err(err(cell_path, "a seat is an object, or null for an aisle")),
                };
                if let Some(seat) = &seat
                    && !numbers.insert(seat.number.number())
                {
                    return Err(err(
                        format!("{cell_path}.number"),
                        "duplicate seat in this row",
                    ));
                }
                cells.push(seat);
            }
            if numbers.is_empty() {
                return Err(err(seats_path, "a row needs at least one seat"));
            }
            total_seats += numbers.len();
            rows.push(RowSpec {
                label: label.to_owned(),
                cells,
            });
        }
        Ok(Self { rows, total_seats })
    }

    pub fn rows(&self) -> &[RowSpec] {
        &self.rows
    }

    pub fn total_seats(&self) -> usize {
        self.total_seats
    }

    pub fn seats(&self) -> impl Iterator<Item = &SeatSpec> {
        self.rows.iter().flat_map(|r| r.cells.iter().flatten())
    }

    pub fn contains(&self, seat: &SeatNumber) -> bool {
        self.seats().any(|s| &s.number == seat)
    }

    /// The canonical JSON form, as stored.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let seats: Vec<Value> = row
                    .cells
                    .iter()
                    .map(|cell| match cell {
                        None => Value::Null,
                        Some(seat) if seat.multiplier == Decimal::ONE => {
                            json!({"number": seat.number.number(), "kind": seat.kind.as_str()})
                        }
                        Some(seat) => json!({
                            "number": seat.number.number(),
                            "kind": seat.kind.as_str(),
                            "priceMultiplier": seat.multiplier.normalize().to_string(),
                        }),
                    })
                    .collect();
                json!({"label": row.label, "seats": seats})
            })
            .collect();
        json!({ "rows": rows })
    }
}

fn parse_seat(seat: &Map<String, Value>, row: &str, path: &str) -> Result<SeatSpec, LayoutError> {
    let err = |suffix: &str, message: &str| LayoutError {
        field: format!("{path}{suffix}"),
        message: message.to_owned(),
    };
    if let Some(key) = seat
        .keys()
        .find(|k| !matches!(k.as_str(), "number" | "kind" | "priceMultiplier"))
    {
        return Err(err(&format!(".{key}"), "unknown key in seat"));
    }
    let number = seat
        .get("number")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .and_then(|n| SeatNumber::new(row, n))
        .ok_or_else(|| err(".number", "a seat number is a whole number from 1 to 999"))?;
    let kind = seat
        .get("kind")
        .and_then(Value::as_str)
        .and_then(SeatKind::parse)
        .ok_or_else(|| {
            err(
                ".kind",
                "kind must be STANDARD, PREMIUM, ACCESSIBLE or COUPLE",
            )
        })?;
    let multiplier = match seat.get("priceMultiplier") {
        None | Some(Value::Null) => Decimal::ONE,
        Some(Value::String(s)) => {
            parse_multiplier(s).ok_or_else(|| err(".priceMultiplier", MULTIPLIER_RULE))?
        }
        // A JSON number is read through its shortest decimal text, so 1.5 is exactly 1.5.
        Some(Value::Number(n)) => parse_multiplier(&n.to_string())
            .ok_or_else(|| err(".priceMultiplier", MULTIPLIER_RULE))?,
        Some(_) => return Err(err(".priceMultiplier", MULTIPLIER_RULE)),
    };
    Ok(SeatSpec {
        number,
        kind,
        multiplier,
    })
}

const MULTIPLIER_RULE: &str =
    "priceMultiplier must be a positive decimal up to 10 with at most 4 places, e.g. \"1.50\"";

fn parse_multiplier(s: &str) -> Option<Decimal> {
    let d = Decimal::from_str(s.trim()).ok()?;
    (d > Decimal::ZERO && d <= MAX_MULTIPLIER && d.scale() <= 4).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<SeatLayout, LayoutError> {
        SeatLayout::parse(&v, "seatLayout")
    }

    fn field_of(v: Value) -> String {
        parse(v).expect_err("layout should be refused").field
    }

    #[test]
    fn parses_the_api_example() {
        let layout = parse(json!({"rows": [
            {"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"}, null,
                                     {"number": 3, "kind": "ACCESSIBLE"}]},
            {"label": "B", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": "1.50"}]}
        ]}))
        .unwrap();
        assert_eq!(layout.total_seats(), 4);
        assert_eq!(layout.rows()[0].cells.len(), 4);
        assert!(layout.rows()[0].cells[2].is_none());
        let b1 = layout.rows()[1].cells[0].as_ref().unwrap();
        assert_eq!(b1.number.to_string(), "B1");
        assert_eq!(b1.multiplier, Decimal::from_str("1.50").unwrap());
        assert!(layout.contains(&"A3".parse().unwrap()));
        assert!(!layout.contains(&"A4".parse().unwrap()));
        assert_eq!(SeatLayout::parse(&layout.to_json(), "x").unwrap(), layout);
    }

    #[test]
    fn refuses_bad_layouts_naming_the_field() {
        let seat = |n: u64| json!({"number": n, "kind": "STANDARD"});
        assert_eq!(field_of(json!({"rows": []})), "seatLayout.rows");
        assert_eq!(
            field_of(json!({"rows": [{"label": "A", "seats": []}]})),
            "seatLayout.rows[0].seats"
        );
        assert_eq!(
            field_of(json!({"rows": [{"label": "A", "seats": [null, null]}]})),
            "seatLayout.rows[0].seats"
        );
        assert_eq!(
            field_of(json!({"rows": [{"label": "A", "seats": [seat(1), seat(1)]}]})),
            "seatLayout.rows[0].seats[1].number"
        );
        assert_eq!(
            field_of(
                json!({"rows": [{"label": "A", "seats": [seat(1)]}, {"label": "A", "seats": [seat(1)]}]})
            ),
            "seatLayout.rows[1].label"
        );
        assert_eq!(
            field_of(json!({"rows": [{"label": "A", "seats": [{"number": 1, "kind": "SOFA"}]}]})),
            "seatLayout.rows[0].seats[0].kind"
        );
        for bad in [
            json!("0"),
            json!("-1.5"),
            json!("abc"),
            json!(0),
            json!(true),
            json!("11"),
            json!("1.00001"),
        ] {
            assert_eq!(
                field_of(
                    json!({"rows": [{"label": "A", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": bad}]}]})
                ),
                "seatLayout.rows[0].seats[0].priceMultiplier"
            );
        }
        assert_eq!(
            field_of(json!({"rows": [{"label": "a1", "seats": [seat(1)]}]})),
            "seatLayout.rows[0].label"
        );
        assert_eq!(
            field_of(json!({"rows": [{"label": "A", "seats": [seat(0)]}]})),
            "seatLayout.rows[0].seats[0].number"
        );
        assert_eq!(field_of(json!([])), "seatLayout");
        assert_eq!(
            field_of(json!({"rows": [{"label": "A", "seats": [7]}]})),
            "seatLayout.rows[0].seats[0]"
        );
    }

    #[test]
    fn seat_numbers_round_trip_and_refuse_nonsense() {
        for ok in ["A1", "C7", "AA12", "ZZZ999"] {
            assert_eq!(ok.parse::<SeatNumber>().unwrap().to_string(), ok);
        }
        for bad in [
            "", "1", "A", "A0", "A01", "a1", "ABCD1", "A1000", "A1B", "A-1",
        ] {
            assert!(bad.parse::<SeatNumber>().is_err(), "{bad} accepted");
        }
    }
}
