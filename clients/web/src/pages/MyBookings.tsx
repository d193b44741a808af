import { useQuery } from "@apollo/client/react";
import { useEffect } from "react";
import { ErrorNotice, Loading } from "../components/Notice";
import { money, when } from "../format";
import { graphql } from "../gql";
import { href } from "../router";

const MY_BOOKINGS = graphql(`
  query MyBookings {
    myBookings {
      id
      bookingReference
      status
      seatNumbers
      finalAmount { amount currency }
      showtime { id startTime movie { title } screen { theater { name timezone } } }
    }
  }
`);

const STATUS_SAID: Record<string, string> = {
  PENDING: "waiting for payment",
  CONFIRMED: "paid",
  USED: "checked in",
  CANCELLED: "cancelled",
  EXPIRED: "expired unpaid",
};

export function MyBookings() {
  const { data, loading, error } = useQuery(MY_BOOKINGS, { fetchPolicy: "cache-and-network" });
  useEffect(() => {
    document.title = "SCREEMA · my bookings";
  }, []);
  const bookings = data?.myBookings ?? [];
  return (
    <>
      <h1>My bookings</h1>
      {loading && !data && <Loading />}
      <ErrorNotice error={!data ? error : undefined} />
      {data && bookings.length === 0 && (
        <p>
          No bookings yet. <a href={href.films()}>See what is showing</a>.
        </p>
      )}
      <ul className="bookings" id="bookings">
        {bookings.map((b) => (
          <li key={b.id} data-status={b.status}>
            <a href={href.booking(b.id)}>
              <strong>{b.showtime.movie.title}</strong> · {when(b.showtime.startTime, b.showtime.screen.theater.timezone)}
            </a>
            <span className="muted">
              {b.bookingReference} · seats {b.seatNumbers.join(", ")} · {money(b.finalAmount)} ·{" "}
              {STATUS_SAID[b.status] ?? b.status}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}
