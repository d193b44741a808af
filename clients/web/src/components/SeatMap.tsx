// The room as SVG, drawn as the server's seat-map page draws it (assets/seatmap/
// index.html): the same sizes, the same four states' colours, seat kinds marked,
// aisles as gaps (`column`), and `#seat-<number>` elements carrying `data-state`.
// Here seats can also be chosen: each free seat is a checkbox for keyboard and screen
// reader users (Tab to it, Space or Enter to choose), and the seats held by the
// viewer show in their own colour.

import type { CSSProperties, KeyboardEvent } from "react";
import { money } from "../format";
import type { Row, Seat } from "../liveSeatMap";

export const COLORS = {
  AVAILABLE: "#34c759",
  HELD: "#ff9f0a",
  BOOKED: "#ff3b30",
  BLOCKED: "#8e8e93",
  MINE: "#0a84ff",
} as const;
const KIND_MARK: Record<string, string> = { PREMIUM: "P", ACCESSIBLE: "♿", COUPLE: "C", STANDARD: "" };
const STATE_WORD: Record<string, string> = {
  AVAILABLE: "available",
  HELD: "held by someone else",
  BOOKED: "sold",
  BLOCKED: "not on sale",
};
const SIZE = 26;
const GAP = 6;
const LEFT = 28;

interface Props {
  rows: Row[];
  /** Seats the viewer holds (their lock's, or `heldByMe` in a snapshot). */
  mine: ReadonlySet<string>;
  selected: ReadonlySet<string>;
  onToggle?: (seat: Seat) => void;
  /** Choosing is off (not signed in, a hold in hand, the showing cancelled). */
  readOnly?: boolean;
}

export function SeatMap({ rows, mine, selected, onToggle, readOnly }: Props) {
  const width = Math.max(0, ...rows.flatMap((r) => r.seats.map((s) => s.column))) + 1;
  const svgWidth = LEFT + width * (SIZE + GAP);
  const svgHeight = Math.max(1, rows.length) * (SIZE + GAP);

  const keyDown = (seat: Seat) => (event: KeyboardEvent) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      onToggle?.(seat);
    }
  };

  return (
    <div className="room">
      <div className="screen" aria-hidden="true">
        screen
      </div>
      <svg
        id="room"
        role="group"
        aria-label="Seats: the screen is at the top"
        width={svgWidth}
        height={svgHeight}
        viewBox={`0 0 ${svgWidth} ${svgHeight}`}
      >
        {rows.map((row, y) => (
          <g key={row.label}>
            <text className="row" x={4} y={y * (SIZE + GAP) + SIZE * 0.65} aria-hidden="true">
              {row.label}
            </text>
            {row.seats.map((seat) => {
              const isMine = mine.has(seat.number) || seat.heldByMe;
              const isSelected = selected.has(seat.number);
              const choosable = !readOnly && seat.state === "AVAILABLE";
              const fill = isMine && seat.state === "HELD" ? COLORS.MINE : COLORS[seat.state];
              const word = isMine && seat.state === "HELD" ? "held by you" : STATE_WORD[seat.state];
              const label = `${seat.number}, ${seat.kind.toLowerCase()}, ${money(seat.price)}, ${word}`;
              const x = LEFT + seat.column * (SIZE + GAP);
              const top = y * (SIZE + GAP);
              return (
                <g key={seat.number} className={choosable ? "seat choosable" : "seat"}>
                  <rect
                    id={`seat-${seat.number}`}
                    data-state={seat.state}
                    data-kind={seat.kind}
                    data-mine={isMine && seat.state === "HELD" ? "true" : undefined}
                    data-selected={isSelected ? "true" : undefined}
                    x={x}
                    y={top}
                    width={SIZE}
                    height={SIZE}
                    rx={5}
                    fill={fill}
                    stroke={isSelected ? "#1d1d1f" : undefined}
                    strokeWidth={isSelected ? 3 : undefined}
                    role={choosable ? "checkbox" : "img"}
                    aria-checked={choosable ? isSelected : undefined}
                    aria-label={label}
                    tabIndex={choosable ? 0 : undefined}
                    onClick={choosable ? () => onToggle?.(seat) : undefined}
                    onKeyDown={choosable ? keyDown(seat) : undefined}
                  >
                    <title>{label}</title>
                  </rect>
                  <text x={x + SIZE / 2} y={top + SIZE * 0.65} textAnchor="middle" aria-hidden="true">
                    {isSelected ? "✓" : (KIND_MARK[seat.kind] ?? "")}
                  </text>
                </g>
              );
            })}
          </g>
        ))}
      </svg>
      <ul className="legend" aria-label="Colours">
        <li style={{ "--c": COLORS.AVAILABLE } as CSSProperties}>available</li>
        <li style={{ "--c": COLORS.HELD } as CSSProperties}>held</li>
        <li style={{ "--c": COLORS.BOOKED } as CSSProperties}>booked</li>
        <li style={{ "--c": COLORS.BLOCKED } as CSSProperties}>blocked</li>
        <li style={{ "--c": COLORS.MINE } as CSSProperties}>yours</li>
        <li className="selected-key">chosen (✓)</li>
      </ul>
    </div>
  );
}
