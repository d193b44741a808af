// The showtime's seat map, live, from the `seatMap` subscription: the first event
// is the whole map, each later one the next version's changes. As the server's own
// page (assets/seatmap/index.html) does it: a snapshot replaces the map; a change
// applies only at the version after the one drawn; a gap means subscribing again,
// which brings a fresh snapshot. The websocket's reconnections are graphql-ws's
// (they subscribe again, and the first event after one is a snapshot).

import { useApolloClient } from "@apollo/client/react";
import { useEffect, useRef, useState } from "react";
import { graphql } from "./gql";
import type { LiveSeatMapSubscription } from "./gql/graphql";

const LIVE_SEAT_MAP = graphql(`
  subscription LiveSeatMap($showtimeId: ID!, $since: SeatMapCursorInput) {
    seatMap(showtimeId: $showtimeId, since: $since) {
      version
      epoch
      availableSeats
      changes { number state }
      snapshot {
        version
        rows { label seats { number kind state column heldByMe price { amount currency } } }
      }
    }
  }
`);

type Event = LiveSeatMapSubscription["seatMap"];
export type Row = NonNullable<Event["snapshot"]>["rows"][number];
export type Seat = Row["seats"][number];
export type Change = Event["changes"][number];

export interface LiveSeatMap {
  rows: Row[];
  version: number | null;
  epoch: string | null;
  available: number | null;
  /** Snapshots drawn; more than one means the map was redrawn after a gap or a reconnection. */
  snapshots: number;
  status: "connecting" | "live" | "ended" | "error";
  error: string | null;
}

const EMPTY: LiveSeatMap = {
  rows: [],
  version: null,
  epoch: null,
  available: null,
  snapshots: 0,
  status: "connecting",
  error: null,
};

function applyChanges(rows: Row[], changes: readonly Change[]): Row[] {
  const byNumber = new Map(changes.map((c) => [c.number, c.state]));
  return rows.map((row) =>
    row.seats.some((s) => byNumber.has(s.number))
      ? {
          ...row,
          seats: row.seats.map((s) => {
            const state = byNumber.get(s.number);
            // A seat that changes is no longer known to be ours: the caller knows its own holds.
            return state ? { ...s, state, heldByMe: false } : s;
          }),
        }
      : row,
  );
}

/**
 * `onEvent` hears each event once it is applied: a snapshot (`changes` empty) or the
 * changes of one version, so the page can say what changed.
 */
export function useLiveSeatMap(
  showtimeId: string,
  onEvent?: (changes: readonly Change[], snapshot: boolean) => void,
): LiveSeatMap {
  const client = useApolloClient();
  const [map, setMap] = useState<LiveSeatMap>(EMPTY);
  const listener = useRef(onEvent);
  listener.current = onEvent;

  useEffect(() => {
    let version: number | null = null;
    let subscription: { unsubscribe(): void } | null = null;
    let stopped = false;
    setMap(EMPTY);

    const subscribe = () => {
      subscription?.unsubscribe();
      version = null;
      subscription = client
        .subscribe({ query: LIVE_SEAT_MAP, variables: { showtimeId, since: null } })
        .subscribe({
          next: (result) => {
            if (stopped) return;
            if (result.error) {
              setMap((m) => ({ ...m, status: "error", error: result.error?.message ?? "error" }));
              return;
            }
            const event = result.data?.seatMap;
            if (!event) return;
            if (event.snapshot) {
              const snapshot = event.snapshot;
              setMap((m) => ({
                rows: snapshot.rows,
                version: event.version,
                epoch: event.epoch,
                available: event.availableSeats,
                snapshots: m.snapshots + 1,
                status: "live",
                error: null,
              }));
              version = event.version;
              listener.current?.([], true);
            } else if (version === null || event.version !== version + 1) {
              // A gap (or changes replayed from before what is drawn): start again.
              subscribe();
            } else {
              version = event.version;
              setMap((m) => ({
                ...m,
                rows: applyChanges(m.rows, event.changes),
                version: event.version,
                epoch: event.epoch,
                available: event.availableSeats,
                status: "live",
              }));
              listener.current?.(event.changes, false);
            }
          },
          error: (error: unknown) => {
            if (stopped) return;
            setMap((m) => ({
              ...m,
              status: "error",
              error: error instanceof Error ? error.message : String(error),
            }));
            // Try again in a while (a server restarting, a showtime not found…).
            setTimeout(() => !stopped && subscribe(), 3000);
          },
          complete: () => {
            // The server completes the map soon after the showtime ends.
            if (!stopped) setMap((m) => ({ ...m, status: "ended" }));
          },
        });
    };
    subscribe();
    return () => {
      stopped = true;
      subscription?.unsubscribe();
    };
  }, [client, showtimeId]);

  return map;
}
