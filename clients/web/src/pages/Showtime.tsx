// A showing: the live seat map, choosing and holding seats (or the best available),
// then snacks and booking. The hold is kept in sessionStorage, so a reload (or a
// detour to sign in) keeps it until it lapses.

import { useMutation, useQuery } from "@apollo/client/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { SeatMap } from "../components/SeatMap";
import { ErrorNotice, Loading } from "../components/Notice";
import { errorCode, money, randomKey, time, total, when } from "../format";
import { graphql } from "../gql";
import { useLiveSeatMap, type Change, type Seat } from "../liveSeatMap";
import { go, href } from "../router";

const SHOWTIME = graphql(`
  query ShowtimeDetails($id: ID!) {
    showtime(id: $id) {
      id
      startTime
      endTime
      status
      cancelReason
      onSaleAt
      basePrice { amount currency }
      movie { id title duration rating }
      screen { screenNumber theater { name timezone } }
    }
  }
`);

const SNACKS = graphql(`
  query Snacks {
    snacks { id name category description available price { amount currency } }
  }
`);

const LOCK_SEATS = graphql(`
  mutation LockSeats($input: LockSeatsInput!) {
    lockSeats(input: $input) { lockToken expiresAt lockedSeats }
  }
`);

const HOLD_BEST = graphql(`
  mutation HoldBestAvailable($input: HoldBestAvailableInput!) {
    holdBestAvailable(input: $input) { lockToken expiresAt lockedSeats }
  }
`);

const EXTEND = graphql(`
  mutation ExtendSeatLock($lockToken: String!) {
    extendSeatLock(lockToken: $lockToken) { lockToken expiresAt lockedSeats }
  }
`);

const RELEASE = graphql(`
  mutation ReleaseSeats($lockToken: String!) {
    releaseSeats(lockToken: $lockToken)
  }
`);

const CREATE_BOOKING = graphql(`
  mutation CreateBooking($input: CreateBookingInput!) {
    createBooking(input: $input) {
      paymentClientSecret
      booking { id status bookingReference finalAmount { amount currency } }
    }
  }
`);

interface Hold {
  lockToken: string;
  expiresAt: string;
  lockedSeats: string[];
  /** One per checkout, so a repeated "Book" is the same booking. */
  idempotencyKey: string;
}

const holdKey = (showtimeId: string) => `screema.hold.${showtimeId}`;

function loadHold(showtimeId: string): Hold | null {
  try {
    const hold = JSON.parse(sessionStorage.getItem(holdKey(showtimeId)) ?? "null") as Hold | null;
    return hold && Date.parse(hold.expiresAt) > Date.now() ? hold : null;
  } catch {
    return null;
  }
}

function saveHold(showtimeId: string, hold: Hold | null) {
  if (hold) sessionStorage.setItem(holdKey(showtimeId), JSON.stringify(hold));
  else sessionStorage.removeItem(holdKey(showtimeId));
}

function useNow(every = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(timer);
  }, [every]);
  return now;
}

function left(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

const STATE_SAID: Record<string, string> = {
  AVAILABLE: "free",
  HELD: "held",
  BOOKED: "sold",
  BLOCKED: "blocked",
};

export function Showtime({ id, signedIn }: { id: string; signedIn: boolean }) {
  const details = useQuery(SHOWTIME, { variables: { id } });
  const showtime = details.data?.showtime;
  const timeZone = showtime?.screen.theater.timezone;

  const [hold, setHoldState] = useState<Hold | null>(() => (signedIn ? loadHold(id) : null));
  const setHold = useCallback(
    (next: Hold | null) => {
      saveHold(id, next);
      setHoldState(next);
    },
    [id],
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [said, setSaid] = useState("");
  const [notice, setNotice] = useState("");
  // Seats this page is asking to hold: their change events are ours, not news.
  const asking = useRef<ReadonlySet<string>>(new Set());
  const holdRef = useRef(hold);
  holdRef.current = hold;

  const onEvent = useCallback(
    (changes: readonly Change[], snapshot: boolean) => {
      if (snapshot) return;
      const mine = new Set([...(holdRef.current?.lockedSeats ?? []), ...asking.current]);
      const others = changes.filter((c) => !mine.has(c.number));
      if (others.length > 0) {
        const shown = others.slice(0, 6).map((c) => `${c.number} ${STATE_SAID[c.state] ?? c.state.toLowerCase()}`);
        setSaid(`${shown.join(", ")}${others.length > 6 ? ` and ${others.length - 6} more` : ""}.`);
      }
      // Chosen seats someone else took are chosen no more.
      const taken = others.filter((c) => c.state !== "AVAILABLE").map((c) => c.number);
      if (taken.length > 0) {
        setSelected((sel) => {
          const lost = taken.filter((n) => sel.has(n));
          if (lost.length === 0) return sel;
          setNotice(`Someone else took ${lost.join(", ")}: no longer chosen.`);
          return new Set([...sel].filter((n) => !lost.includes(n)));
        });
      }
      // Our own seats coming free: the hold lapsed (or was released elsewhere).
      const current = holdRef.current;
      if (current) {
        const freed = changes.filter((c) => c.state === "AVAILABLE" && current.lockedSeats.includes(c.number));
        if (freed.length === current.lockedSeats.length) {
          setHold(null);
          setNotice("Your hold ended: the seats are back on sale.");
        }
      }
    },
    [setHold],
  );

  const live = useLiveSeatMap(id, onEvent);

  // A hold restored from storage that the server no longer knows (the first snapshot
  // of a signed-in map says which seats are ours).
  useEffect(() => {
    if (!hold || !signedIn || live.snapshots === 0) return;
    const ours = new Set(live.rows.flatMap((r) => r.seats.filter((s) => s.heldByMe).map((s) => s.number)));
    if (live.snapshots === 1 && !hold.lockedSeats.some((n) => ours.has(n))) setHold(null);
    // Only on the first snapshot: later ones happen after our own changes too.
  }, [live.snapshots]);

  const mine = useMemo(() => new Set(hold?.lockedSeats ?? []), [hold]);
  const seatsByNumber = useMemo(
    () => new Map(live.rows.flatMap((r) => r.seats.map((s) => [s.number, s] as const))),
    [live.rows],
  );

  const now = useNow();
  useEffect(() => {
    if (hold && Date.parse(hold.expiresAt) <= now) {
      setHold(null);
      setNotice("Your hold lapsed: the seats are back on sale.");
    }
  }, [hold, now, setHold]);

  useEffect(() => {
    if (showtime) document.title = `SCREEMA · ${showtime.movie.title}`;
  }, [showtime]);

  const [lockSeats, locking] = useMutation(LOCK_SEATS);
  const [holdBest, holdingBest] = useMutation(HOLD_BEST);
  const [extend, extending] = useMutation(EXTEND);
  const [release, releasing] = useMutation(RELEASE);
  const [bestCount, setBestCount] = useState(2);
  const [holdError, setHoldError] = useState<unknown>(null);

  const cancelled = showtime?.status === "CANCELLED";
  const started = showtime ? Date.parse(showtime.startTime) <= now : false;
  const onSale = !cancelled && !started && live.status !== "ended";
  const canChoose = signedIn && !hold && onSale;

  const toggle = (seat: Seat) => {
    setNotice("");
    setSelected((sel) => {
      const next = new Set(sel);
      if (next.has(seat.number)) next.delete(seat.number);
      else next.add(seat.number);
      return next;
    });
  };

  const holdChosen = async () => {
    const seatNumbers = [...selected];
    asking.current = new Set(seatNumbers);
    setHoldError(null);
    try {
      const result = await lockSeats({ variables: { input: { showtimeId: id, seatNumbers } } });
      const lock = result.data?.lockSeats;
      if (lock) {
        setHold({ ...lock, lockedSeats: [...lock.lockedSeats], idempotencyKey: randomKey() });
        setSelected(new Set());
        setSaid(`Held for you: ${lock.lockedSeats.join(", ")}.`);
      }
    } catch (error) {
      setHoldError(error);
    } finally {
      asking.current = new Set();
    }
  };

  const holdBestAvailable = async () => {
    setHoldError(null);
    try {
      const result = await holdBest({ variables: { input: { showtimeId: id, count: bestCount } } });
      const lock = result.data?.holdBestAvailable;
      if (lock) {
        setHold({ ...lock, lockedSeats: [...lock.lockedSeats], idempotencyKey: randomKey() });
        setSelected(new Set());
        setSaid(`Held for you: ${lock.lockedSeats.join(", ")}.`);
      }
    } catch (error) {
      setHoldError(error);
    }
  };

  const extendHold = async () => {
    if (!hold) return;
    setHoldError(null);
    try {
      const result = await extend({ variables: { lockToken: hold.lockToken } });
      const lock = result.data?.extendSeatLock;
      if (lock) setHold({ ...hold, expiresAt: lock.expiresAt });
    } catch (error) {
      setHoldError(error);
      if (errorCode(error) === "LOCK_EXPIRED") setHold(null);
    }
  };

  const releaseHold = async () => {
    if (!hold) return;
    setHoldError(null);
    try {
      await release({ variables: { lockToken: hold.lockToken } });
    } catch {
      // Gone already: nothing to give back.
    }
    setHold(null);
    setSaid("Your seats are back on sale.");
  };

  if (details.loading && !details.data) return <Loading />;
  if (!showtime) {
    return (
      <>
        <h1>Showing not found</h1>
        <ErrorNotice error={details.error} />
        <p>
          <a href={href.films()}>See the films</a>
        </p>
      </>
    );
  }

  const currency = showtime.basePrice.currency;
  const chosenPrice = total(
    [...selected].map((n) => ({ amount: seatsByNumber.get(n)?.price.amount ?? "0" })),
    currency,
  );

  return (
    <>
      <p className="crumbs">
        <a href={href.films()}>Films</a> ›
      </p>
      <h1 id="showtime-title">
        {showtime.movie.title} · {when(showtime.startTime, timeZone)}
      </h1>
      <p className="muted">
        {showtime.screen.theater.name} · screen {showtime.screen.screenNumber} · {showtime.movie.duration} min
        {showtime.movie.rating ? ` · ${showtime.movie.rating}` : ""} · seats from {money(showtime.basePrice)}
      </p>
      {cancelled && (
        <p className="notice error" role="alert" id="cancelled">
          This showing is cancelled: {showtime.cancelReason ?? "no reason given"}
        </p>
      )}

      <section aria-labelledby="seats-heading" className="panel">
        <div className="bar">
          <h2 id="seats-heading">Seats</h2>
          <span id="count">
            {cancelled
              ? "no longer on sale"
              : live.available === null
                ? "…"
                : `${live.available} seats available`}
          </span>
          <span id="live-status" className="muted" data-status={live.status}>
            {live.status === "live" ? "live" : live.status === "connecting" ? "connecting…" : live.status === "ended" ? "ended" : (live.error ?? "error")}
          </span>
        </div>
        {/* What others do to the map, read out as it happens. */}
        <p id="announce" className="announce" aria-live="polite" aria-atomic="true">
          {said}
        </p>
        {live.snapshots > 1 && (
          <p className="notice" role="status">
            The map was brought up to date from a fresh snapshot.
          </p>
        )}
        {live.rows.length > 0 ? (
          <SeatMap rows={live.rows} mine={mine} selected={selected} onToggle={toggle} readOnly={!canChoose} />
        ) : (
          <Loading>Connecting to the live seat map…</Loading>
        )}
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <ErrorNotice error={holdError} id="hold-error" />

        {!signedIn && onSale && (
          <p>
            <a className="button" href={href.signin(href.showtime(id))}>
              Sign in to choose seats
            </a>{" "}
            or <a href={href.register(href.showtime(id))}>register</a>.
          </p>
        )}

        {canChoose && (
          <div className="choose">
            <p id="chosen" aria-live="polite">
              {selected.size === 0
                ? "Choose seats on the map, or let us pick the best ones."
                : `Chosen: ${[...selected].join(", ")} · ${money(chosenPrice)}`}
            </p>
            <div className="actions">
              <button type="button" id="hold" onClick={holdChosen} disabled={selected.size === 0 || locking.loading}>
                {locking.loading
                  ? "Holding…"
                  : selected.size === 0
                    ? "Hold seats"
                    : `Hold ${selected.size} seat${selected.size === 1 ? "" : "s"}`}
              </button>
              {selected.size > 0 && (
                <button type="button" className="secondary" onClick={() => setSelected(new Set())}>
                  Clear
                </button>
              )}
            </div>
            <form
              className="best"
              onSubmit={(e) => {
                e.preventDefault();
                void holdBestAvailable();
              }}
            >
              <label htmlFor="best-count">Or the best seats together, how many?</label>
              <input
                id="best-count"
                type="number"
                min={1}
                max={10}
                value={bestCount}
                onChange={(e) => setBestCount(Math.max(1, Math.min(10, Number(e.target.value) || 1)))}
              />
              <button type="submit" className="secondary" disabled={holdingBest.loading}>
                {holdingBest.loading ? "Finding…" : "Hold the best available"}
              </button>
            </form>
          </div>
        )}
      </section>

      {hold && (
        <>
          <section aria-labelledby="hold-heading" className="panel" id="hold-panel">
            <h2 id="hold-heading">Your seats</h2>
            <p>
              <strong id="held-seats">{hold.lockedSeats.join(", ")}</strong> held for you until{" "}
              {time(hold.expiresAt)} (
              <span id="hold-left" role="timer" aria-live="off">
                {left(Date.parse(hold.expiresAt) - now)}
              </span>{" "}
              left).
            </p>
            <div className="actions">
              <button type="button" className="secondary" onClick={extendHold} disabled={extending.loading}>
                Keep them longer
              </button>
              <button type="button" className="secondary" onClick={releaseHold} disabled={releasing.loading}>
                Give them back
              </button>
            </div>
          </section>
          <Checkout showtimeId={id} hold={hold} onBooked={() => setHold(null)} seatsByNumber={seatsByNumber} />
        </>
      )}
    </>
  );
}

function Checkout({
  showtimeId,
  hold,
  onBooked,
  seatsByNumber,
}: {
  showtimeId: string;
  hold: Hold;
  onBooked: () => void;
  seatsByNumber: ReadonlyMap<string, Seat>;
}) {
  const snacks = useQuery(SNACKS);
  const [quantities, setQuantities] = useState<Record<string, number>>({});
  const [voucher, setVoucher] = useState("");
  const [createBooking, creating] = useMutation(CREATE_BOOKING);
  const [error, setError] = useState<unknown>(null);

  const available = (snacks.data?.snacks ?? []).filter((s) => s.available);
  const currency = [...seatsByNumber.values()][0]?.price.currency ?? available[0]?.price.currency ?? "USD";
  const seatItems = hold.lockedSeats.map((n) => ({ amount: seatsByNumber.get(n)?.price.amount ?? "0" }));
  const snackItems = available.map((s) => ({ amount: s.price.amount, times: quantities[s.id] ?? 0 }));
  const seatsTotal = total(seatItems, currency);
  const snacksTotal = total(snackItems, currency);
  const both = total([...seatItems, ...snackItems], currency);

  const book = async () => {
    setError(null);
    try {
      const result = await createBooking({
        variables: {
          input: {
            showtimeId,
            lockToken: hold.lockToken,
            seatNumbers: hold.lockedSeats,
            snacks: Object.entries(quantities)
              .filter(([, q]) => q > 0)
              .map(([snackId, quantity]) => ({ snackId, quantity })),
            voucherCode: voucher.trim() || null,
            idempotencyKey: hold.idempotencyKey,
          },
        },
      });
      const booking = result.data?.createBooking.booking;
      if (booking) {
        onBooked();
        go(href.booking(booking.id));
      }
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="snacks-heading" className="panel" id="checkout">
      <h2 id="snacks-heading">Snacks</h2>
      {snacks.loading && !snacks.data && <Loading />}
      {available.length === 0 && snacks.data && <p className="muted">No snacks on sale.</p>}
      <ul className="snacks">
        {available.map((snack) => (
          <li key={snack.id}>
            <label htmlFor={`snack-${snack.id}`}>
              {snack.name} <span className="muted">({money(snack.price)})</span>
            </label>
            <input
              id={`snack-${snack.id}`}
              data-snack={snack.name}
              type="number"
              min={0}
              max={20}
              inputMode="numeric"
              value={quantities[snack.id] ?? 0}
              onChange={(e) =>
                setQuantities((q) => ({ ...q, [snack.id]: Math.max(0, Math.min(20, Number(e.target.value) || 0)) }))
              }
            />
          </li>
        ))}
      </ul>
      <h2>Book</h2>
      <p>
        <label htmlFor="voucher">Voucher code (optional)</label>{" "}
        <input id="voucher" value={voucher} onChange={(e) => setVoucher(e.target.value)} autoComplete="off" />
      </p>
      <p id="estimate">
        Seats {money(seatsTotal)} + snacks {money(snacksTotal)} = <strong>{money(both)}</strong>{" "}
        <span className="muted">before any discount</span>
      </p>
      <ErrorNotice error={error} id="book-error" />
      <button type="button" id="book" onClick={book} disabled={creating.loading}>
        {creating.loading ? "Booking…" : "Book and pay"}
      </button>
    </section>
  );
}
